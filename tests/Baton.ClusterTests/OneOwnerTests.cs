using System.Globalization;
using Baton.Lab;
using Xunit.Abstractions;

namespace Baton.ClusterTests;

/// <summary>
/// One owner on the wire (issue 13), under many keep-alive connections that each send a random mix
/// (GETs of 0 B–4 MiB, uploads up to 900 KB echoed back, router-served requests), so connections
/// move between the router and every back-end, and pass between back-ends, all at once:
/// every segment a host sends to the client falls while that host's copy of the connection is
/// live (captured as it leaves the host, against the hosts' ownership traces), and the client never
/// receives a TSval older than one it has seen. The hosts' retransmission and PAWS counters are
/// printed beside it: they are not zero yet (issue 13's notes say which are what).
/// </summary>
public abstract class OneOwnerContract(ITestOutputHelper output)
{
    protected ITestOutputHelper Output { get; } = output;

    protected abstract BatonLab Lab { get; }

    /// <summary>Frames the router sent on from its XDP hook so far; null where it steers at tc alone.</summary>
    protected virtual long? XdpForwarded() => null;

    /// <summary>Whether a TSval step-back fails the test (printed either way).</summary>
    protected virtual bool AssertsStepBacks => true;

    protected static readonly string[] Hosts = ["client", "router", "be1", "be2", "be3"];

    // The counters that say a segment was sent again, or dropped as old, or answered a duplicate.
    private static readonly string[] Retransmissions =
        ["TcpRetransSegs", "TcpExtTCPLossProbes", "TcpExtTCPTimeouts", "TcpExtTCPFastRetrans", "TcpExtTCPSlowStartRetrans", "TcpExtTCPSackRecovery"];
    // What a sender does only when its receiver saw a hole (a loss or a reordering), and what a
    // receiver does when a segment's timestamp steps back. Timer-driven resends (tail loss probes,
    // timeouts) are left out: they fire on delay alone, and this host is shared.
    // TcpExtBeyondWindow: a segment dropped because it ended beyond the window, which a restored
    // copy with an older window than its predecessor's last ACK did (fixed 2026-12-03 in the dump).
    protected static readonly string[] LostOrReordered =
        ["TcpExtTCPFastRetrans", "TcpExtTCPSackRecovery", "TcpExtPAWSEstab", "TcpExtBeyondWindow"];
    private static readonly string[] OldSegments =
        ["TcpExtPAWSEstab", "TcpExtTSEcrRejected", "TcpExtDelayedACKLost", "TcpExtTCPDSACKOldSent", "TcpExtTCPACKSkippedPAWS"];

    // What the router and agents logged last: why a request failed is there, not in the client's view.
    protected static string Tail(BatonLab lab) =>
        string.Join('\n', new[] { ("router", lab.Router) }.Concat(lab.Agents.Select(a => (a.Key, a.Value)))
            .Select(p => $"--- {p.Item1}:\n" + string.Join('\n', p.Item2.Output.Split('\n').TakeLast(15))));

    [Fact]
    public async Task Every_segment_comes_from_the_connections_owner_and_timestamps_never_step_back()
    {
        var lab = Lab;
        var before = Counters(lab);
        long? xdpBefore = XdpForwarded();
        await using var watch = await WireWatch.StartAsync(lab);
        var result = await MixedLoad.RunAsync(ct => lab.ConnectClientAsync(ct), new MixedLoadOptions
        {
            Connections = 64,
            Requests = 3000,
            MaxResponse = 4 << 20,
            Seed = Environment.TickCount,
        });
        var wire = await watch.StopAsync();
        var moved = Delta(before, Counters(lab));
        Output.WriteLine(result.Summary());
        Output.WriteLine(wire.Describe(20));
        Output.WriteLine(moved);
        Assert.True(result.Failures.Count == 0, string.Join("\n", result.Failures) + "\n" + Tail(Lab));
        Assert.Equal(0, watch.Dropped);
        // Served by the router and all three back-ends.
        Assert.Equal(4, result.Requests.Select(r => r.Host).Distinct().Count());
        Assert.True(wire.Checked > 3000, $"only {wire.Checked} segments captured");
        Assert.True(wire.Strays.Count == 0 && (wire.StepBacks.Count == 0 || !AssertsStepBacks), wire.Describe(20));
        if (xdpBefore is { } x0) Assert.True(XdpForwarded() > x0, "no frame left from the router's XDP hook");
    }

    protected static Dictionary<string, Dictionary<string, long>> Counters(BatonLab lab) =>
        Hosts.ToDictionary(h => h, h => Netns.TcpCounters(lab.Net.Ns(h)));

