using System.Net.Sockets;
using Baton.Http;
using Baton.Modes.Relay;
using Baton.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Baton.Tests.Modes.Relay;

/// <summary>
/// The zero-copy body pump on real sockets: origin → (source) → pump → (destination) → client, TCP
/// on 127.0.0.1 and an AF_UNIX pair as the in-process origin uses. Bytes intact, in order, the
/// input's buffered prefix first, nothing read past the body, and each side's failure named.
/// </summary>
public sealed class SplicePumpTests
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_body_of_known_length_arrives_whole_after_the_buffered_prefix_and_the_next_bytes_stay_unread(bool unixSource)
    {
        var (origin, source) = Pair(unixSource);
        using var _ = origin;
        using var __ = source;
        using var client = LoopbackPair.Create();
        var body = new byte[3_000_000];
        Random.Shared.NextBytes(body);
        var next = "NEXT"u8.ToArray();

        // The input has read the head and the body's first bytes already, as after a response head.
        await AsyncMode(source, client.Server);
        using var input = new HttpInput(source, body.AsSpan(0, 1000));
        var sending = Blocking(() => { SendAll(origin, body.AsSpan(1000)); SendAll(origin, next); });
        var receiving = Blocking(() => LoopbackPair.ReceiveExactly(client.Client, body.Length));
        var r = await SplicePump.CopyAsync(input, source, body.Length, client.Server, Idle, NullLogger.Instance, CancellationToken.None).WaitAsync(LoopbackPair.HangGuard);
        await sending;
        Assert.Equal((PumpEnd.Completed, (long)body.Length), (r.End, r.Bytes));
        var received = await receiving;
        Assert.True(body.AsSpan().SequenceEqual(received), "the body arrived changed");
        Assert.True(SplicePump.Suits(SplicePump.Threshold), "it fell back to copying");
        // The origin's next bytes are still in the source socket, unread.
        Assert.Equal(next, LoopbackPair.ReceiveExactly(source, next.Length));
    }

    [Fact]
    public async Task A_body_delimited_by_the_close_ends_with_it()
    {
        using var src = LoopbackPair.Create();
        using var client = LoopbackPair.Create();
        var body = new byte[700_000];
        Random.Shared.NextBytes(body);
        await AsyncMode(src.Server, client.Server);
        using var input = new HttpInput(src.Server);
        var sending = Blocking(() => { SendAll(src.Client, body); src.Client.Shutdown(SocketShutdown.Send); });
        var receiving = Blocking(() => LoopbackPair.ReceiveExactly(client.Client, body.Length));
        var r = await SplicePump.CopyAsync(input, src.Server, -1, client.Server, Idle, NullLogger.Instance, CancellationToken.None).WaitAsync(LoopbackPair.HangGuard);
        await sending;
        Assert.Equal((PumpEnd.Completed, (long)body.Length), (r.End, r.Bytes));
        var received = await receiving;
        Assert.True(body.AsSpan().SequenceEqual(received));
    }

    [Fact]
    public async Task An_origin_that_closes_early_is_the_sources_failure()
    {
        using var src = LoopbackPair.Create();
        using var client = LoopbackPair.Create();
        await AsyncMode(src.Server, client.Server);
        using var input = new HttpInput(src.Server);
        var sending = Blocking(() => { SendAll(src.Client, new byte[100_000]); src.Client.Shutdown(SocketShutdown.Send); });
        var draining = Blocking(() => LoopbackPair.ReceiveExactly(client.Client, 100_000));
        var r = await SplicePump.CopyAsync(input, src.Server, 200_000, client.Server, Idle, NullLogger.Instance, CancellationToken.None).WaitAsync(LoopbackPair.HangGuard);
        await sending;
        await draining;
        Assert.Equal(PumpEnd.SourceFailed, r.End);
        Assert.Contains("100000 body bytes missing", r.Error);
    }

    [Fact]
    public async Task A_client_that_resets_is_the_destinations_failure()
    {
        using var src = LoopbackPair.Create();
        using var client = LoopbackPair.Create();
        await AsyncMode(src.Server, client.Server);
        using var input = new HttpInput(src.Server);
        client.Client.LingerState = new LingerOption(true, 0);
        client.Client.Close(); // a reset
        var sending = Blocking(() => SendAll(src.Client, new byte[4_000_000]));
        var r = await SplicePump.CopyAsync(input, src.Server, 4_000_000, client.Server, Idle, NullLogger.Instance, CancellationToken.None).WaitAsync(LoopbackPair.HangGuard);
        Assert.Equal(PumpEnd.DestinationFailed, r.End);
        // Unblocks the origin's send, if it still waits: loopback's buffers may have taken all
        // 4 MB already (a clean-clone CI run, 2026-12-04), so how that send ends is not asserted.
        src.Server.Dispose();
        try { await sending.WaitAsync(LoopbackPair.HangGuard); }
        catch (SocketException) { }
    }

    [Fact]
    public async Task A_client_that_takes_nothing_stops_the_pump_after_the_idle_timeout()
    {
        using var src = LoopbackPair.Create();
        using var client = LoopbackPair.Create(); // never reads: its window and the send buffers fill
        await AsyncMode(src.Server, client.Server);
        using var input = new HttpInput(src.Server);
        var sending = Blocking(() => { try { SendAll(src.Client, new byte[64_000_000]); } catch (SocketException) { } });
        // The origin's bytes are there before the pump starts: its sending thread, started late on
        // a loaded host, once let the pump wait 300 ms on an empty source and stop for that instead
        // ("no data for 0.3 s", a clean-clone CI run, 2026-12-04).
        LoopbackPair.WaitForQueued(src.Server, 64 * 1024);
        var r = await SplicePump.CopyAsync(input, src.Server, 64_000_000, client.Server, TimeSpan.FromMilliseconds(300), NullLogger.Instance, CancellationToken.None).WaitAsync(LoopbackPair.HangGuard);
        Assert.Equal(PumpEnd.Stopped, r.End);
        Assert.Contains("receiver took nothing", r.Error);
        Assert.True(SplicePump.Suits(SplicePump.Threshold), "it fell back to copying");
        src.Server.Dispose(); // the origin's blocked send fails now
        await sending.WaitAsync(LoopbackPair.HangGuard);
    }

    [Fact]
    public async Task An_origin_that_stalls_stops_the_pump_after_the_idle_timeout_and_an_abort_stops_it_at_once()
    {
        using var src = LoopbackPair.Create();
        using var client = LoopbackPair.Create();
        await AsyncMode(src.Server, client.Server);
        using var input = new HttpInput(src.Server);
        SendAll(src.Client, new byte[200_000]); // of 1,000,000
        var draining = Blocking(() => LoopbackPair.ReceiveExactly(client.Client, 200_000));
        var r = await SplicePump.CopyAsync(input, src.Server, 1_000_000, client.Server, TimeSpan.FromMilliseconds(300), NullLogger.Instance, CancellationToken.None).WaitAsync(LoopbackPair.HangGuard);
        await draining;
        Assert.Equal((PumpEnd.Stopped, 200_000L), (r.End, r.Bytes));
        Assert.Contains("no data for", r.Error);

        using var abort = new CancellationTokenSource();
        var pumping = SplicePump.CopyAsync(input, src.Server, 800_000, client.Server, TimeSpan.FromSeconds(60), NullLogger.Instance, abort.Token);
        abort.Cancel();
        var aborted = await pumping.WaitAsync(LoopbackPair.HangGuard);
        Assert.Equal((PumpEnd.Stopped, "aborted"), (aborted.End, aborted.Error));
    }

    [Fact]
    public async Task A_blocking_socket_is_copied_not_spliced()
    {
        using var src = LoopbackPair.Create(); // never used asynchronously: blocking descriptors
        using var client = LoopbackPair.Create();
        using var input = new HttpInput(src.Server);
        var body = new byte[300_000];
        Random.Shared.NextBytes(body);
        var sending = Blocking(() => SendAll(src.Client, body));
        var receiving = Blocking(() => LoopbackPair.ReceiveExactly(client.Client, body.Length));
        var r = await SplicePump.CopyAsync(input, src.Server, body.Length, client.Server, Idle, NullLogger.Instance, CancellationToken.None).WaitAsync(LoopbackPair.HangGuard);
        await sending;
        var received = await receiving;
        Assert.Equal((PumpEnd.Completed, (long)body.Length), (r.End, r.Bytes));
        Assert.True(body.AsSpan().SequenceEqual(received));
        Assert.True(SplicePump.Suits(SplicePump.Threshold), "one blocking socket must not turn splice off for every transfer");
    }

    private static (Socket Origin, Socket Source) Pair(bool unix)
    {
        if (unix)
        {
            var (a, b) = Baton.Interop.Libc.StreamPair();
            return (a, b);
        }
        var p = LoopbackPair.Create();
        return (p.Client, p.Server);
    }

    /// <summary>
    /// Puts the pump's sockets in the mode a relay's or an agent's are in when it runs: .NET's async
    /// calls have made their descriptors non-blocking (a blocking one is copied, not spliced).
    /// </summary>
    private static async Task AsyncMode(params Socket[] sockets)
    {
        foreach (var s in sockets) await s.SendAsync(ReadOnlyMemory<byte>.Empty, SocketFlags.None);
    }

    // The origin and the client here make blocking calls: on threads of their own, not the pool's,
    // which the pump's continuations need (two blocked pool threads on 2 cores cost 0.5 s a test).
    private static Task<T> Blocking<T>(Func<T> f) => Task.Factory.StartNew(f, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static Task Blocking(Action a) => Task.Factory.StartNew(a, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static void SendAll(Socket s, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty) data = data[s.Send(data)..];
    }
}
