using Baton.Http;

namespace Baton.Modes.Handoff.Router;

/// <summary>
/// A destination reached by moving the live TCP connection to an agent's host (TCP_REPAIR and
/// steering) for the transaction; it comes back as a new socket.
/// </summary>
internal sealed class HandoffTarget(AgentLink link, HandoffTransfer transfer) : ITransferTarget
{
    public string Name => link.Name;

    public bool IsHealthy => link.IsHealthy;

    public int ConnectionsAway => link.ActiveConnections;

    internal AgentLink Link => link;

    public async Task<TransactionOutcome> ServeAsync(ClientConnection connection, RequestHead head, CancellationToken ct)
    {
        var input = connection.Input;
        input.PutBack(head.Length); // the request travels whole, in the moved socket's receive queue
        var outcome = await transfer.TransferAsync(connection.Socket, input.Unread.ToArray(), link, ct,
            connection.NextRequests is { } router ? (router, this) : null).ConfigureAwait(false);
        switch (outcome)
        {
            case TransferOutcome.Returned back:
                // Whatever the client sent meanwhile is in the restored socket's receive queue.
                connection.Replace(back.Socket);
                return new TransactionOutcome.Back(back.SentBytes);
            case TransferOutcome.NotMoved notMoved:
                // Restored from the snapshot at the router: the bytes read before the hand-off
                // (this head first) are still ours, in front of what the new socket holds.
                if (notMoved.Restored is { } restored) connection.Replace(restored, input.Unread.ToArray());
                connection.Input.Consume(head.Length);
                // The agent never went live with it (no Go): no application saw the request.
                return new TransactionOutcome.NotServed(502, $"destination {link.Name} failed: {notMoved.Failure.Detail}", Untouched: true);
            default:
                return new TransactionOutcome.Ended();
        }
    }
}
