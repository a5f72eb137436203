using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Baton.Lab;
using Baton.Steering;
using Baton.Steering.Hold;
using Xunit.Abstractions;

namespace Baton.ClusterTests;

/// <summary>
/// The router's hold queue (eBPF steering): a request the client sends while its connection is
/// frozen in transit is kept and replayed when the connection lands, on the hand-off (to the
/// agent) and on the return (to the router's own stack), so the client never waits for its
/// ≥ 200 ms RTO. The agent widens the frozen window on purpose (<c>--freeze-delay-ms</c>, a
/// diagnostics option of <c>baton agent</c>); the same scenario with <c>Baton:HoldQueue</c> off
/// shows the retransmission and the delay, so the test can fail.
/// </summary>
[Collection(HoldClusterCollection.Name)]
public sealed class HoldQueueTests(HoldClusterFixture fixture, ITestOutputHelper output)
{
    internal const string Backend = "be3";
    // Ready and the return's dump each come this late, so the connection stays frozen that long.
    private const int FreezeMs = 300;
    // When the client sends into the frozen window: 50 ms before it ends, so a dropped segment's
    // first retransmission (≥ 200 ms later) lands well after the connection is live again.
    private const int SendAfterMs = 250;
    // Past the client's minimum RTO (200 ms), by which a dropped request has been resent. With the
    // hold queue both requests were answered in 60–66 ms on a quiet host (50 ms of freeze left plus
    // the serving) and up to 204 ms on a loaded one (the agent's and router's steps stretch the
    // window there; the client still resent nothing); without it the slower of the two took
    // 724–1313 ms (its resend dropped again, or the second one's backoff). The class has a cluster
    // of its own that runs alone, so the suite's other clusters do not add to the load.
    private static readonly TimeSpan RtoBound = TimeSpan.FromMilliseconds(250);

    private sealed record Observed(TimeSpan HandoffWait, TimeSpan ReturnWait, long Retransmissions)
    {
        public TimeSpan Slowest => HandoffWait > ReturnWait ? HandoffWait : ReturnWait;
    }

    [Fact]
    public async Task Requests_sent_while_frozen_are_held_and_replayed_without_a_retransmission()
    {
        var lab = fixture.Lab;
        bool holds = RouterSteering.InUse(lab) == SteeringKind.Bpf; // nftables (BATON_TEST_STEERING) has no hold queue
        Assert.Equal(holds, Links(lab).Contains(HoldDevice.Name, StringComparison.Ordinal));
        // Once unmeasured: the router's hold and replay code runs here for the first time. Cold,
        // the full suite saw the first wait at 306 ms with nothing resent (2026-12-04, after 3 of 3
        // passes at 60-64 ms run alone); warm, the same scenario is the one measured.
        output.WriteLine($"warm-up: {await FrozenRequestsAsync(lab, lab.Router, output)}");
        var seen = await FrozenRequestsAsync(lab, lab.Router, output);
        output.WriteLine($"hold queue {(holds ? "on" : "unavailable")}: {seen}");
        if (holds)
        {
            Assert.True(seen.Retransmissions == 0 && seen.Slowest < RtoBound, $"{seen}");
        }
        else
        {
            Assert.True(seen.Retransmissions >= 2, $"{seen.Retransmissions} retransmissions");
        }
        Assert.DoesNotContain("hold queue unavailable", lab.Router.Output);
    }

