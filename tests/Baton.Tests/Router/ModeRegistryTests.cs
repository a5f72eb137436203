using Baton.Configuration;
using System.Net;
using Baton.Modes.Relay;
using Baton.Router;
using Baton.Routing;
using Microsoft.Extensions.Logging.Abstractions;
using Baton.Modes.Adaptive;
using Baton.Modes.Handoff;
using Baton.Modes.Local;

namespace Baton.Tests.Router;

/// <summary>
/// Which modes a router starts, and what a reload may add: a mode that needs the router's start
/// (steering, a worker socket), or is made of one, is refused with the cluster named.
/// </summary>
public sealed class ModeRegistryTests
{
    private static Cluster Relay(string id) =>
        new(id, RelayKind.Instance, [new Destination($"{id}-d", Url: new Uri("http://127.0.0.1:9/"))]);

    private static RouterOptions Options(params Cluster[] clusters) => new()
    {
        Listen = new IPEndPoint(IPAddress.Loopback, 0),
        Routes = new RouteTable([], clusters),
    };

    [Fact]
    public async Task A_relay_router_makes_relay_targets_and_refuses_a_reload_that_adds_handoff_local_or_adaptive()
    {
        var options = Options(Relay("web"));
        await using var modes = new ModeRegistry(options, NullLoggerFactory.Instance, NullLogger.Instance);
        modes.StartFor(options.Routes);

        var web = options.Routes.Clusters["web"];
        Assert.IsType<RelayTarget>(modes.For(web).CreateTarget(web, web.Destinations[0]));
        // Relay needs nothing from the start: a reload may add another relay cluster.
        var more = Relay("more");
        Assert.IsType<RelayTarget>(modes.For(more).CreateTarget(more, more.Destinations[0]));

        var handoff = new Cluster("agents", HandoffKind.Instance, [new Destination("be1", ControlEndpoint: new IPEndPoint(IPAddress.Loopback, 7))]);
        var local = new Cluster("workers", LocalKind.Instance, [new Destination("w1")]);
        var adaptive = new Cluster("mixed", AdaptiveKind.Instance, [new Destination("be2", new IPEndPoint(IPAddress.Loopback, 7), new Uri("http://127.0.0.1:9/"))]);
        Assert.Equal("ReverseProxy:Clusters:agents: handoff clusters added by a reload need a restart (the router started without steering)",
            Assert.Throws<ConfigException>(() => modes.For(handoff)).Message);
        Assert.Equal("ReverseProxy:Clusters:workers: local clusters added by a reload need a restart (the router started without a worker socket)",
            Assert.Throws<ConfigException>(() => modes.For(local)).Message);
        // Adaptive is made of hand-off: refused for the same reason.
        Assert.Equal("ReverseProxy:Clusters:mixed: adaptive clusters added by a reload need a restart (the router started without steering)",
            Assert.Throws<ConfigException>(() => modes.For(adaptive)).Message);
    }

    [Fact]
    public async Task Each_modes_timings_claim_the_file_in_registration_order_and_the_rest_go_next_to_it()
    {
        Assert.Equal("/tmp/t.csv.local.csv", ModeRegistry.TimingsFileOf("/tmp/t.csv", LocalKind.Instance));
        var options = Options(Relay("web")) with { TimingsFile = Path.Combine(Path.GetTempPath(), $"baton-{Guid.NewGuid():N}.csv") };
        await using var modes = new ModeRegistry(options, NullLoggerFactory.Instance, NullLogger.Instance);
        modes.StartFor(options.Routes);
        // Relay keeps no timings: nothing is written.
        modes.WriteTimings(options.TimingsFile!);
        Assert.False(File.Exists(options.TimingsFile));
    }
}

/// <summary>The catalog is the one list of modes: every mode in the code is in it, once, by a unique name.</summary>
public sealed class ModeCatalogTests
{
    [Fact]
    public void Every_transfer_mode_in_the_code_is_listed_once_under_a_unique_name()
    {
        var defined = typeof(Baton.Modes.TransferMode).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(Baton.Modes.TransferMode)) && !t.IsAbstract)
            .OrderBy(t => t.Name).ToList();
        Assert.Equal(defined, Baton.Modes.ModeCatalog.All.Select(m => m.GetType()).OrderBy(t => t.Name));
        Assert.Equal(Baton.Modes.ModeCatalog.All.Count, Baton.Modes.ModeCatalog.All.Select(m => m.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count());
        foreach (var m in Baton.Modes.ModeCatalog.All)
        {
            Assert.Same(m, Baton.Modes.ModeCatalog.Named(m.Name.ToUpperInvariant()));
            Assert.Equal(m.Name.ToLowerInvariant(), m.Name);
        }
    }
}
