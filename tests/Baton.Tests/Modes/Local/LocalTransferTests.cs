using System.Diagnostics;
using System.Text;
using Baton.Tests.Support;
using Xunit.Abstractions;
using Baton.Application;
using Baton.Modes;
using Baton.Modes.Local.Protocol;
using Baton.Modes.Local.Router;

namespace Baton.Tests.Modes.Local;

/// <summary>
/// The local transfer mode end to end, without root: a registry on a real Unix socket, in-process
/// workers connected to it, client connections over TCP loopback passed with SCM_RIGHTS.
/// </summary>
public sealed class LocalTransferTests(ITestOutputHelper output)
{
    [Fact]
    public async Task One_connection_visits_two_workers_and_comes_back_with_bytes_intact()
    {
        await using var f = new LocalFixture();
        var w1 = await f.WorkerAsync("w1");
        var w2 = await f.WorkerAsync("w2");
        var (client, socket) = f.Connect();
        var reader = new ResponseReader(client);

        // 1. A plain GET at w1.
        client.Send(LocalFixture.Get("/hello"));
        var unread = await LocalFixture.RouterReadsAsync(socket, LocalFixture.Get("/hello").Length);
        var transfer = f.Transfer.TransferAsync(socket, unread, w1, CancellationToken.None);
        var (head, body) = reader.Read();
        Assert.Contains("Baton-Host: w1\r\n", head);
        Assert.Equal("served by w1: GET /hello\n", Encoding.UTF8.GetString(body));
        socket = (await transfer.WaitAsync(LoopbackPair.HangGuard)).ReturnedSocket();
        Assert.True(((LocalSocket)socket).Unread.IsEmpty);

        // 2. 1 MiB from w2.
        client.Send(LocalFixture.Get("/bytes/1048576"));
        unread = await LocalFixture.RouterReadsAsync(socket, LocalFixture.Get("/bytes/1048576").Length);
        transfer = f.Transfer.TransferAsync(socket, unread, w2, CancellationToken.None);
        (head, body) = reader.Read();
        Assert.Contains("Baton-Host: w2\r\n", head);
        Assert.Equal(1 << 20, body.Length);
        for (int i = 0; i < body.Length; i++)
            if (body[i] != BuiltInApplication.PatternByte(i)) Assert.Fail($"byte {i} of the 1 MiB body is wrong");
        socket = (await transfer.WaitAsync(LoopbackPair.HangGuard)).ReturnedSocket();

        // 3. A POST whose body the router has read only in part: echoed by w1.
        var postBody = new byte[200_000];
        new Random(7).NextBytes(postBody);
        var postHead = Encoding.ASCII.GetBytes($"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: {postBody.Length}\r\n\r\n");
        var sending = Task.Run(() => { client.Send(postHead); LoopbackPair.SendAll(client, postBody); });
        unread = await LocalFixture.RouterReadsAsync(socket, postHead.Length + 1000);
        transfer = f.Transfer.TransferAsync(socket, unread, w1, CancellationToken.None);
        (head, body) = reader.Read();
        await sending;
        Assert.Contains("Baton-Host: w1\r\n", head);
        Assert.Equal(postBody, body);
        socket = (await transfer.WaitAsync(LoopbackPair.HangGuard)).ReturnedSocket();

        // 4. Back at w2, with Connection: close: it ends there.
        client.Send(LocalFixture.Get("/last", close: true));
        unread = await LocalFixture.RouterReadsAsync(socket, LocalFixture.Get("/last", close: true).Length);
        transfer = f.Transfer.TransferAsync(socket, unread, w2, CancellationToken.None);
        (head, _) = reader.Read();
        Assert.Contains("Baton-Host: w2\r\n", head);
        Assert.IsType<TransferOutcome.Ended>(await transfer.WaitAsync(LoopbackPair.HangGuard));
        Assert.True(reader.SeesEnd());
        Assert.True(w1.IsHealthy && w2.IsHealthy);
        Assert.Equal(0, w1.ActiveConnections + w2.ActiveConnections);
    }

