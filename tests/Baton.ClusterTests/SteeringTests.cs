using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Baton.Lab;
using Baton.Steering;
using Baton.Steering.Bpf;

namespace Baton.ClusterTests;

/// <summary>
/// What the router's flow steering holds, read from the router's namespace whichever
/// implementation it runs: the eBPF map through the program attached at Baton's tc handle (by
/// program id, no pinning, no bpftool), or the nftables map through <c>nft</c>.
/// </summary>
internal static partial class RouterSteering
{
    public const string Device = "eth0";

    /// <summary>Baton filters on the router's eth0 ingress (tc's own listing).</summary>
    public static int BpfFilters(BatonLab lab) =>
        Netns.ExecIn(lab.Net.Ns("router"), "tc", "filter", "show", "dev", Device, "ingress")
            .Split('\n').Count(l => l.Contains($"handle 0x{TcIngressFilter.Handle:x} ", StringComparison.Ordinal));

    /// <summary>Baton nftables tables in the router's namespace.</summary>
    public static int NftTables(BatonLab lab) =>
        Netns.ExecIn(lab.Net.Ns("router"), "nft", "list", "tables").Split('\n').Count(l => l.Trim() == $"table netdev {NftFlowSteering.TableName}");

    /// <summary>The implementation whose state is on the router's interface; fails when there is none or both.</summary>
    public static SteeringKind InUse(BatonLab lab) => (BpfFilters(lab), NftTables(lab)) switch
    {
        (1, 0) => SteeringKind.Bpf,
        (0, 1) => SteeringKind.NfTables,
        var (b, n) => throw new InvalidOperationException($"router steering: {b} Baton tc filters and {n} Baton nftables tables"),
    };

    /// <summary>Client ports with a steering entry (block or forward).</summary>
    public static IReadOnlyList<int> ClientPorts(BatonLab lab) =>
        Bpf(lab) is { } entries
            ? entries.Select(e => e.Client.Port).ToList()
            : NftElement().Matches(NftMap(lab)).Select(m => int.Parse(m.Groups[1].Value)).ToList();

    /// <summary>The entries as text, for failure messages.</summary>
    public static string Describe(BatonLab lab) =>
        Bpf(lab) is { } entries
            ? "eBPF conns: " + string.Join(", ", entries.Select(e => $"{e.Client} {e.Action} {e.BackendMac}"))
            : NftMap(lab);

    private static List<FlowEntry>? Bpf(BatonLab lab) => Netns.Run(lab.Net.Ns("router"), () => BpfFlowSteering.ReadAttached(Device));

    private static string NftMap(BatonLab lab) => Netns.ExecIn(lab.Net.Ns("router"), "nft", "list", "map", "netdev", NftFlowSteering.TableName, "conns");

    // "10.77.5.10 . 43512 : drop" / ": goto to_be1"
    [GeneratedRegex(@"\. (\d+) :")]
    private static partial Regex NftElement();
}

/// <summary>
/// The router's steering state lives exactly as long as the router, crashes included: one body
/// over both implementations.
/// </summary>
public abstract class SteeringLifecycleContract
{
    protected abstract BatonLab Lab { get; }

    /// <summary>The steering this lab's router must run.</summary>
    protected abstract SteeringKind Expected { get; }

    private int Instances() => Expected == SteeringKind.Bpf ? RouterSteering.BpfFilters(Lab) : RouterSteering.NftTables(Lab);

    [Fact]
    public async Task Router_removes_its_steering_at_stop_and_replaces_a_crashed_runs_at_start()
    {
        var lab = Lab;
        try
        {
            Assert.Equal(Expected, RouterSteering.InUse(lab));
            lab.Router.Kill(); // crash: the table or filter stays behind
            Assert.Equal(1, Instances());

            await lab.StartRouterAsync();
            Assert.Equal(Expected, RouterSteering.InUse(lab)); // exactly one, of the right kind
            using (var s = await lab.ConnectClientAsync())
                Assert.Equal("be2", (await new RawHttp(s).RequestAsync("/be2/after-crash")).Header("Baton-Host"));

            lab.Router.Stop(TimeSpan.FromSeconds(10)); // graceful: SIGTERM
            Assert.True(lab.Router.HasExited);
            Assert.Equal(0, RouterSteering.BpfFilters(lab));
            Assert.Equal(0, RouterSteering.NftTables(lab));
        }
        finally
        {
            await lab.StartRouterAsync();
        }
    }
}

/// <summary>The lifecycle on the shared cluster: eBPF by default (it loads on this kernel), or what BATON_TEST_STEERING forces.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SteeringLifecycleTests(ClusterFixture fixture) : SteeringLifecycleContract
{
    protected override BatonLab Lab => fixture.Lab;

    protected override SteeringKind Expected =>
        ClusterFixture.Steering?.ToLowerInvariant() == "nftables" ? SteeringKind.NfTables : SteeringKind.Bpf;
}

/// <summary>
/// A second namespace cluster whose router is told <c>Baton:Steering: nftables</c>, so that one
/// run covers both implementations (namespaces <c>{prefix}n-*</c>; its own bridge, so the same
/// subnet does not meet the other cluster's).
/// </summary>
public sealed class NftClusterFixture : IAsyncLifetime
{
    public static readonly string Prefix = ClusterFixture.Prefix + "n";

