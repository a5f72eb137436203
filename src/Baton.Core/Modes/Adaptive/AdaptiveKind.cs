using System.Globalization;
using Baton.Configuration;
using Baton.Modes.Handoff;
using Baton.Modes.Handoff.Router;
using Baton.Modes.Relay;
using Baton.Routing;
using Microsoft.Extensions.Configuration;

namespace Baton.Modes.Adaptive;

/// <summary>
/// <c>adaptive</c>: per request, relay or hand-off, whichever costs the router less for the response
/// size learned from earlier responses. A destination is both an HTTP origin (<c>Address</c>) and an
/// agent (<c>Agent</c>); the cluster's <c>HandoffAbove</c> sets the size (<see cref="AdaptiveOptions"/>).
/// </summary>
public sealed class AdaptiveKind : TransferMode
{
    /// <summary>The one instance.</summary>
    public static AdaptiveKind Instance { get; } = new();

    private AdaptiveKind() { }

    /// <inheritdoc />
    public override string Name => "adaptive";

    /// <inheritdoc />
    public override NodeNeeds Needs => NodeNeeds.AgentLinks;

    /// <inheritdoc />
    public override bool HasOrigin => true;

    /// <inheritdoc />
    public override IReadOnlyList<(string Key, string OnlyHere)> OwnClusterKeys { get; } =
        [("HandoffAbove", "only an adaptive cluster (Transfer: adaptive) chooses by response size")];

    internal override Destination? ReadDestination(IConfigurationSection d, ConfigReader r) =>
        (r.HttpUrl(d, "Address", "an adaptive destination's Address is the HTTP/1.1 origin it relays to"),
         r.Endpoint(d, "Agent", "the agent on the same back-end that takes hand-offs")) is ({ } origin, { } agent)
            ? new Destination(d.Key, Url: origin, ControlEndpoint: agent)
            : null;

    internal override object ReadClusterSettings(IConfigurationSection cluster, ConfigReader r)
    {
        var text = cluster["HandoffAbove"];
        if (text is null) return AdaptiveOptions.Default;
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var bytes) && bytes >= 0)
            return new AdaptiveOptions(bytes);
        r.Error($"{cluster.Path}:HandoffAbove", $"'{text}' is not a size in bytes (0 hands off every request whose size is known)");
        return AdaptiveOptions.Default;
    }

    internal override ITransferMode Start(ModeStart start) =>
        new AdaptiveMode(start.Started<HandoffMode>(HandoffKind.Instance), start.Started<RelayMode>(RelayKind.Instance));
}
