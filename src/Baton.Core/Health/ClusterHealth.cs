using Baton.Routing;
using Baton.Routing.LoadBalancing;
using Baton.Modes;

namespace Baton.Health;

/// <summary>
/// The health of one cluster's destinations and the cluster's available-destinations policy: the
/// set the balancer chooses from. Immutable apart from the destinations' own states; a reload
/// builds a new one and keeps the states whose settings did not change.
/// </summary>
public sealed class ClusterHealth
{
    private readonly Dictionary<string, DestinationHealth> _byName;

    /// <summary>Builds the health of <paramref name="clusterId"/> from its destinations' states, in configuration order.</summary>
    public ClusterHealth(string clusterId, HealthCheckOptions options, IReadOnlyList<DestinationHealth> destinations)
    {
        ClusterId = clusterId;
        Options = options;
        Destinations = destinations;
        _byName = destinations.ToDictionary(d => d.Name, StringComparer.Ordinal);
        Panics = AvailableDestinations.Canonical(options.AvailableDestinationsPolicy) == AvailableDestinations.HealthyOrPanic;
    }

    /// <summary>The cluster's id.</summary>
    public string ClusterId { get; }

    /// <summary>The cluster's health settings.</summary>
    public HealthCheckOptions Options { get; }

    /// <summary>One state per destination, in configuration order.</summary>
    public IReadOnlyList<DestinationHealth> Destinations { get; }

    /// <summary>Whether the policy is HealthyOrPanic.</summary>
    public bool Panics { get; }

    /// <summary>The state of destination <paramref name="name"/>, or null when the cluster does not list it.</summary>
    public DestinationHealth? this[string name] => _byName.GetValueOrDefault(name);

    /// <summary>Whether the prober has anything to do for this cluster.</summary>
    public bool IsProbed => Options.Active.Enabled && Destinations.Any(d => d.ProbeUri is not null);

    /// <summary>
    /// The health of <paramref name="cluster"/>: a destination keeps its state from <paramref name="previous"/>
    /// (the same cluster before a reload) when its probe address and thresholds are unchanged.
    /// </summary>
    public static ClusterHealth For(Cluster cluster, ClusterHealth? previous, TimeProvider time)
    {
        var options = cluster.HealthCheck ?? HealthCheckOptions.Default;
        var states = new List<DestinationHealth>(cluster.Destinations.Count);
        foreach (var d in cluster.Destinations)
        {
            var uri = ProbeUri(cluster, d);
            states.Add(previous?[d.Name] is { } kept && kept.SameSettings(uri, options.Active, options.Passive)
                ? kept
                : new DestinationHealth(d.Name, uri, options.Active, options.Passive, time));
        }
        return new ClusterHealth(cluster.Id, options, states);
    }

    /// <summary>
    /// Where active probes of <paramref name="d"/> go, as YARP builds it: the destination's <c>Health</c>
    /// address (a relay destination's <c>Address</c> when it has none), its path followed by the
    /// cluster's <c>Path</c> and <c>Query</c>. Null when active checks are off or there is no HTTP address
    /// (handoff and local destinations without <c>Health</c>).
    /// </summary>
    public static Uri? ProbeUri(Cluster cluster, Destination d)
    {
        var active = (cluster.HealthCheck ?? HealthCheckOptions.Default).Active;
        if (!active.Enabled) return null;
        var address = d.Health ?? (cluster.Transfer.HasOrigin ? d.Url : null);
        if (address is null) return null;
        var path = active.Path.Length == 0 ? address.AbsolutePath : address.AbsolutePath.TrimEnd('/') + active.Path;
        if (path.Length == 0) path = "/";
        var query = active.Query.Length == 0 || active.Query.StartsWith('?') ? active.Query : "?" + active.Query;
        return new UriBuilder(address.Scheme, address.Host, address.Port, path, query).Uri;
    }
}
