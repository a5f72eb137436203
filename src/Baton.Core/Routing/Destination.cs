namespace Baton.Routing;

/// <summary>
/// A back-end destination by name. A handoff destination is an agent at <paramref name="ControlEndpoint"/>;
/// a relay destination an HTTP server at <paramref name="Url"/>; a local one a worker process that
/// registers under the name, so it needs neither. <paramref name="Health"/> is YARP's separate health
/// address, where active probes go; <paramref name="Metadata"/> is kept as configured.
/// </summary>
public sealed record Destination(string Name, System.Net.IPEndPoint? ControlEndpoint = null, Uri? Url = null,
    Uri? Health = null, IReadOnlyDictionary<string, string>? Metadata = null)
{
    /// <summary>The address as configured, for messages.</summary>
    public string Address => ControlEndpoint?.ToString() ?? Url?.ToString() ?? "(worker)";

    /// <summary>Whether <paramref name="other"/> reaches the same back-end the same way (metadata aside).</summary>
    public bool SameBackend(Destination other) =>
        Name == other.Name && Equals(ControlEndpoint, other.ControlEndpoint) && Url == other.Url && Health == other.Health;
}