    protected static string Delta(Dictionary<string, Dictionary<string, long>> before, Dictionary<string, Dictionary<string, long>> after)
    {
        var lines = new List<string>();
        foreach (var host in Hosts)
        {
            var changed = Retransmissions.Concat(OldSegments)
                .Select(k => (k, d: after[host].GetValueOrDefault(k) - before[host].GetValueOrDefault(k)))
                .Where(x => x.d != 0)
                .Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.k} +{x.d}"));
            lines.Add($"{host}: {string.Join(", ", changed.DefaultIfEmpty("none"))}");
        }
        return string.Join('\n', lines);
    }
}

/// <summary>One owner on the wire with the router steering at tc (the default).</summary>
[Collection(OwnerClusterCollection.Name)]
public sealed class OneOwnerTests(OwnerClusterFixture fixture, ITestOutputHelper output) : OneOwnerContract(output)
{
    protected override BatonLab Lab => fixture.Lab;

    /// <summary>
    /// Without loss, no host that serves a moving connection sees it lose or reorder anything:
    /// no fast retransmission and no SACK recovery at the router or any back-end, and no PAWS
    /// drop anywhere, under 16 keep-alive connections whose every request may go to another host
    /// (the random mix up to 1 MiB, uploads up to 256 KB, think time up to 10 ms).
    /// - Before the lab kept a flow's segments in order (RPS on its veths), this failed: 15 fast
    ///   retransmissions at be2 in one run; one connection alone drew 82 at the back-ends in 1,200
    ///   sequential requests. Before every dump closed its copy, PAWS drops.
    /// - Timer-driven resends are printed, not asserted: on 2 shared vCPUs a timer fires on delay
    ///   alone (one run in ten had a retransmission timeout at be1 while no request took 90 ms).
    /// - The client: no fast retransmission, no SACK recovery, no PAWS drop. Before holds ended
    ///   through `release` (44bf2ac), 2 of 7 runs failed here: an upload segment held while its
    ///   connection moved reached the new owner after a newer one (it was still on its way to the
    ///   hold queue when steering switched) and the client fast-retransmitted.
    /// - The client's tail loss probes are printed, not asserted: they fire 2 × SRTT + 2 jiffies
    ///   (8 ms here) after its last send when a hand-off carrying its upload takes longer than
    ///   that, about 1 in 1,200 requests at 4 connections, 4–10 at 16.
    /// </summary>
    [Fact]
    public async Task Without_loss_the_hosts_serving_moving_connections_see_nothing_lost_or_reordered()
    {
        var lab = Lab;
        var options = new MixedLoadOptions
        {
            Connections = 16,
            Requests = 2000,
            MaxResponse = 1 << 20,
            MaxUpload = 256_000,
            Pause = TimeSpan.FromMilliseconds(10),
            Seed = Environment.TickCount,
        };
        // Warm first: the first few hundred cycles of a fresh router and agents run code the JIT
        // has not compiled yet, and a hand-off that takes 10–50 ms then draws the client's probe.
        var warm = await MixedLoad.RunAsync(ct => lab.ConnectClientAsync(ct), options with { Requests = 600, Seed = options.Seed + 1 });
        Assert.Empty(warm.Failures);
        var before = Counters(lab);
        var result = await MixedLoad.RunAsync(ct => lab.ConnectClientAsync(ct), options);
        var after = Counters(lab);
        Output.WriteLine(result.Summary());
        Output.WriteLine(Delta(before, after));
        foreach (var r in result.Requests.OrderByDescending(r => r.Milliseconds).Take(5))
            Output.WriteLine($"slow: {r.Milliseconds:F0} ms {r.Method} {r.Path} from {r.Host}, connection {r.Connection}");
        Assert.True(result.Failures.Count == 0, string.Join("\n", result.Failures) + "\n" + Tail(Lab));
        Assert.Equal(4, result.Requests.Select(r => r.Host).Distinct().Count());
        foreach (var host in Hosts)
            foreach (var counter in LostOrReordered)
                Assert.True(after[host].GetValueOrDefault(counter) == before[host].GetValueOrDefault(counter),
                    $"{host}: {counter} +{after[host].GetValueOrDefault(counter) - before[host].GetValueOrDefault(counter)}\n{Delta(before, after)}");
    }