    [Fact]
    public async Task Pipelined_requests_are_each_served_and_the_second_comes_back_unconsumed()
    {
        await using var f = new LocalFixture();
        var w1 = await f.WorkerAsync("w1");
        var w2 = await f.WorkerAsync("w2");
        var (client, socket) = f.Connect();
        var reader = new ResponseReader(client);

        var first = LocalFixture.Get("/first");
        var second = LocalFixture.Get("/second");
        client.Send([.. first, .. second]);
        var unread = await LocalFixture.RouterReadsAsync(socket, first.Length + second.Length);

        var outcome = f.Transfer.TransferAsync(socket, unread, w1, CancellationToken.None);
        var (head, body) = reader.Read();
        Assert.Contains("Baton-Host: w1\r\n", head);
        Assert.Equal("served by w1: GET /first\n", Encoding.UTF8.GetString(body));
        var back = (await outcome.WaitAsync(LoopbackPair.HangGuard)).ReturnedSocket();
        Assert.Equal(second, back.Unread.ToArray());

        // The router passes the unconsumed request on, as it came back.
        outcome = f.Transfer.TransferAsync(back, back.Unread, w2, CancellationToken.None);
        (head, body) = reader.Read();
        Assert.Contains("Baton-Host: w2\r\n", head);
        Assert.Equal("served by w2: GET /second\n", Encoding.UTF8.GetString(body));
        back = (await outcome.WaitAsync(LoopbackPair.HangGuard)).ReturnedSocket();
        Assert.True(back.Unread.IsEmpty);
        back.Dispose();
    }

    [Fact]
    public async Task A_worker_that_goes_away_holding_a_connection_ends_it_and_is_unhealthy()
    {
        await using var f = new LocalFixture();
        var app = new HoldingApplication();
        var doomed = await f.WorkerAsync("doomed", app);
        var other = await f.WorkerAsync("other");
        var (client, socket) = f.Connect();

        client.Send(LocalFixture.Get("/hold"));
        var unread = await LocalFixture.RouterReadsAsync(socket, LocalFixture.Get("/hold").Length);
        var outcome = f.Transfer.TransferAsync(socket, unread, doomed, CancellationToken.None);
        await app.Entered.Task.WaitAsync(LoopbackPair.HangGuard);
        Assert.Equal(1, doomed.ActiveConnections);

        // The worker goes away (its link closes, as when the process dies).
        await DisposeWorkerAsync(f, "doomed");

        Assert.IsType<TransferOutcome.Ended>(await outcome.WaitAsync(LoopbackPair.HangGuard));
        await doomed.Closed.WaitAsync(LoopbackPair.HangGuard);
        Assert.False(doomed.IsHealthy);
        Assert.False(f.Registry.TryGet("doomed", out _));
        Assert.True(new ResponseReader(client).SeesEnd());
        Assert.IsType<TransferOutcome.NotMoved>(await f.Transfer.TransferAsync(f.Connect().Accepted, unread, doomed, CancellationToken.None));

        // The router is fine: another worker takes the next connection.
        Assert.True(other.IsHealthy);
        var (client2, socket2) = f.Connect();
        client2.Send(LocalFixture.Get("/after"));
        unread = await LocalFixture.RouterReadsAsync(socket2, LocalFixture.Get("/after").Length);
        outcome = f.Transfer.TransferAsync(socket2, unread, other, CancellationToken.None);
        var (head, _) = new ResponseReader(client2).Read();
        Assert.Contains("Baton-Host: other\r\n", head);
        (await outcome.WaitAsync(LoopbackPair.HangGuard)).ReturnedSocket().Dispose();
    }

    private static async Task DisposeWorkerAsync(LocalFixture f, string name)
    {
        var host = f.Hosts.Single(h => h.Options.Name == name);
        await host.DisposeAsync();
    }

    [Fact]
    public void The_uid_check_refuses_other_users()
    {
        var me = PeerCredentials.CurrentUid;
        Assert.Null(new PeerCredentials(1234, me, 0).RefusalFor(me));
        var refusal = new PeerCredentials(1234, me + 1, 0).RefusalFor(me);
        Assert.NotNull(refusal);
        Assert.Contains($"uid {me + 1}", refusal);
    }

    [Fact]
    public async Task A_peer_with_the_wrong_uid_is_refused_by_the_registry()
    {
        await using var f = new LocalFixture(allowedUid: PeerCredentials.CurrentUid + 1);
        var host = f.StartWorker("intruder");
        var e = await Assert.ThrowsAsync<ControlProtocolException>(() => host.RunAsync(CancellationToken.None).WaitAsync(LoopbackPair.HangGuard));
        Assert.Contains("uid", e.Message);
        Assert.False(f.Registry.TryGet("intruder", out _));
    }