    [Fact]
    public async Task A_large_body_sent_while_frozen_is_held_and_crosses_intact()
    {
        var lab = fixture.Lab;
        if (RouterSteering.InUse(lab) != SteeringKind.Bpf) return; // a suite forced to nftables has none
        // Written in one send, the client's stack may hand it to the veth as GSO aggregates with
        // partial checksums: held and replayed with their virtio headers, they must arrive whole,
        // without a retransmission timeout. (With many segments in flight the client does send
        // one tail loss probe into the freeze, and then, measured, 7 fast retransmissions that the
        // agent's D-SACKs show were spurious (TCPDSACKUndo): the replayed originals had arrived.
        // Why the client saw reordering there is not understood yet; RetransSegs counts those.)
        var body = new byte[48 * 1024];
        Random.Shared.NextBytes(body);
        await RestartAgentAsync(lab, lab.Router, "--freeze-delay-ms", $"{FreezeMs}");
        try
        {
            // Cold, the agent's first serving and echo took long enough after the freeze (CI,
            // 2026-12-01: echo after 313 ms, nothing resent) to fail the bound on their own.
            await WarmAgentAsync(lab, body);
            for (int attempt = 1; ; attempt++)
            {
                SettleClient();
                var ext0 = TcpExt(lab);
                using var start = await FirstHandedOffAsync(lab);
                var http = start.Http;
                await http.SendAsync(EchoRequest(body));
                Assert.Equal(Backend, (await http.ReadResponseAsync(TimeSpan.FromSeconds(10))).Header("Baton-Host"));
                var echoed = await http.ReadResponseAsync(TimeSpan.FromSeconds(10));
                var wait = Stopwatch.GetElapsedTime(start.Sent);
                Assert.Equal(200, echoed.Status);
                Assert.True(body.AsSpan().SequenceEqual(echoed.Body), $"echoed body differs ({echoed.Body.Length} bytes)");
                // Home again before the agent restarts, or the close would meet a dead agent.
                Assert.Equal(200, (await http.RequestAsync("/router/home")).Status);
                var ext = TcpExt(lab);
                string changed = string.Join(", ", ext.Where(kv => kv.Value != ext0.GetValueOrDefault(kv.Key)).Select(kv => $"{kv.Key} +{kv.Value - ext0.GetValueOrDefault(kv.Key)}"));
                string seen = $"echo after {wait.TotalMilliseconds:F0} ms; client TcpExt: {changed}";
                if (await NotSentIntoHandoffAsync(lab, start) is { } missed)
                {
                    output.WriteLine($"attempt {attempt} tested nothing: {missed} ({seen})");
                    Assert.True(attempt < Attempts, $"in {Attempts} attempts the body was never sent into the frozen window: {missed}");
                    continue;
                }
                output.WriteLine(seen);
                Assert.True(ext["TCPTimeouts"] == ext0["TCPTimeouts"] && wait < RtoBound, seen);
                break;
            }
        }
        finally
        {
            await RestartAgentAsync(lab, lab.Router);
        }
    }

    [Fact]
    public async Task Without_the_hold_queue_the_same_requests_wait_for_the_clients_retransmission()
    {
        var lab = fixture.Lab;
        lab.Router.Stop(TimeSpan.FromSeconds(10));
        BatonProcess? router = null;
        try
        {
            router = await StartRouterAsync(lab, holdQueue: false);
            Assert.DoesNotContain(HoldDevice.Name, Links(lab));
            var seen = await FrozenRequestsAsync(lab, router, output, returnWindow: false);
            output.WriteLine($"hold queue off: {seen}");
            // Each request was resent at least once, and the client saw it wait for that.
            Assert.True(seen.Retransmissions >= 2 && seen.Slowest > RtoBound, $"{seen}");
        }
        finally
        {
            router?.Dispose();
            await lab.StartRouterAsync();
        }
    }

    [Fact]
    public async Task The_hold_devices_live_as_long_as_the_router_crashes_included()
    {
        var lab = fixture.Lab;
        if (RouterSteering.InUse(lab) != SteeringKind.Bpf) return; // a suite forced to nftables has none
        try
        {
            Assert.Contains(HoldDevice.QueueName, Links(lab));
            lab.Router.Kill(); // crash: the pair stays behind
            Assert.Contains(HoldDevice.Name, Links(lab));
            await lab.StartRouterAsync(); // replaces it
            Assert.DoesNotContain("hold queue unavailable", lab.Router.Output);
            Assert.Contains(HoldDevice.QueueName, Links(lab));
            lab.Router.Stop(TimeSpan.FromSeconds(10));
            Assert.DoesNotContain(HoldDevice.Name, Links(lab));
        }
        finally
        {
            await lab.StartRouterAsync();
        }
    }

