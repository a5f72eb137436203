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
    private readonly int _wake;
    private readonly Thread _thread;
    private PollFd[] _fds = new PollFd[16];
    private volatile bool _stopping;

    private sealed class Watched(Socket socket, long ackDeadline)
    {
        public readonly Socket Socket = socket;
        public readonly int Fd = TcpRepair.Fd(socket);
        public readonly long AckDeadline = ackDeadline;
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool Acknowledged;
        public long NextRequestDeadline;
    }

    public DeliveryWatch(TimeSpan ackWait, TimeSpan nextRequestWait)
    {
        _ackWait = (long)(ackWait.TotalSeconds * Stopwatch.Frequency);
        _nextRequestWait = (long)(nextRequestWait.TotalSeconds * Stopwatch.Frequency);
        _wake = Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        Libc.Check(_wake, "eventfd");
        _thread = new Thread(Run) { IsBackground = true, Name = "baton delivery" };
        _thread.Start();
    }

    /// <summary>
    /// Completes when <paramref name="socket"/> has input (the next request, or the client's
    /// close), or when everything sent is acknowledged (or the acknowledgment wait passed) and then
    /// the next-request wait passed too. Never faults: a socket the kernel cannot answer for counts
    /// as done, and the caller's next step meets the error.
    /// </summary>
    public Task WaitAsync(Socket socket)
    {
        if (_stopping) return Task.CompletedTask;
        var w = new Watched(socket, Stopwatch.GetTimestamp() + _ackWait);
        _added.Enqueue(w);
        Signal();
        return w.Done.Task;
    }

    private unsafe void Signal()
    {
        ulong one = 1;
        _ = Libc.Write(_wake, &one, sizeof(ulong)); // EAGAIN only when the counter is full: still woken
    }

    private unsafe void Run()
    {
        while (!_stopping)
        {
            while (_added.TryDequeue(out var added)) _watched.Add(added);
            int n = _watched.Count + 1;
            if (_fds.Length < n) _fds = new PollFd[Math.Max(n, _fds.Length * 2)];
            _fds[0] = new PollFd { Fd = _wake, Events = Libc.POLLIN };
            for (int i = 0; i < _watched.Count; i++) _fds[i + 1] = new PollFd { Fd = _watched[i].Fd, Events = Libc.POLLIN };
            int rc;
            fixed (PollFd* p = _fds) rc = Libc.Poll(p, (nuint)n, Timeout());
            if (rc < 0) continue; // EINTR: look again
            if (_fds[0].Revents != 0)
            {
                ulong drained;
                _ = Libc.Read(_wake, &drained, sizeof(ulong));
            }
            long now = Stopwatch.GetTimestamp();
            for (int i = _watched.Count - 1; i >= 0; i--)
            {
                if (Step(_watched[i], _fds[i + 1].Revents, now)) continue;
                _watched[i].Done.TrySetResult();
                _watched.RemoveAt(i);
            }
        }
        foreach (var w in _watched) w.Done.TrySetResult();
        while (_added.TryDequeue(out var left)) left.Done.TrySetResult();
    }

    /// <summary>Moves one connection on; false when its wait is over.</summary>
    private bool Step(Watched w, short revents, long now)
    {
        if ((revents & (Libc.POLLIN | Libc.POLLERR | Libc.POLLHUP)) != 0) return false;
        if (!w.Acknowledged)
        {
            bool acknowledged;
            try { acknowledged = TcpRepair.Unacknowledged(w.Socket) == 0; }
            catch (NativeCallException) { return false; }
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
            if (!w.Acknowledged) return AckPollMs;
            nearest = Math.Min(nearest, w.NextRequestDeadline);
        }
        long left = nearest - Stopwatch.GetTimestamp();
        return left <= 0 ? 0 : (int)Math.Ceiling(left * 1000.0 / Stopwatch.Frequency);
    }

    public void Dispose()
    {
        _stopping = true;
        Signal();
        _thread.Join();
        Libc.Close(_wake);
    }
}
