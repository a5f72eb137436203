using System.Diagnostics;
using System.Net.Sockets;
using Baton.Interop;
using Baton.Modes.Local.Protocol;

namespace Baton.Modes.Local.Router;

/// <summary>
/// Moves a live connection to a worker process on this host by passing its descriptor over a Unix
/// socket (SCM_RIGHTS), and takes it back after one transaction. No root, no steering: the kernel
/// socket never changes, only which process holds it.
/// </summary>
public sealed class LocalTransfer
{
    private long _nextId;

    /// <summary>Per-cycle timings of every cycle that came back, when a collector is attached (<c>baton router --timings</c>).</summary>
    public Action<LocalCycleTimings>? OnCycle { get; set; }

    /// <summary>
    /// Hands <paramref name="socket"/> (with <paramref name="unread"/>, the bytes the router already
    /// read from it) to <paramref name="worker"/> and waits for it to come back. No async operation
    /// may be pending on <paramref name="socket"/> (DESIGN.md §6: disposing it then would set linger
    /// {1,0} on the shared socket). On <see cref="TransferOutcome.Returned"/> the socket is a
    /// <see cref="LocalSocket"/> whose <see cref="LocalSocket.Unread"/> bytes come first.
    /// <paramref name="ct"/> only applies until the connection has left.
    /// </summary>
    public async Task<TransferOutcome> TransferAsync(Socket socket, ReadOnlyMemory<byte> unread, WorkerLink worker, CancellationToken ct)
    {
        long started = Stopwatch.GetTimestamp();
        if (ct.IsCancellationRequested) return NotMoved(TransferError.Cancelled, "cancelled");
        if (!worker.IsHealthy) return NotMoved(TransferError.LinkDown, $"worker {worker.Name} is not connected");
        if (unread.Length > LocalChannel.MaxPayload - 8) return NotMoved(TransferError.NotMovable, $"{unread.Length} unread bytes are too many to pass");
        ulong id = (ulong)Interlocked.Increment(ref _nextId);
        var session = worker.Begin(id);
        if (session is null) return NotMoved(TransferError.LinkDown, $"worker {worker.Name} is not connected");

        ulong cookie;
        long stamped, sent;
        try
        {
            cookie = PassedSockets.Note(socket);
            stamped = Stopwatch.GetTimestamp();
            worker.Send(new Pass(stamped, unread), id, socket.SafeHandle);
            sent = Stopwatch.GetTimestamp();
        }
        catch (Exception e) when (Faults.IsKernelRefusal(e) || e is ObjectDisposedException)
        {
            worker.End(id);
            return NotMoved(TransferError.LinkDown, $"pass to worker {worker.Name} failed: {e.Message}");
        }
        // The worker has its own reference now; ours goes (nothing on the wire: the socket stays open).
        socket.Dispose();
        long released = Stopwatch.GetTimestamp();

        var back = await session.Task.ConfigureAwait(false);
        if (back is null)
        {
            PassedSockets.Forget(cookie);
            return new TransferOutcome.Ended();
        }
        if (OnCycle is { } onCycle)
        {
            onCycle(new LocalCycleTimings
            {
                Started = started,
                Stamped = stamped,
                Sent = sent,
                Released = released,
                // The worker measured its share on the same clock: it held the socket PassTicks after our stamp.
                WorkerHas = stamped + back.PassTicks,
                WorkerSent = back.SentAt,
                Received = back.ReceivedAt,
                Adopted = back.AdoptedAt,
                Resumed = Stopwatch.GetTimestamp(),
            });
        }
        return new TransferOutcome.Returned(back.Socket);
    }

    private static TransferOutcome.NotMoved NotMoved(TransferError error, string detail) => new(new TransferFailure(error, detail));
}
