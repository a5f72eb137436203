using Baton.Http;

namespace Baton.Modes.Local.Router;

/// <summary>
/// A destination reached by passing the socket's descriptor to the worker process registered
/// under <see cref="Name"/> on this host; it comes back the same way.
/// </summary>
internal sealed class LocalTarget(string name, WorkerRegistry registry, LocalTransfer transfer) : ITransferTarget
{
    public string Name => name;

    public bool IsHealthy => registry.TryGet(name, out _);

    public async Task<TransactionOutcome> ServeAsync(ClientConnection connection, RequestHead head, CancellationToken ct)
    {
        if (!registry.TryGet(name, out var worker))
            return new TransactionOutcome.NotServed(503, $"worker {name} is not registered");
        var input = connection.Input;
        input.PutBack(head.Length); // the worker reads the request itself, whole
        var outcome = await transfer.TransferAsync(connection.Socket, input.Unread.ToArray(), worker, ct).ConfigureAwait(false);
        switch (outcome)
        {
            case TransferOutcome.Returned { Socket: LocalSocket back }:
                // Bytes the worker read past its request (pipelining) come first.
                connection.Replace(back, back.Unread.Span);
                return new TransactionOutcome.Back();
            case TransferOutcome.NotMoved notMoved:
                input.Consume(head.Length);
                // The socket never reached the worker's application.
                return new TransactionOutcome.NotServed(502, $"destination {name} failed: {notMoved.Failure.Detail}", Untouched: true);
            default:
                return new TransactionOutcome.Ended();
        }
    }
}
