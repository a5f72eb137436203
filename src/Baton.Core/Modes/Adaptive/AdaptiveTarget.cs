using Baton.Http;
using Baton.Metrics;

namespace Baton.Modes.Adaptive;

/// <summary>
/// A destination reachable both ways: an agent that takes hand-offs and an HTTP origin that the
/// router can relay to, serving the same content. Each request goes the cheaper way for its
/// expected response size (<see cref="ResponseSizeHints"/>): a hand-off costs the router a fixed
/// amount per request, a relay a little per byte, so small responses are relayed and large ones
/// handed off. A request whose size is not known yet goes the way its directory's last response
/// went, and is relayed (where its size is learned) when that is not known either.
/// When one way is down the other serves everything.
/// </summary>
internal sealed class AdaptiveTarget(ITransferTarget relay, ITransferTarget handoff, ResponseSizeHints hints, AdaptiveOptions options) : ITransferTarget
{
    public string Name => relay.Name;

    public bool IsHealthy => relay.IsHealthy || handoff.IsHealthy;

    public int ConnectionsAway => handoff.ConnectionsAway;

    internal ITransferTarget Relay => relay;

    internal ITransferTarget Handoff => handoff;

    /// <summary>Which way a request with this head goes now.</summary>
    public ITransferTarget ServedBy(RequestHead head) => Choose(ResponseSizeHints.KeyOf(head));

    private ITransferTarget Choose(ResponseSizeHints.Key key)
    {
        bool large = hints.Get(key) >= options.HandoffAbove;
        if (large) return handoff.IsHealthy || !relay.IsHealthy ? handoff : relay;
        return relay.IsHealthy || !handoff.IsHealthy ? relay : handoff;
    }

    public async Task<TransactionOutcome> ServeAsync(ClientConnection connection, RequestHead head, CancellationToken ct)
    {
        var key = ResponseSizeHints.KeyOf(head); // before serving: the head may not outlive the transaction
        var target = Choose(key);
        BatonMetrics.AdaptiveChoices.Add(1, new KeyValuePair<string, object?>("transfer", ReferenceEquals(target, handoff) ? "handoff" : "relay"));
        var outcome = await target.ServeAsync(connection, head, ct).ConfigureAwait(false);
        if (outcome is TransactionOutcome.Back { ResponseBytes: >= 0 and var bytes }) hints.Record(key, bytes);
        return outcome;
    }
}