    /// <summary>
    /// The router stops on SIGTERM in the middle of a many-connection mix, within a bounded time,
    /// with exit code 0, and leaves nothing on its host: no tc filter, no hold devices, no nftables
    /// table. Until 2026-12-03, System.CommandLine ended the process 2 s after the signal, while the
    /// router still waited (up to 3 s) for connections away at agents, so its clean-up never ran.
    /// </summary>
    [Fact]
    public async Task The_router_stopped_under_load_exits_in_bounded_time_and_leaves_nothing_behind()
    {
        var lab = Lab;
        using var stopLoad = new CancellationTokenSource();
        var load = MixedLoad.RunAsync(ct => lab.ConnectClientAsync(ct), new MixedLoadOptions
        {
            Connections = 16,
            Requests = 1_000_000,
            RequestTimeout = TimeSpan.FromSeconds(5),
        }, stopLoad.Token);
        // And one connection away at be1 in a transaction that does not end: its body stops
        // half-way, so the router's stop waits for it as long as it waits for any (3 s).
        using var slow = await lab.ConnectClientAsync();
        try
        {
            await new RawHttp(slow).SendAsync("POST /be1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789");
            await Task.Delay(2000);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            lab.Router.Stop(TimeSpan.FromSeconds(20));
            Output.WriteLine($"router exited {lab.Router.ExitCode} after {sw.Elapsed.TotalSeconds:F2} s");
            Assert.True(lab.Router.HasExited);
            Assert.Equal(0, lab.Router.ExitCode); // 137 would be the kill after the grace
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"router took {sw.Elapsed.TotalSeconds:F1} s to stop");
            Assert.Equal(0, RouterSteering.BpfFilters(lab));
            Assert.Equal(0, RouterSteering.NftTables(lab));
            Assert.DoesNotContain(Baton.Steering.Hold.HoldDevice.Name, Netns.ExecIn(lab.Net.Ns("router"), "ip", "-o", "link", "show"));
        }
        finally
        {
            stopLoad.Cancel();
            // The load ends on the cancellation; its requests cut by the stop are not this test's subject.
            try { await load; } catch (OperationCanceledException) { }
            await lab.StartRouterAsync();
        }
    }

}

/// <summary>
/// One owner on the wire with the router forwarding moved connections' frames from its XDP hook
/// (<c>Baton:Xdp</c>), on a lab wire prepared for it (<see cref="NetnsCluster.PrepareForXdp"/>).
/// The no-loss test of <see cref="OneOwnerTests"/> is not run here: on this wire it failed 1 run in
/// 6 with the client fast-retransmitting (+9, +17), with XDP and with tc steering alike
/// (2026-12-07), so the reordering comes from the prepared wire, and its cause is not found yet.
/// </summary>
[Collection(OwnerXdpClusterCollection.Name)]
public sealed class OneOwnerXdpTests(OwnerXdpClusterFixture fixture, ITestOutputHelper output) : OneOwnerContract(output)
{
    protected override BatonLab Lab => fixture.Lab;

    protected override long? XdpForwarded() => Netns.XdpTxFrames(Lab.Net.Ns("router"), "eth0");

    // A step-back in the server-to-client direction, which XDP does not touch (it steers only the
    // client's frames), was seen once in 9 runs here: be2's first ACK 3 ms behind the router's last
    // segment after a hand-off (CI, 2026-12-07). It is the open problem OneOwnerTests asserts (1 run
    // in ~27 there, TcpRepair.PacingLeadMs), so it is printed here and asserted there, once.
    protected override bool AssertsStepBacks => false;
}

/// <summary>
/// A cluster whose router and agents trace ownership, for the one-owner tests alone; with
/// <paramref name="xdp"/> the router forwards at XDP on a lab wire prepared for it.
/// </summary>
public abstract class OwnerLabFixture(string prefix, bool xdp) : IAsyncLifetime
{
    public BatonLab Lab { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Assert.True(Netns.IsRoot, "cluster tests need root (network namespaces, TCP_REPAIR): run them as root, as CI does");
        Assert.True(WireCapture.Tool is not null, "tcpdump is missing (baton.sh test installs it)");
        Lab = await BatonLab.StartAsync(prefix, ClusterFixture.Subnet, ClusterFixture.IdleTimeout, steering: xdp ? "bpf" : ClusterFixture.Steering,
            traceOwnership: true, configure: xdp ? c => c["Baton"]!["Xdp"] = true : null);
        if (!xdp) return;
        Lab.Net.PrepareForXdp("client");
        Assert.DoesNotContain("XDP forwarding unavailable", Lab.Router.Output);
    }

    public async Task DisposeAsync()
    {
        if (Lab is not null) await Lab.DisposeAsync();
        Assert.DoesNotContain(Netns.List(), n => n.StartsWith(prefix + "-", StringComparison.Ordinal));
    }
}

/// <summary>For <see cref="OneOwnerTests"/>: tc steering, veth defaults.</summary>
public sealed class OwnerClusterFixture() : OwnerLabFixture(ClusterFixture.Prefix + "o", xdp: false);

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class OwnerClusterCollection : ICollectionFixture<OwnerClusterFixture>
{
    public const string Name = "owner-cluster";
}

/// <summary>For <see cref="OneOwnerXdpTests"/>: <c>Baton:Xdp</c>, the lab's wire prepared for it.</summary>
public sealed class OwnerXdpClusterFixture() : OwnerLabFixture(ClusterFixture.Prefix + "x", xdp: true);

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class OwnerXdpClusterCollection : ICollectionFixture<OwnerXdpClusterFixture>
{
    public const string Name = "owner-xdp-cluster";
}