    // One connection: a request handed off to the slow agent, a second one sent into the hand-off's
    // frozen window (pipelined: the agent serves it where it is), then, once the connection is on
    // its way back, a third one for the router sent into the return's frozen window. Whether each
    // was sent into its window is read from the hosts' ownership traces, not assumed from the
    // client's delays: on a loaded host the router's hand-off can start late enough that the
    // "frozen" request reached it first. It then travels in the snapshot and waits out the whole
    // freeze: CI (2026-12-03) saw 309 ms and nothing resent, which a request sent 0-3 ms before the
    // router's dump reproduces (308-315 ms). Such a run tests nothing; it is run again, up to
    // Attempts times.
    private const int Attempts = 3;

    // Without the hold queue the return's window is not needed: its timing shifts with the
    // hand-off's resends (a run's third request met the router already home), and the hand-off's
    // resends alone show what the test asserts there.
    private static async Task<Observed> FrozenRequestsAsync(BatonLab lab, BatonProcess router, ITestOutputHelper output, bool returnWindow = true)
    {
        for (int attempt = 1; ; attempt++)
        {
            var (seen, missed) = await FrozenRequestsOnceAsync(lab, router, returnWindow);
            if (missed is null) return seen;
            output.WriteLine($"attempt {attempt} tested nothing: {missed} ({seen})");
            Assert.True(attempt < Attempts, $"in {Attempts} attempts no request was sent into its frozen window: {missed}");
        }
    }

    private static async Task<(Observed Seen, string? Missed)> FrozenRequestsOnceAsync(BatonLab lab, BatonProcess router, bool returnWindow)
    {
        await RestartAgentAsync(lab, router, "--freeze-delay-ms", $"{FreezeMs}");
        try
        {
            await WarmAgentAsync(lab);
            SettleClient();
            long retrans0 = lab.ClientTcpCounter("RetransSegs") ?? throw new InvalidOperationException("no RetransSegs");
            using var start = await FirstHandedOffAsync(lab);
            var http = start.Http;
            await http.SendAsync(RawHttp.Get($"/{Backend}/while-handing-off"));
            var first = await http.ReadResponseAsync(TimeSpan.FromSeconds(10));
            var second = await http.ReadResponseAsync(TimeSpan.FromSeconds(10));
            var handoffWait = Stopwatch.GetElapsedTime(start.Sent);
            Assert.Equal(Backend, first.Header("Baton-Host"));
            Assert.Equal(Backend, second.Header("Baton-Host"));
            Assert.Contains("while-handing-off", second.Text);

            // The agent asks for the return ~2 ms after the response left; the return stays frozen FreezeMs.
            await Task.Delay(SendAfterMs);
            long sent = Stopwatch.GetTimestamp();
            var sentIntoReturn = DateTime.UtcNow;
            await http.SendAsync(RawHttp.Get("/router/while-returning"));
            var third = await http.ReadResponseAsync(TimeSpan.FromSeconds(10));
            var returnWait = Stopwatch.GetElapsedTime(sent);
            Assert.Equal(200, third.Status);
            Assert.NotEqual(Backend, third.Header("Baton-Host"));
            long retrans = (lab.ClientTcpCounter("RetransSegs") ?? 0) - retrans0;
            var seen = new Observed(handoffWait, returnWait, retrans);

            if (await NotSentIntoHandoffAsync(lab, start) is { } missed) return (seen, missed);
            if (!returnWindow) return (seen, null);
            // The return froze the connection when the router answered the agent's request, FreezeMs
            // before the agent's dump, until the router restored it (after the dump).
            var agentDumped = lab.OwnershipEvents(Backend, start.Port).FirstOrDefault(e => !e.Live && e.At > sentIntoReturn).At;
            if (agentDumped == default) return (seen, "the return's request was sent after the agent's last dump");
            var returnFrozen = agentDumped - TimeSpan.FromMilliseconds(FreezeMs);
            return sentIntoReturn > returnFrozen
                ? (seen, null)
                : (seen, $"the return's request was sent {(returnFrozen - sentIntoReturn).TotalMilliseconds:F0} ms before the router froze the connection");
        }
        finally
        {
            await RestartAgentAsync(lab, router);
        }
    }

