using System.Net.Sockets;

namespace Baton.Transfer;

/// <summary>How a transfer of a connection to a destination ended, as the router sees it.</summary>
public abstract record TransferOutcome
{
    private TransferOutcome() { }

    /// <summary>
    /// The transaction is done and the connection is back, live, as <paramref name="Socket"/>.
    /// Bytes the client sent meanwhile (a pipelined request) are in its receive queue.
    /// </summary>
    /// <remarks><paramref name="SentBytes"/>: what the destination wrote on the connection meanwhile.</remarks>
    public sealed record Returned(Socket Socket, long SentBytes = -1) : TransferOutcome;

    /// <summary>The connection ended at the destination (client closed, or Connection: close).</summary>
    public sealed record Ended : TransferOutcome;

    /// <summary>
    /// The connection never left: the router's socket is live as before and the unread bytes are
    /// still the caller's. The caller answers the request (502) or picks another destination.
    /// </summary>
    public sealed record NotMoved(string Reason) : TransferOutcome;
}
