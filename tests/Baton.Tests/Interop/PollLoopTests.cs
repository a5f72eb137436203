using System.Collections.Concurrent;
using System.Net.Sockets;
using Baton.Interop;
using Baton.Tests.Support;

namespace Baton.Tests.Interop;

/// <summary>The one poll loop: it wakes at once when told, reports what each descriptor did, and ends cleanly.</summary>
public sealed class PollLoopTests
{
    private static int Fd(Socket s) => (int)s.Handle;

    [Fact]
    public void A_wake_ends_an_endless_wait_and_a_ready_descriptor_is_reported_at_its_index()
    {
        using var a = LoopbackPair.Create();
        using var b = LoopbackPair.Create();
        var watched = new ConcurrentQueue<Socket>();
        var reported = new BlockingCollection<int>();
        var sockets = new List<Socket>();
        using var loop = new PollLoop("test poll",
            set =>
            {
                while (watched.TryDequeue(out var s)) sockets.Add(s);
                foreach (var s in sockets) set.Add(Fd(s));
                return -1; // only a wake or a descriptor ends the wait
            },
            set =>
            {
                for (int i = 0; i < set.Count; i++)
                    if (set.Ready(i))
                    {
                        reported.Add(i);
                        sockets[i].Receive(new byte[16]);
                    }
            },
            _ => { });

        watched.Enqueue(a.Server);
        watched.Enqueue(b.Server);
        loop.Wake(); // else the loop would wait on an empty set for ever
        Thread.Sleep(50);
        b.Client.Send([1]);
        Assert.True(reported.TryTake(out var first, LoopbackPair.HangGuard));
        Assert.Equal(1, first); // b's socket, the second added
        a.Client.Send([1]);
        Assert.True(reported.TryTake(out var second, LoopbackPair.HangGuard));
        Assert.Equal(0, second);
    }

    [Fact]
    public async Task Stop_from_a_turn_ends_the_loop_and_a_fault_reaches_the_owner()
    {
        var ended = new TaskCompletionSource<Exception?>();
        int turns = 0;
        var loop = new PollLoop("test poll", _ => 0, set => { if (++turns == 3) set.Stop(); }, e => ended.SetResult(e));
        Assert.Null(await ended.Task.WaitAsync(LoopbackPair.HangGuard));
        Assert.Equal(3, turns);
        Assert.True(loop.Stopping);
        loop.Wake(); // after the end: its eventfd is closed, and nothing is written anywhere
        loop.Dispose();

        var faulted = new TaskCompletionSource<Exception?>();
        using var failing = new PollLoop("test poll", _ => 0, _ => throw new InvalidOperationException("a bug"), e => faulted.SetResult(e));
        Assert.Equal("a bug", Assert.IsType<InvalidOperationException>(await faulted.Task.WaitAsync(LoopbackPair.HangGuard)).Message);
    }

    [Fact]
    public void Dispose_ends_an_endless_wait_at_once()
    {
        var ended = new TaskCompletionSource<Exception?>();
        var loop = new PollLoop("test poll", _ => -1, _ => { }, e => ended.SetResult(e));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        loop.Dispose();
        Assert.True(ended.Task.IsCompleted); // Dispose joined the thread, which had reported its end
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"{sw.Elapsed}");
    }

    [Fact]
    public async Task A_descriptor_closed_while_watched_is_reported_ready_not_polled_in_a_spin()
    {
        // The loop watches a copy of the server socket's descriptor at a number far above what
        // the other tests' sockets get (the kernel hands out the lowest free one). Watching the
        // socket's own number, a test opening a socket meanwhile could be given that number once
        // it was closed, and the loop then waited on an idle socket: 30 s, once in a CI run that
        // ran a 20 s publish alongside.
        using var pair = LoopbackPair.Create();
        int fd = Libc.Fcntl(Fd(pair.Server), Libc.F_DUPFD_CLOEXEC, 900);
        Assert.True(fd >= 900, $"fcntl(F_DUPFD_CLOEXEC) gave {fd}");
        var ready = new TaskCompletionSource<bool>();
        using var loop = new PollLoop("test poll", set => { set.Add(fd); return -1; }, set => ready.TrySetResult(set.Ready(0)), _ => { });
        Thread.Sleep(50);
        // The descriptor closes under the loop (POLLNVAL when the loop polls after this), and the
        // client's close reaches its socket (readable, when the loop was already polling).
        Libc.Close(fd);
        pair.Dispose();
        Assert.True(await ready.Task.WaitAsync(LoopbackPair.HangGuard));
    }
}