    // A client connection whose first request goes to the slow agent, SendAfterMs before the next
    // one is sent (Sent, SentAt: now), into the hand-off's frozen window if the router was on time.
    private sealed record HandedOff(Socket Socket, RawHttp Http, int Port, DateTime ConnectedAt, long Sent, DateTime SentAt) : IDisposable
    {
        public void Dispose() => Socket.Dispose();
    }

    private static async Task<HandedOff> FirstHandedOffAsync(BatonLab lab)
    {
        var connectedAt = DateTime.UtcNow;
        var s = await lab.ConnectClientAsync();
        try
        {
            var http = new RawHttp(s);
            await http.SendAsync(RawHttp.Get($"/{Backend}/first"));
            await Task.Delay(SendAfterMs);
            return new HandedOff(s, http, ((System.Net.IPEndPoint)s.LocalEndPoint!).Port, connectedAt, Stopwatch.GetTimestamp(), DateTime.UtcNow);
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    // Why a run did not test the hand-off's hold: the request sent at start.SentAt reached the router
    // before its dump froze the connection (or the trace has no hand-off for the port); null if it
    // was frozen. The traces span the fixture's life, so an earlier connection's port may be in them too.
    private static async Task<string?> NotSentIntoHandoffAsync(BatonLab lab, HandedOff start)
    {
        await Task.Delay(200); // the traces are flushed every 50 ms
        var frozen = lab.OwnershipEvents("router", start.Port).FirstOrDefault(e => !e.Live && e.At >= start.ConnectedAt).At;
        if (frozen == default) return $"no hand-off in the router's ownership trace for port {start.Port}";
        return start.SentAt <= frozen ? $"the request was sent {(frozen - start.SentAt).TotalMilliseconds:F0} ms before the router froze the connection" : null;
    }

    // The client is this test process, whose clock times the window: a full collection here, not
    // inside the window. Suspected, not shown: after ForwardTests (4-5 MB bodies through this
    // process) came in, this test failed 2 of 7 full-suite runs with the first wait at 325 and
    // 830 ms and no retransmission, yet never in 6 runs alone, 3 of them with both cores kept busy
    // by other processes; with this collection, 3 of 3 full-suite runs passed (60-62 ms).
    private static void SettleClient()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
    }

    // A fresh agent's first hand-off, stay and echo run cold (JIT): not what is measured. The
    // connection comes home before it closes: a FIN sent into the slow agent's 300 ms return freeze
    // would be held past the client's 200 ms RTO and resent, which the namespace-wide counters
    // would count against the measured connection.
    private static async Task WarmAgentAsync(BatonLab lab, byte[]? echo = null)
    {
        using var warm = await lab.ConnectClientAsync();
        var w = new RawHttp(warm);
        await w.SendAsync(RawHttp.Get($"/{Backend}/warm") + RawHttp.Get($"/{Backend}/warm-stay"));
        Assert.Equal(Backend, (await w.ReadResponseAsync(TimeSpan.FromSeconds(10))).Header("Baton-Host"));
        Assert.Equal(Backend, (await w.ReadResponseAsync(TimeSpan.FromSeconds(10))).Header("Baton-Host"));
        if (echo is not null)
        {
            await w.SendAsync(EchoRequest(echo));
            Assert.Equal(echo.Length, (await w.ReadResponseAsync(TimeSpan.FromSeconds(10))).Body.Length);
        }
        Assert.Equal(200, (await w.RequestAsync("/router/home")).Status);
    }

    private static byte[] EchoRequest(byte[] body) =>
        [.. System.Text.Encoding.ASCII.GetBytes($"POST /{Backend}/echo HTTP/1.1\r\nHost: test\r\nContent-Length: {body.Length}\r\n\r\n"), .. body];

    // Until the router has the new link up (the agent logs its side first): else a 503 from the router.
    internal static Task RestartAgentAsync(BatonLab lab, BatonProcess router, params string[] args) => lab.RestartAgentAsync(router, Backend, args);

    // The client namespace's TcpExt counters (/proc/net/netstat): which kind of retransmission it was.
    private static Dictionary<string, long> TcpExt(BatonLab lab)
    {
        var lines = Netns.ExecIn(lab.Net.Ns("client"), "cat", "/proc/net/netstat").Split('\n').Where(l => l.StartsWith("TcpExt:", StringComparison.Ordinal)).ToArray();
        var keys = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var values = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return keys.Skip(1).Zip(values.Skip(1)).ToDictionary(p => p.First, p => long.Parse(p.Second));
    }

    private static string Links(BatonLab lab) => Netns.ExecIn(lab.Net.Ns("router"), "ip", "-o", "link", "show");

    private static async Task<BatonProcess> StartRouterAsync(BatonLab lab, bool holdQueue)
    {
        string config = Path.Combine(lab.Directory, "router-hold.json");
        var json = JsonNode.Parse(File.ReadAllText(lab.ConfigFile))!;
        json["Baton"]!["HoldQueue"] = holdQueue;
        File.WriteAllText(config, json.ToJsonString());
        var router = BatonProcess.Start(lab.Net.Ns("router"), "router-hold", ["router", "--config", config, "--ownership-trace", lab.OwnershipTraceOf("router")]);
        StaleProcesses.Record(lab.Net.Prefix, router.Pid);
        foreach (var be in lab.Net.Backends)
            if (!await router.WaitForOutputAsync($"agent {be} connected", TimeSpan.FromSeconds(30)))
            {
                router.Dispose();
                Assert.Fail($"router did not connect to {be}:\n{router.Output}");
            }
        return router;
    }
}

/// <summary>
/// A cluster of its own for the hold queue tests (namespaces <c>{prefix}h-*</c>, own bridge), run
/// alone (no other collection in parallel): they time a ~50 ms window against a 200 ms RTO, which
/// the other clusters' load on a 2-core host blurs.
/// </summary>
public sealed class HoldClusterFixture : IAsyncLifetime
{
    public static readonly string Prefix = ClusterFixture.Prefix + "h";

