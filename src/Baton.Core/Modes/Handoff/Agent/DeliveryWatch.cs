using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Baton.Interop;
using Baton.Modes.Handoff.Repair;

namespace Baton.Modes.Handoff.Agent;

/// <summary>
/// Waits, for all of an agent's connections on one thread, until the client has acknowledged a
/// whole response (bounded by the acknowledgment wait) and then briefly for its next request: the
/// moment a connection is best returned (<see cref="AgentConnection"/> says why). A connection used
/// to wait in its own poll(2) on a thread-pool thread, up to 22 ms per request: with a few dozen
/// connections per agent that starved the pool, whose continuations (the next request's serving,
/// the return's dump) then waited for the pool to grow a thread at a time.
/// </summary>
/// <remarks>
/// No kernel event says "everything sent was acknowledged", so connections in that phase are
/// looked at on each 1 ms poll tick (SIOCOUTQ); the next request and the client's close are
/// POLLIN. An eventfd in the poll set lets a new connection in without waiting for the tick.
/// </remarks>
internal sealed class DeliveryWatch : IDisposable
{
    private const int AckPollMs = 1;

    private readonly long _ackWait, _nextRequestWait;
    private readonly ConcurrentQueue<Watched> _added = new();
    private readonly List<Watched> _watched = [];
    private readonly PollLoop _loop;

    private sealed class Watched(Socket socket, long drainDeadline)
    {
        public readonly Socket Socket = socket;
        // Only poll(2) reads this number, unleased: a lease held across the wait would stall a
        // close on another path. Were the socket closed and its number reused meanwhile, the poll
        // wakes for the other file, and the SIOCOUTQ call, leased, fails cleanly.
        public readonly int Fd = (int)socket.Handle;
        public readonly long DrainDeadline = drainDeadline;
        public readonly TaskCompletionSource<bool> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool Sent, TimedOut;
        public long AckDeadline;
        public bool Acknowledged;
        public long NextRequestDeadline;
    }

    public DeliveryWatch(TimeSpan ackWait, TimeSpan nextRequestWait)
    {
        _ackWait = (long)(ackWait.TotalSeconds * Stopwatch.Frequency);
        _nextRequestWait = (long)(nextRequestWait.TotalSeconds * Stopwatch.Frequency);
        _loop = new PollLoop("baton delivery", Prepare, Turn, Stopped);
    }

    /// <summary>
    /// Completes when everything written to <paramref name="socket"/> has left the kernel (false
    /// when that took longer than <paramref name="drainTimeout"/>) and then <paramref name="socket"/>
    /// has input (the next request, or the client's close), or everything sent is acknowledged (or
    /// the acknowledgment wait passed) and then the next-request wait passed too. Never faults: a
    /// socket the kernel cannot answer for counts as done, and the caller's next step meets the error.
    /// </summary>
    /// <remarks>
    /// The send-queue wait was a Task.Delay(1 ms) loop on the connection's own task: a timer tick
    /// is 1–2 ms there, and a 16 KiB response (more than a restored connection's initial window)
    /// always met it: a hand-off's p50 at 16 KiB was 3.2–3.5 ms against 0.9 ms at 1 KiB
    /// (bench/results/issue16-one-send.md). Here it is this loop's poll(2) tick.
    /// </remarks>
    public Task<bool> WaitAsync(Socket socket, TimeSpan drainTimeout) =>
        Watch(new Watched(socket, Stopwatch.GetTimestamp() + (long)(drainTimeout.TotalSeconds * Stopwatch.Frequency)));

    /// <summary>
    /// As <see cref="WaitAsync(Socket, TimeSpan)"/> for a socket whose send queue is empty already:
    /// from the acknowledgment wait on.
    /// </summary>
    public Task WaitAsync(Socket socket)
    {
        long now = Stopwatch.GetTimestamp();
        return Watch(new Watched(socket, now) { Sent = true, AckDeadline = now + _ackWait });
    }

    private Task<bool> Watch(Watched w)
    {
        if (_loop.Stopping) return Task.FromResult(true);
        _added.Enqueue(w);
        _loop.Wake();
        // Stopped meanwhile: the loop may have finished its last sweep before this one was queued.
        if (_loop.Stopping) w.Done.TrySetResult(true);
        return w.Done.Task;
    }

    // Each connection's input, in _watched order; the tick while any waits for acknowledgments.
    private int Prepare(PollSet set)
    {
        while (_added.TryDequeue(out var added)) _watched.Add(added);
        // While bytes still wait to be sent, input does not matter and must not wake the loop: the
        // next request already queued kept poll(2) returning at once, a spin (the agents' CPU per
        // 1 KiB request went from ~350 to 2,300-4,100 µs before this). A negative descriptor is
        // skipped by poll(2); the 1 ms tick looks at the send queue.
        foreach (var w in _watched) set.Add(w.Sent ? w.Fd : -1);
        return Timeout();
    }

    private void Turn(PollSet set)
    {
        long now = Stopwatch.GetTimestamp();
        for (int i = _watched.Count - 1; i >= 0; i--)
        {
            if (Step(_watched[i], set.Ready(i), now)) continue;
            _watched[i].Done.TrySetResult(!_watched[i].TimedOut);
            _watched.RemoveAt(i);
        }
    }

    private void Stopped(Exception? error)
    {
        foreach (var w in _watched) w.Done.TrySetResult(true);
        while (_added.TryDequeue(out var left)) left.Done.TrySetResult(true);
        // A fault here is a bug: the agent stops as it did when this thread had its own loop.
        if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
    }

    /// <summary>Moves one connection on; false when its wait is over.</summary>
    private bool Step(Watched w, bool input, long now)
    {
        if (!w.Sent)
        {
            // Never given back with bytes still queued to send, whatever the client sends meanwhile.
            int unsent;
            try { unsent = TcpRepair.Unsent(w.Socket); }
            catch (Exception e) when (e is NativeCallException or ObjectDisposedException) { return false; } // closed meanwhile: done
            if (unsent > 0)
            {
                if (now <= w.DrainDeadline) return true;
                w.TimedOut = true;
                return false;
            }
            w.Sent = true;
            w.AckDeadline = now + _ackWait;
        }
        if (input) return false;
        if (!w.Acknowledged)
        {
            bool acknowledged;
            try { acknowledged = TcpRepair.Unacknowledged(w.Socket) == 0; }
            catch (Exception e) when (e is NativeCallException or ObjectDisposedException) { return false; } // closed meanwhile: done
            if (!acknowledged && now < w.AckDeadline) return true;
            w.Acknowledged = true;
            w.NextRequestDeadline = now + _nextRequestWait;
            return true;
        }
        return now < w.NextRequestDeadline;
    }

    /// <summary>1 ms while any connection waits for acknowledgments, else until the nearest next-request deadline.</summary>
    private int Timeout()
    {
        if (_watched.Count == 0) return -1;
        long nearest = long.MaxValue;
        foreach (var w in _watched)
        {
            if (!w.Sent || !w.Acknowledged) return AckPollMs;
            nearest = Math.Min(nearest, w.NextRequestDeadline);
        }
        long left = nearest - Stopwatch.GetTimestamp();
        return left <= 0 ? 0 : (int)Math.Ceiling(left * 1000.0 / Stopwatch.Frequency);
    }

    public void Dispose() => _loop.Dispose();
}
