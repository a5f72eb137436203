using System.Diagnostics.Metrics;

namespace Baton.Metrics;

/// <summary>
/// Baton's instruments, on the <c>Baton</c> meter (System.Diagnostics.Metrics), so any listener
/// sees them: <c>dotnet-counters monitor -n baton --counters Baton</c>, or an OpenTelemetry exporter.
/// </summary>
public static class BatonMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Baton";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Requests the router routed, tagged with cluster and outcome (handoff, router, 404, 503, 502, 4xx).</summary>
    public static readonly Counter<long> Requests = Meter.CreateCounter<long>("baton.router.requests", description: "Requests routed");

    /// <summary>Router time from block to Go, per hand-off.</summary>
    public static readonly Histogram<double> HandoffDuration = Meter.CreateHistogram<double>("baton.handoff.duration", "us", "Router time of one hand-off");

    /// <summary>Router time from ReturnRequest to the socket live again, per return.</summary>
    public static readonly Histogram<double> ReturnDuration = Meter.CreateHistogram<double>("baton.return.duration", "us", "Router time of one return");

    /// <summary>Hand-offs that did not happen (agent refused, timed out or vanished); the router kept the connection.</summary>
    public static readonly Counter<long> HandoffFailures = Meter.CreateCounter<long>("baton.handoff.failures", description: "Hand-offs not completed");

    /// <summary>Returns the router could not restore; the agent closed the connection (or, without a link, it was lost).</summary>
    public static readonly Counter<long> ReturnFailures = Meter.CreateCounter<long>("baton.return.failures", description: "Returns not restored at the router");

    /// <summary>Requests an agent served on a connection it already held (same-target shortcut): no return, no hand-off.</summary>
    public static readonly Counter<long> Stays = Meter.CreateCounter<long>("baton.handoff.stays", description: "Next requests served where the connection already was");

    /// <summary>Connections moved from one agent straight to the next (no return to the router in between).</summary>
    public static readonly Counter<long> Passes = Meter.CreateCounter<long>("baton.handoff.passes", description: "Connections moved from one agent straight to the next one");

    /// <summary>Requests sent to another destination of their cluster because the first never took them (tagged by cluster).</summary>
    public static readonly Counter<long> Retries = Meter.CreateCounter<long>("baton.router.retries", description: "Requests no application saw, sent to another destination");

    /// <summary>Connections currently away at agents.</summary>
    public static readonly UpDownCounter<long> ConnectionsAway = Meter.CreateUpDownCounter<long>("baton.connections.away", description: "Connections owned by agents right now");

    /// <summary>Connections the relay opened to origins (a high rate next to <see cref="RelayConnectionsReused"/> means the pool is not keeping them).</summary>
    public static readonly Counter<long> RelayConnectionsOpened = Meter.CreateCounter<long>("baton.relay.connections.opened", description: "Upstream connections opened by the relay");

    /// <summary>Requests the relay sent over a pooled keep-alive connection.</summary>
    public static readonly Counter<long> RelayConnectionsReused = Meter.CreateCounter<long>("baton.relay.connections.reused", description: "Upstream connections reused from the pool");

    /// <summary>Requests of adaptive clusters, tagged with the way each went (relay or handoff).</summary>
    public static readonly Counter<long> AdaptiveChoices = Meter.CreateCounter<long>("baton.adaptive.choices", description: "Adaptive cluster requests by transfer chosen");

    /// <summary>Requests the relay sent again on a fresh connection (connect failure, or a pooled connection found closed).</summary>
    public static readonly Counter<long> RelayRetries = Meter.CreateCounter<long>("baton.relay.retries", description: "Relay requests retried on a fresh connection");

    /// <summary>Frames of connections frozen in transit that the hold queue kept (eBPF steering with <c>Baton:HoldQueue</c>).</summary>
    public static readonly Counter<long> HoldHeld = Meter.CreateCounter<long>("baton.hold.held", description: "Frames kept while their connection was frozen");

    /// <summary>Held frames sent on when their connection landed (to the back-end, or to the router's own stack).</summary>
    public static readonly Counter<long> HoldReplayed = Meter.CreateCounter<long>("baton.hold.replayed", description: "Held frames replayed");

    /// <summary>
    /// Frames the hold queue dropped, tagged with the reason (overflow, expired, ended, not-held,
    /// oversize, unreadable, replay-failed); the client retransmits each after its RTO.
    /// </summary>
    public static readonly Counter<long> HoldDropped = Meter.CreateCounter<long>("baton.hold.dropped", description: "Frames of frozen connections dropped by the hold queue");
}
