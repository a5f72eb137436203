using Baton.Http;

namespace Baton.Modes;

/// <summary>
/// One destination, reached through one of the transfer modes (<see cref="ITransferMode"/>). The
/// router chooses the destination and calls <see cref="ServeAsync"/>; it never branches on the mode.
/// </summary>
public interface ITransferTarget
{
    /// <summary>The destination's name in the configuration.</summary>
    string Name { get; }

    /// <summary>Whether the destination can take a transaction now (link up, worker registered, origin not failing).</summary>
    bool IsHealthy { get; }

    /// <summary>
    /// Has the request whose <paramref name="head"/> was just read from <paramref name="connection"/>
    /// served at this destination. On entry the head has been consumed from
    /// <see cref="ClientConnection.Input"/> and its body (if any) has not. The router refills
    /// <paramref name="head"/> with the connection's next request: use it until the returned task
    /// completes, or keep <see cref="RequestHead.Detach"/>'s copy.
    /// </summary>
    Task<TransactionOutcome> ServeAsync(ClientConnection connection, RequestHead head, CancellationToken ct);

    /// <summary>
    /// The target that would serve a request with <paramref name="head"/> now: this one, or, for a
    /// target that chooses per request (adaptive), the one it would choose. The router asks it to
    /// know whether a next request would be served where its connection already is.
    /// </summary>
    ITransferTarget ServedBy(RequestHead head) => this;

    /// <summary>
    /// Client connections the destination owns now or that are moving to it (a hand-off's agent);
    /// 0 where connections never leave the router's process (relay) or do not come back (local).
    /// A drain is over when this is 0 as well as the destination's load: a connection leaving on a
    /// pass has left the load before it has left the agent.
    /// </summary>
    int ConnectionsAway => 0;
}

/// <summary>How one transaction at a destination ended, as the router sees it.</summary>
public abstract record TransactionOutcome
{
    private TransactionOutcome() { }

    /// <summary>
    /// The response was sent; the connection is at the router again, its input positioned at the
    /// next request. <paramref name="ResponseBytes"/>: how many bytes the response took on the
    /// connection (head and body), or -1 when the mechanism does not know.
    /// </summary>
    public sealed record Back(long ResponseBytes = -1) : TransactionOutcome;

    /// <summary>The connection ended (the client or the destination closed it); the router has nothing left to do.</summary>
    public sealed record Ended : TransactionOutcome;

    /// <summary>
    /// Nothing reached the client and the request is still unread after its head (body untouched):
    /// the router answers <paramref name="Status"/> itself.
    /// </summary>
    /// <remarks>
    /// <paramref name="Reason"/> is for the log and may carry internal detail (an exception's
    /// message); the client sees only <paramref name="ClientDetail"/>, a fixed phrase, or without
    /// one a generic line naming the destination. <paramref name="Untouched"/>: the request reached
    /// no application (a hand-off or pass the destination never took), so the router may send it
    /// to another destination, whatever its method.
    /// </remarks>
    public sealed record NotServed(int Status, string Reason, string? ClientDetail = null, bool Untouched = false) : TransactionOutcome
    {
        /// <summary>What the client's error body says about <paramref name="destination"/>: no internal detail.</summary>
        public string ClientText(string destination) => ClientDetail ?? $"destination {destination} could not serve the request";
    }
}
