using System.Net.Sockets;

namespace Baton.Modes;

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
    /// The connection never left: it is live at the router and the unread bytes are still the
    /// caller's. The caller answers the request (502) or picks another destination.
    /// </summary>
    /// <remarks>
    /// <paramref name="Restored"/>: the connection's socket now, when it is not the one the caller
    /// gave (a hand-off closes the router's copy at the dump and restores it from the snapshot
    /// when the agent does not take it); null when the caller's socket is still the connection.
    /// Its receive queue holds what the kernel held at the dump, not the unread bytes.
    /// </remarks>
    public sealed record NotMoved(TransferFailure Failure, Socket? Restored = null) : TransferOutcome;
}
