using System.Net;
using Baton.Modes.Handoff.Protocol;
using Baton.Http;
using Baton.Routing;

namespace Baton.Configuration;

/// <summary>Settings of the routing node.</summary>
public sealed record RouterOptions
{
    /// <summary>The VIP and port clients connect to.</summary>
    public required IPEndPoint Listen { get; init; }

    /// <summary>The interface that carries client traffic (steering hooks its ingress); needed by handoff clusters.</summary>
    public string? Interface { get; init; }

    /// <summary>Which flow steering handoff clusters use: eBPF where it loads (default), or nftables.</summary>
    public Baton.Steering.SteeringKind Steering { get; init; } = Baton.Steering.SteeringKind.Auto;

    /// <summary>
    /// Whether eBPF steering keeps the packets of a connection frozen in transit and replays them
    /// when it lands (<c>Baton:HoldQueue</c>), instead of dropping them for the client to resend
    /// after its RTO. nftables steering has no hold queue and always drops.
    /// </summary>
    public bool HoldQueue { get; init; } = true;

    /// <summary>
    /// Whether eBPF steering forwards a connection's frames to its back-end from the interface
    /// driver's XDP hook (<c>Baton:Xdp</c>), ahead of tc: no skb, no backlog queue. Off by default
    /// until measured to pay; without a driver that takes it, tc steers every frame and the log says so.
    /// </summary>
    public bool Xdp { get; init; }

    /// <summary>The cluster key shared with the agents; needed by handoff clusters.</summary>
    public ClusterKey? Key { get; init; }

    /// <summary>The Unix socket path local workers register on; needed by local clusters.</summary>
    public string? WorkerSocket { get; init; }

    /// <summary>The uid local workers must run as (SO_PEERCRED); default: the router's own.</summary>
    public uint? WorkerUid { get; init; }

    /// <summary>A group whose members may also register as local workers.</summary>
    public uint? WorkerGid { get; init; }

    /// <summary>Routes and clusters.</summary>
    public required RouteTable Routes { get; init; }

    /// <summary>Name in Baton-Host headers of responses the router writes itself.</summary>
    public string Name { get; init; } = "router";

    /// <summary>Keep-alive idle timeout: a connection with no new request for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long an agent may take to restore a connection before the router takes it back.</summary>
    public TimeSpan HandoffTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a forward entry stays after the connection closed at an agent (its close handshake).</summary>
    public TimeSpan CloseGrace { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Whether a next request that reaches an agent before the connection is back may be served
    /// there when the router routes it there anyway (no return, no new hand-off). Off: every
    /// request comes back to the router first, as before.
    /// </summary>
    public bool SameTargetShortcut { get; init; } = true;

    /// <summary>Timeouts, pooling and passive health of relay destinations.</summary>
    public Baton.Modes.Relay.RelayOptions Relay { get; init; } = new();

    /// <summary>Where the router publishes its metrics (<c>Baton:Metrics</c>); nothing by default.</summary>
    public MetricsOptions Metrics { get; init; } = MetricsOptions.None;

    /// <summary>The admin listener (<c>Baton:Admin</c>); none by default.</summary>
    public AdminOptions Admin { get; init; } = AdminOptions.None;

    /// <summary>Limit on a request head (431 above).</summary>
    public int HeadLimit { get; init; } = RequestHeadParser.DefaultHeadLimit;

    /// <summary>The file these options came from; when set, the router reloads its routes when it changes.</summary>
    public string? ConfigFile { get; init; }

    /// <summary>
    /// What the configuration asks for that Baton does not do (YARP features it lacks, unknown keys,
    /// health checks that cannot probe); logged at start and on every reload.
    /// </summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>
    /// When set, per-cycle timings are written there as CSV at stop: hand-off cycles, or local cycles
    /// when the router has no hand-off clusters (with both, local cycles go to
    /// <see cref="ModeRegistry.TimingsFileOf"/>).
    /// </summary>
    public string? TimingsFile { get; init; }
}
