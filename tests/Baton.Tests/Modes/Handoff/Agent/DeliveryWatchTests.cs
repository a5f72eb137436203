using System.Net.Sockets;
using Baton.Tests.Support;
using Baton.Modes.Handoff.Agent;
using Baton.Modes.Handoff.Repair;

namespace Baton.Tests.Modes.Handoff.Agent;

/// <summary>
/// The agent's wait after a response, on real loopback sockets: first until the client has
/// acknowledged everything sent, then briefly for its next request; input (or the close) ends it at
/// once. The server side of each pair is the agent's connection.
/// </summary>
public sealed class DeliveryWatchTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    // Long enough that a wait that should still be pending would have ended by mistake.
    private static readonly TimeSpan Pending = TimeSpan.FromMilliseconds(300);
    private readonly List<LoopbackPair> _pairs = [];

    public void Dispose()
    {
        foreach (var p in _pairs) p.Dispose();
    }

    private LoopbackPair Pair()
    {
        var p = LoopbackPair.Create();
        _pairs.Add(p);
        return p;
    }

    /// <summary>Writes from the server until the client's receive window is full and bytes stay unacknowledged.</summary>
    private static void FillUntilUnacknowledged(LoopbackPair p)
    {
        Fill(p, sendBuffer: 16 << 10); // little to drain when a test lets the client read
        Assert.True(TcpRepair.Unacknowledged(p.Server) > 0);
    }

    /// <summary>
    /// Writes from the server more than the client's closed window takes: bytes stay in the send
    /// queue unsent (the window is full; a small send buffer only leaves bytes unacknowledged).
    /// </summary>
    private static void FillUntilUnsent(LoopbackPair p)
    {
        Fill(p, sendBuffer: 128 << 10);
        Assert.True(TcpRepair.Unsent(p.Server) > 0);
    }

    private static void Fill(LoopbackPair p, int sendBuffer)
    {
        p.Client.ReceiveBufferSize = 4096;
        p.Server.SendBufferSize = sendBuffer;
        p.Server.Blocking = false;
        var chunk = new byte[64 << 10];
        try
        {
            while (true) p.Server.Send(chunk);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock) { }
        p.Server.Blocking = true;
    }

    /// <summary>Starts the wait for <paramref name="p"/>'s server side and checks it is still pending <see cref="Pending"/> later.</summary>
    private static async Task<Task> PendingWaitAsync(DeliveryWatch watch, LoopbackPair p)
    {
        var wait = watch.WaitAsync(p.Server);
        await Task.Delay(Pending);
        Assert.False(wait.IsCompleted);
        return wait;
    }

    [Fact]
    public async Task A_waiting_connection_is_released_by_the_clients_next_request()
    {
        using var watch = new DeliveryWatch(Long, Long);
        var p = Pair();
        var wait = await PendingWaitAsync(watch, p);
        p.ClientSends("GET / HTTP/1.1\r\n\r\n"u8);
        await wait.WaitAsync(LoopbackPair.HangGuard);
    }

    [Fact]
    public async Task Unacknowledged_bytes_keep_it_waiting_until_the_client_sends()
    {
        using var watch = new DeliveryWatch(Long, TimeSpan.FromMilliseconds(1));
        var p = Pair();
        FillUntilUnacknowledged(p);
        // Still pending: a 1 ms next-request wait would have ended it if the ack wait had.
        var wait = await PendingWaitAsync(watch, p);
        p.ClientSends("x"u8);
        await wait.WaitAsync(LoopbackPair.HangGuard);
    }

    [Fact]
    public async Task Once_everything_is_acknowledged_only_the_next_request_wait_is_left()
    {
        using var watch = new DeliveryWatch(Long, TimeSpan.FromMilliseconds(20));
        var p = Pair();
        FillUntilUnacknowledged(p);
        var wait = await PendingWaitAsync(watch, p);
        // The client reads everything: its ACKs empty the send queue, and 20 ms later the wait is over.
        var drain = new byte[64 << 10];
        while (TcpRepair.Unacknowledged(p.Server) > 0)
            if (p.Client.Poll(TimeSpan.FromMilliseconds(1), SelectMode.SelectRead)) p.Client.Receive(drain);
        await wait.WaitAsync(LoopbackPair.HangGuard);
        Assert.Equal(0, p.Server.Available); // over without any input
    }

    [Fact]
    public async Task An_acknowledgment_wait_ends_at_its_bound_even_when_the_client_never_acknowledges()
    {
        using var watch = new DeliveryWatch(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(1));
        var p = Pair();
        FillUntilUnacknowledged(p);
        await watch.WaitAsync(p.Server).WaitAsync(LoopbackPair.HangGuard);
        Assert.True(TcpRepair.Unacknowledged(p.Server) > 0);
    }

    [Fact]
    public async Task The_clients_close_ends_the_wait()
    {
        using var watch = new DeliveryWatch(Long, Long);
        var p = Pair();
        var wait = watch.WaitAsync(p.Server);
        p.Client.Shutdown(SocketShutdown.Send);
        await wait.WaitAsync(LoopbackPair.HangGuard);
    }

    [Fact]
    public async Task Many_connections_wait_at_once_and_each_is_released_by_its_own_client()
    {
        using var watch = new DeliveryWatch(Long, Long);
        var pairs = Enumerable.Range(0, 100).Select(_ => Pair()).ToArray();
        var waits = pairs.Select(p => watch.WaitAsync(p.Server)).ToArray();
        for (int i = 0; i < pairs.Length; i += 2) pairs[i].ClientSends("x"u8);
        for (int i = 0; i < pairs.Length; i += 2) await waits[i].WaitAsync(LoopbackPair.HangGuard);
        await Task.Delay(Pending);
        for (int i = 1; i < pairs.Length; i += 2) Assert.False(waits[i].IsCompleted, $"connection {i} was released without input");
        for (int i = 1; i < pairs.Length; i += 2) pairs[i].ClientSends("x"u8);
        await Task.WhenAll(waits).WaitAsync(LoopbackPair.HangGuard);
    }

    [Fact]
    public async Task Stopping_the_watch_releases_every_waiting_connection()
    {
        var watch = new DeliveryWatch(Long, Long);
        var p = Pair();
        var wait = watch.WaitAsync(p.Server);
        watch.Dispose();
        await wait.WaitAsync(LoopbackPair.HangGuard);
        await watch.WaitAsync(Pair().Server).WaitAsync(LoopbackPair.HangGuard); // after stop: at once
    }

    [Fact]
    public async Task With_bytes_still_to_send_the_wait_outlasts_the_clients_input_until_they_have_left()
    {
        using var watch = new DeliveryWatch(Long, Long);
        var p = Pair();
        FillUntilUnsent(p);
        var wait = watch.WaitAsync(p.Server, Long);
        p.ClientSends("GET /next HTTP/1.1\r\n\r\n"u8); // the next request, while the response is still queued
        await Task.Delay(Pending);
        Assert.False(wait.IsCompleted, "released with bytes still to send");
        var drain = new byte[64 << 10];
        while (TcpRepair.Unsent(p.Server) > 0 || TcpRepair.Unacknowledged(p.Server) > 0)
            if (p.Client.Poll(TimeSpan.FromMilliseconds(1), SelectMode.SelectRead)) p.Client.Receive(drain);
        Assert.True(await wait.WaitAsync(LoopbackPair.HangGuard)); // sent, and the input ends it
    }

    [Fact]
    public async Task Bytes_that_never_leave_end_the_wait_at_the_drain_timeout_as_a_failure()
    {
        using var watch = new DeliveryWatch(Long, Long);
        var p = Pair();
        FillUntilUnsent(p);
        Assert.False(await watch.WaitAsync(p.Server, TimeSpan.FromMilliseconds(100)).WaitAsync(LoopbackPair.HangGuard));
        Assert.True(TcpRepair.Unsent(p.Server) > 0);
    }
}
