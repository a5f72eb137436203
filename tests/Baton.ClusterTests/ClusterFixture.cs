using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>
/// One namespace cluster (client, router, be1..be3) with real router and agent processes, shared by
/// the tests of the collection. It needs root; without it every test fails (CI must not skip them).
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    /// <summary>
    /// Namespace prefix and 10.77.x subnet of the cluster; BATON_TEST_PREFIX and BATON_TEST_SUBNET
    /// override them so that two checkouts can run the cluster tests at once without sharing hosts.
    /// </summary>
    public static readonly string Prefix = Environment.GetEnvironmentVariable("BATON_TEST_PREFIX") is { Length: > 0 } p ? p : "btct";

    public static readonly int Subnet = int.TryParse(Environment.GetEnvironmentVariable("BATON_TEST_SUBNET"), out int s) ? s : 5;

    /// <summary>
    /// The router's Baton:Steering: BATON_TEST_STEERING (bpf, nftables, auto) runs the whole suite
    /// over one implementation; unset, the router's default (eBPF where it loads).
    /// </summary>
    public static readonly string? Steering = Environment.GetEnvironmentVariable("BATON_TEST_STEERING") is { Length: > 0 } st ? st : null;
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(4);

    public BatonLab Lab { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Assert.True(Netns.IsRoot, "cluster tests need root (network namespaces, TCP_REPAIR): run them as root, as CI does");
        Lab = await BatonLab.StartAsync(Prefix, Subnet, IdleTimeout, steering: Steering, metrics: true, admin: true);
    }

    public async Task DisposeAsync()
    {
        if (Lab is not null) await Lab.DisposeAsync();
        Assert.DoesNotContain(Netns.List(), n => n.StartsWith(Prefix + "-", StringComparison.Ordinal));
    }

    /// <summary>Restarts an agent the test stopped or killed, and waits until the router uses it again.</summary>
    public async Task RestoreAgentAsync(string backend)
    {
        var p = Lab.StartAgent(backend);
        Assert.True(await p.WaitForOutputAsync("router connected", TimeSpan.FromSeconds(30)), p.Output);
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
