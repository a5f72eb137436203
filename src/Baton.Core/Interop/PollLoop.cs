using System.Runtime.InteropServices;

namespace Baton.Interop;

/// <summary>
/// A thread of its own that waits in poll(2) on a set of descriptors, with an eventfd in the set
/// so another thread can wake it at once (<see cref="Wake"/>), and a timeout for deadlines. Each
/// turn its owner says what to wait on and for how long (<c>prepare</c>), then acts on what the
/// kernel reported (<c>turn</c>). The one poll loop behind the agent's delivery watch, its control
/// link's receiver and the router's hold queue: each of those had its own, two of them noticing a
/// stop only at their next timeout (100 and 250 ms).
/// </summary>
internal sealed class PollLoop : IDisposable
{
    private readonly Func<PollSet, int> _prepare;
    private readonly Action<PollSet> _turn;
    private readonly Action<Exception?> _stopped;
    private readonly PollSet _set = new();
    private readonly Thread _thread;
    private readonly object _wakeGate = new();
    private readonly int _wake;
    private bool _wakeClosed;
    private volatile bool _stopping;

    /// <param name="name">The thread's name.</param>
    /// <param name="prepare">Before each wait: adds the descriptors to <see cref="PollSet"/> and returns the timeout in ms (-1: until woken).</param>
    /// <param name="turn">After each wait: reads <see cref="PollSet.Events"/>; <see cref="PollSet.Stop"/> ends the loop.</param>
    /// <param name="stopped">On the loop's thread once it ends: null after a stop, else what <c>prepare</c> or <c>turn</c> threw.</param>
    public PollLoop(string name, Func<PollSet, int> prepare, Action<PollSet> turn, Action<Exception?> stopped)
    {
        _prepare = prepare;
        _turn = turn;
        _stopped = stopped;
        _wake = Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        Libc.Check(_wake, "eventfd");
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Whether the loop is ending or has ended.</summary>
    public bool Stopping => _stopping;

    /// <summary>Ends the wait in progress now: the owner has something new for the loop. Any thread; harmless after the end.</summary>
    public unsafe void Wake()
    {
        lock (_wakeGate)
        {
            // The loop closes the eventfd as it ends: a write after that could reach a reused descriptor.
            if (_wakeClosed) return;
            ulong one = 1;
            _ = Libc.Write(_wake, &one, sizeof(ulong)); // EAGAIN only when the counter is full: still woken
        }
    }

    /// <summary>Ends the loop after the current turn; from any thread, the loop's own included.</summary>
    public void Stop()
    {
        _stopping = true;
        Wake();
    }

    /// <summary>Stops the loop and waits for its thread to end (unless called on it).</summary>
    public void Dispose()
    {
        Stop();
        if (Thread.CurrentThread != _thread) _thread.Join();
    }

    private unsafe void Run()
    {
        Exception? error = null;
        try
        {
            while (!_stopping)
            {
                _set.Reset(_wake);
                int timeout = _prepare(_set);
                if (_stopping) break;
                int rc;
                fixed (PollFd* p = _set.Fds) rc = Libc.Poll(p, (nuint)_set.Length, timeout);
                if (rc < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR) continue;
                    throw new NativeCallException("poll", errno);
                }
                if (_set.Fds[0].Revents != 0)
                {
                    ulong drained;
                    _ = Libc.Read(_wake, &drained, sizeof(ulong));
                }
                if (_stopping) break;
                _turn(_set);
                if (_set.StopRequested) break;
            }
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            _stopping = true;
            lock (_wakeGate)
            {
                _wakeClosed = true;
                Libc.Close(_wake);
            }
        }
        _stopped(error);
    }
}

/// <summary>The descriptors of one <see cref="PollLoop"/> wait, in the order they were added, and what each reported.</summary>
internal sealed class PollSet
{
    // Slot 0 is the loop's eventfd.
    internal PollFd[] Fds = new PollFd[8];

    internal int Length { get; private set; }

    /// <summary>How many descriptors the owner added this turn.</summary>
    public int Count => Length - 1;

    internal bool StopRequested { get; private set; }

    internal void Reset(int wake)
    {
        Fds[0] = new PollFd { Fd = wake, Events = Libc.POLLIN };
        Length = 1;
    }

    /// <summary>Ends the loop after this turn (from its own callbacks, which may run before the loop's constructor returns).</summary>
    public void Stop() => StopRequested = true;

    /// <summary>Waits on <paramref name="fd"/> for <paramref name="events"/> (POLLIN: input, or its end); returns its index for <see cref="Events"/>.</summary>
    public int Add(int fd, short events = Libc.POLLIN)
    {
        if (Length == Fds.Length) Array.Resize(ref Fds, Fds.Length * 2);
        Fds[Length] = new PollFd { Fd = fd, Events = events };
        return Length++ - 1;
    }

    /// <summary>What descriptor <paramref name="index"/> reported (0 when it did not: a timeout, a wake, another's event).</summary>
    public short Events(int index) => Fds[index + 1].Revents;

    /// <summary>
    /// Whether descriptor <paramref name="index"/> has input, an error or a hang-up, or is no longer
    /// open (POLLNVAL: its socket was closed meanwhile; the owner's next call on it says so).
    /// </summary>
    public bool Ready(int index) => (Events(index) & (Libc.POLLIN | Libc.POLLERR | Libc.POLLHUP | Libc.POLLNVAL)) != 0;
}