    [Fact]
    public void The_group_check_admits_members_of_the_configured_group_only()
    {
        var me = PeerCredentials.CurrentUid;
        Assert.Null(new PeerCredentials(1234, me + 7, 50).RefusalFor(me, 50));
        var refusal = new PeerCredentials(1234, me + 7, 51).RefusalFor(me, 50);
        Assert.NotNull(refusal);
        Assert.Contains("gid 50", refusal);
    }

    [Fact]
    public async Task A_peer_of_another_uid_in_the_allowed_group_is_admitted_and_the_socket_is_group_writable()
    {
        uint gid = uint.Parse(File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("Gid:")).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]);
        await using var f = new LocalFixture(allowedUid: PeerCredentials.CurrentUid + 1, allowedGid: gid);
        var worker = await f.WorkerAsync("member");
        Assert.True(worker.IsHealthy);
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("Unix sockets with SO_PEERCRED");
        var mode = File.GetUnixFileMode(f.SocketPath);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, mode);
    }

    [Fact]
    public async Task A_second_worker_under_a_taken_name_is_refused()
    {
        await using var f = new LocalFixture();
        await f.WorkerAsync("w1");
        var dup = f.StartWorker("w1");
        var e = await Assert.ThrowsAsync<ControlProtocolException>(() => dup.RunAsync(CancellationToken.None).WaitAsync(LoopbackPair.HangGuard));
        Assert.Contains("already registered", e.Message);
    }

    [Fact]
    public async Task The_same_socket_goes_back_and_forth_50_times_without_EEXIST()
    {
        await using var f = new LocalFixture();
        var w1 = await f.WorkerAsync("w1");
        var w2 = await f.WorkerAsync("w2");
        var (client, socket) = f.Connect();
        var reader = new ResponseReader(client);
        ulong cookie = PassedSockets.Cookie((int)socket.SafeHandle.DangerousGetHandle());
        for (int i = 0; i < 50; i++)
        {
            var worker = i % 4 < 2 ? w1 : w2; // the same worker twice in a row, then the other
            var request = LocalFixture.Get($"/{i}");
            client.Send(request);
            // An async receive on the router's side each time: it registers the fd with .NET's epoll.
            var unread = await LocalFixture.RouterReadsAsync(socket, request.Length);
            var outcome = f.Transfer.TransferAsync(socket, unread, worker, CancellationToken.None);
            var (head, body) = reader.Read();
            Assert.Contains($"Baton-Host: {worker.Name}\r\n", head);
            Assert.Equal($"served by {worker.Name}: GET /{i}\n", Encoding.UTF8.GetString(body));
            socket = (await outcome.WaitAsync(LoopbackPair.HangGuard)).ReturnedSocket();
            Assert.Equal(cookie, PassedSockets.Cookie((int)socket.SafeHandle.DangerousGetHandle()));
        }
        // Every wrap of this connection in this process had its own fd number.
        Assert.True(PassedSockets.NumbersOf(cookie).Length >= 50);
        socket.Dispose();
        PassedSockets.Forget(cookie);
    }

    [Fact]
    public async Task Measure_pass_and_return()
    {
        await using var f = new LocalFixture();
        var w1 = await f.WorkerAsync("w1");
        var (client, socket) = f.Connect();
        var reader = new ResponseReader(client);
        var timings = new List<LocalCycleTimings>();
        var wall = new List<double>();
        f.Transfer.OnCycle = timings.Add;
        var request = LocalFixture.Get("/m");
        const int Rounds = 1000;
        for (int i = 0; i < Rounds + 50; i++)
        {
            client.Send(request);
            var unread = await LocalFixture.RouterReadsAsync(socket, request.Length);
            long t0 = Stopwatch.GetTimestamp();
            var outcome = f.Transfer.TransferAsync(socket, unread, w1, CancellationToken.None);
            reader.Read();
            socket = (await outcome.WaitAsync(LoopbackPair.HangGuard)).ReturnedSocket();
            wall.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
        }
        socket.Dispose();
        static double Median(IEnumerable<double> xs)
        {
            var s = xs.Order().ToArray();
            return s[s.Length / 2];
        }
        var t = timings.Skip(50).ToList(); // warm-up
        string report = $"local transfer, in-process worker, median of {t.Count}: pass {Median(t.Select(x => x.Pass.TotalMicroseconds)):F1} µs, " +
                        $"return {Median(t.Select(x => x.Return.TotalMicroseconds)):F1} µs, full cycle incl. HTTP {Median(wall.Skip(50)):F1} µs";
        output.WriteLine(report);
        Console.WriteLine(report);
        Assert.Equal(Rounds + 50, timings.Count);
    }
}
