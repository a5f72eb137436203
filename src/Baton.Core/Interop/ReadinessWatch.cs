using System.Collections.Concurrent;
using System.Net.Sockets;

namespace Baton.Interop;

/// <summary>
/// Awaits a socket becoming readable or writable, for code that moves bytes with calls .NET's
/// socket engine does not make (splice(2)): one <see cref="PollLoop"/> thread for the process, the
/// continuation on the thread pool. A wait on a thread-pool thread of its own (poll(2) there) would
/// starve the pool with a few dozen transfers (<see cref="Modes.Handoff.Agent.DeliveryWatch"/>).
/// </summary>
internal sealed class ReadinessWatch : IDisposable
{
    private static readonly Lazy<ReadinessWatch> LazyShared = new(() => new ReadinessWatch());

    private readonly ConcurrentQueue<Waiter> _added = new();
    private readonly List<Waiter> _waiting = [];
    private readonly PollLoop _loop;

    private sealed class Waiter(Socket socket, short events)
    {
        // Only poll(2) reads this number, unleased (see DeliveryWatch): a socket closed meanwhile
        // reports POLLNVAL or another file's events, and the caller's next leased call says so.
        public readonly int Fd = (int)socket.Handle;
        public readonly short Events = events;
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private ReadinessWatch() => _loop = new PollLoop("baton readiness", Prepare, Turn, Stopped);

    /// <summary>The process's one watch (its thread starts at the first use).</summary>
    public static ReadinessWatch Shared => LazyShared.Value;

    /// <summary>Completes when <paramref name="socket"/> can be read (or has ended, or failed).</summary>
    public Task ReadableAsync(Socket socket, CancellationToken ct) => WaitAsync(socket, Libc.POLLIN, ct);

    /// <summary>Completes when <paramref name="socket"/> takes more bytes to send (or has failed).</summary>
    public Task WritableAsync(Socket socket, CancellationToken ct) => WaitAsync(socket, Libc.POLLOUT, ct);

    private Task WaitAsync(Socket socket, short events, CancellationToken ct)
    {
        if (ct.IsCancellationRequested) return Task.FromCanceled(ct);
        var w = new Waiter(socket, events);
        _added.Enqueue(w);
        _loop.Wake();
        if (ct.CanBeCanceled)
        {
            // The loop drops it at its next turn; the caller is not kept waiting for that.
            var reg = ct.UnsafeRegister(static (s, token) => { var (waiter, loop) = ((Waiter, PollLoop))s!; waiter.Done.TrySetCanceled(token); loop.Wake(); }, (w, _loop));
            w.Done.Task.ContinueWith(static (_, r) => ((CancellationTokenRegistration)r!).Dispose(), reg, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        if (_loop.Stopping) w.Done.TrySetException(new ObjectDisposedException(nameof(ReadinessWatch)));
        return w.Done.Task;
    }

    private int Prepare(PollSet set)
    {
        while (_added.TryDequeue(out var added)) _waiting.Add(added);
        _waiting.RemoveAll(w => w.Done.Task.IsCompleted);
        foreach (var w in _waiting) set.Add(w.Fd, w.Events);
        return -1;
    }

    private void Turn(PollSet set)
    {
        for (int i = _waiting.Count - 1; i >= 0; i--)
        {
            if (set.Events(i) == 0) continue;
            _waiting[i].Done.TrySetResult();
            _waiting.RemoveAt(i);
        }
    }

    private void Stopped(Exception? error)
    {
        var e = error ?? new ObjectDisposedException(nameof(ReadinessWatch));
        foreach (var w in _waiting) w.Done.TrySetException(e);
        while (_added.TryDequeue(out var left)) left.Done.TrySetException(e);
    }

    public void Dispose() => _loop.Dispose();
}