    public BatonLab Lab { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Assert.True(Netns.IsRoot, "cluster tests need root (network namespaces, TCP_REPAIR): run them as root, as CI does");
        // Ownership traces: where the frozen windows were (HoldQueueTests.FrozenRequestsAsync).
        Lab = await BatonLab.StartAsync(Prefix, ClusterFixture.Subnet, ClusterFixture.IdleTimeout, steering: ClusterFixture.Steering, traceOwnership: true);
    }

    public async Task DisposeAsync()
    {
        if (Lab is not null) await Lab.DisposeAsync();
        Assert.DoesNotContain(Netns.List(), n => n.StartsWith(Prefix + "-", StringComparison.Ordinal));
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HoldClusterCollection : ICollectionFixture<HoldClusterFixture>
{
    public const string Name = "hold-cluster";
}

/// <summary>nftables steering has no hold queue, and says so once at start.</summary>
[Collection(NftClusterCollection.Name)]
public sealed class NftHoldQueueTests(NftClusterFixture fixture)
{
    [Fact]
    public void The_router_says_in_one_line_that_nftables_steering_has_no_hold_queue()
    {
        var lines = fixture.Lab.Router.Output.Split('\n').Where(l => l.Contains("hold queue unavailable", StringComparison.Ordinal)).ToList();
        Assert.Single(lines);
        Assert.Contains("nftables", lines[0]);
        Assert.DoesNotContain(HoldDevice.Name, Netns.ExecIn(fixture.Lab.Net.Ns("router"), "ip", "-o", "link", "show"));
    }
}
