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

    /// <summary>
    /// Requests the router routed, tagged with cluster, destination (none for what the router
    /// answered itself) and outcome: the transfer that served it (handoff, relay, local), router,
    /// or the status the router answered (404, 503, 502, 4xx).
    /// </summary>
    public static readonly Counter<long> Requests = Meter.CreateCounter<long>("baton.router.requests", description: "Requests routed");

    // Hand-offs and returns take 100-500 µs on the namespace cluster (bench/results/handoff.md) and
    // ms under load; OpenTelemetry's default buckets (0-10,000) would put most in two buckets.
    private static readonly InstrumentAdvice<double> MicrosecondBuckets = new() { HistogramBucketBoundaries = [25, 50, 100, 200, 400, 800, 1_600, 3_200, 10_000, 50_000, 200_000, 1_000_000] };

    /// <summary>Router time from block to Go, per hand-off.</summary>
    public static readonly Histogram<double> HandoffDuration = Meter.CreateHistogram("baton.handoff.duration", "us", "Router time of one hand-off", advice: MicrosecondBuckets);

    /// <summary>Router time from ReturnRequest to the socket live again, per return.</summary>
    public static readonly Histogram<double> ReturnDuration = Meter.CreateHistogram("baton.return.duration", "us", "Router time of one return", advice: MicrosecondBuckets);

    /// <summary>
    /// Time from the router's decision to the connection back at the router (or closed), per
    /// transaction a destination served, tagged with cluster, destination and transfer. For a
    /// hand-off this includes every request that stayed at the destination meanwhile
    /// (<see cref="Stays"/>), as the router does not see where one ends and the next begins.
    /// </summary>
    public static readonly Histogram<double> TransactionDuration = Meter.CreateHistogram("baton.router.transaction.duration", "s",
        "Time from routing to the connection back at the router", advice: new InstrumentAdvice<double>
        {
            HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        });

    /// <summary>Configuration versions the router read after it started, tagged with result (applied, rejected).</summary>
    public static readonly Counter<long> Reloads = Meter.CreateCounter<long>("baton.config.reloads", description: "Configuration reloads");

    /// <summary>Transactions an application completed on a connection handed to its agent or worker.</summary>
    public static readonly Counter<long> TransactionsServed = Meter.CreateCounter<long>("baton.application.transactions", description: "Transactions served by the application");

    /// <summary>Hand-offs an agent was asked for, tagged with result (taken, refused).</summary>
    public static readonly Counter<long> AgentHandoffs = Meter.CreateCounter<long>("baton.agent.handoffs", description: "Connections handed to this agent");

    /// <summary>Connections an agent owns right now.</summary>
    public static readonly UpDownCounter<long> AgentConnectionsHeld = Meter.CreateUpDownCounter<long>("baton.agent.connections.held", description: "Connections owned by this agent right now");

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