    public BatonLab Lab { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Assert.True(Netns.IsRoot, "cluster tests need root (network namespaces, TCP_REPAIR): run them as root, as CI does");
        Lab = await BatonLab.StartAsync(Prefix, ClusterFixture.Subnet, ClusterFixture.IdleTimeout, steering: "nftables");
    }

    public async Task DisposeAsync()
    {
        if (Lab is not null) await Lab.DisposeAsync();
        Assert.DoesNotContain(Netns.List(), n => n.StartsWith(Prefix + "-", StringComparison.Ordinal));
    }
}

[CollectionDefinition(Name)]
public sealed class NftClusterCollection : ICollectionFixture<NftClusterFixture>
{
    public const string Name = "nft-cluster";
}

/// <summary>The transfer contract with the router steering through nftables.</summary>
[Collection(NftClusterCollection.Name)]
public sealed class NftHandoffModeTests(NftClusterFixture fixture) : TransferModeContract
{
    protected override IBatonLab Lab => fixture.Lab;
    protected override bool MovesTheConnection => true;
}

/// <summary>The lifecycle with nftables steering.</summary>
[Collection(NftClusterCollection.Name)]
public sealed class NftSteeringLifecycleTests(NftClusterFixture fixture) : SteeringLifecycleContract
{
    protected override BatonLab Lab => fixture.Lab;
    protected override SteeringKind Expected => SteeringKind.NfTables;
}

/// <summary>How the router picks its steering: auto's fallback, and a change of kind after a crash.</summary>
[Collection(NftClusterCollection.Name)]
public sealed class SteeringSelectionTests(NftClusterFixture fixture)
{
    [Fact]
    public async Task Auto_falls_back_to_nftables_with_one_line_saying_why()
    {
        var lab = fixture.Lab;
        string ns = lab.Net.Ns("router");
        string other = Path.Combine(lab.Directory, "other.bpf.o");
        lab.Router.Stop(TimeSpan.FromSeconds(10));
        try
        {
            // Someone else's filter at Baton's tc priority for another protocol: the kernel refuses
            // Baton's attach there (EINVAL), a real failure with no hook in the product.
            File.WriteAllBytes(other, SteerProgram.EmbeddedObject());
            try { Netns.ExecIn(ns, "tc", "qdisc", "add", "dev", RouterSteering.Device, "clsact"); }
            catch (InvalidOperationException) { } // exists already
            Netns.ExecIn(ns, "tc", "filter", "add", "dev", RouterSteering.Device, "ingress", "pref", $"{TcIngressFilter.Priority}",
                "protocol", "ip", "bpf", "obj", other, "sec", "tc", "da");

            using var router = await StartRouterAsync(lab, "auto");
            var why = router.Output.Split('\n').Where(l => l.Contains("eBPF steering did not load", StringComparison.Ordinal)).ToList();
            Assert.Single(why);
            Assert.Contains("bpf_tc_attach", why[0]);
            Assert.Equal(SteeringKind.NfTables, RouterSteering.InUse(lab));
            using (var s = await lab.ConnectClientAsync())
                Assert.Equal("be1", (await new RawHttp(s).RequestAsync("/be1/after-fallback")).Header("Baton-Host"));
            router.Stop(TimeSpan.FromSeconds(10));
        }
        finally
        {
            try { Netns.ExecIn(ns, "tc", "filter", "del", "dev", RouterSteering.Device, "ingress", "pref", $"{TcIngressFilter.Priority}"); }
            catch (InvalidOperationException) { }
            await lab.StartRouterAsync();
        }
    }

    [Fact]
    public async Task A_router_that_changes_steering_after_a_crash_removes_what_the_other_kind_left()
    {
        var lab = fixture.Lab;
        try
        {
            lab.Router.Kill(); // the nftables table stays behind
            Assert.Equal(1, RouterSteering.NftTables(lab));
            using (var bpf = await StartRouterAsync(lab, "bpf"))
            {
                Assert.Equal(SteeringKind.Bpf, RouterSteering.InUse(lab)); // and no table
                using (var s = await lab.ConnectClientAsync())
                    Assert.Equal("be3", (await new RawHttp(s).RequestAsync("/be3/with-bpf")).Header("Baton-Host"));
                bpf.Kill(); // the filter stays behind
            }
            Assert.Equal(1, RouterSteering.BpfFilters(lab));
            await lab.StartRouterAsync(); // nftables again
            Assert.Equal(SteeringKind.NfTables, RouterSteering.InUse(lab)); // and no filter
        }
        finally
        {
            if (lab.Router.HasExited) await lab.StartRouterAsync();
        }
    }

    // A router of the lab's configuration with another Baton:Steering, connected to every agent.
    private static async Task<BatonProcess> StartRouterAsync(BatonLab lab, string steering)
    {
        string config = Path.Combine(lab.Directory, $"router-{steering}.json");
        var json = JsonNode.Parse(File.ReadAllText(lab.ConfigFile))!;
        json["Baton"]!["Steering"] = steering;
        File.WriteAllText(config, json.ToJsonString());
        var router = BatonProcess.Start(lab.Net.Ns("router"), $"{steering}-router", ["router", "--config", config]);
        StaleProcesses.Record(lab.Net.Prefix, router.Pid);
        foreach (var be in lab.Net.Backends)
            if (!await router.WaitForOutputAsync($"agent {be} connected", TimeSpan.FromSeconds(30)))
            {
                router.Dispose();
                Assert.Fail($"{steering} router did not connect to {be}:\n{router.Output}");
            }
        return router;
    }
}
