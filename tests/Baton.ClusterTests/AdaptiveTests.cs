using System.Text.Json.Nodes;
using Baton.Lab;
using Xunit.Abstractions;

namespace Baton.ClusterTests;

/// <summary>
/// An adaptive cluster on the namespace cluster: every back-end runs its agent and an HTTP origin
/// (<c>baton origin</c>) with the same application. On one client connection, a small response is
/// relayed (it crosses the router's interface), a large one is relayed the first time (its size is
/// unknown) and handed off from then on (it no longer crosses the router), and no reset is seen.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class AdaptiveTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private const int OriginPort = 8080;
    private BatonLab Lab => fixture.Lab;

    [Fact]
    public async Task Small_responses_are_relayed_and_large_ones_handed_off_once_their_size_is_known()
    {
        var origins = new List<BatonProcess>();
        string original = File.ReadAllText(Lab.ConfigFile);
        try
        {
            await StartOriginsWithAdaptiveConfigAsync(origins, original);
            await Lab.StartRouterAsync();

            long resets = Netns.SnmpCounter(Lab.Net.Ns("client"), "Tcp", "EstabResets");
            using var socket = await Lab.ConnectClientAsync();
            var http = new RawHttp(socket);
            const int large = 2 << 20, small = 4096;

            var first = await Served(http, $"/media/bytes/{large}", large);
            Assert.True(first.Relayed, $"a response of unknown size must be relayed (router sent {first.RouterTx} bytes)");
            var second = await Served(http, $"/media/bytes/{large}", large);
            Assert.False(second.Relayed, $"a response known to be large must be handed off (router sent {second.RouterTx} bytes)");
            Assert.True(second.HandedOff, "the handed-off response carries the agent's Baton-Handoff-Us");
            for (int i = 0; i < 3; i++)
            {
                var s = await Served(http, $"/page/bytes/{small}", small);
                Assert.True(s.Relayed && !s.HandedOff, $"a small response must be relayed (router sent {s.RouterTx} bytes)");
            }
            var third = await Served(http, $"/media/bytes/{large}", large);
            Assert.False(third.Relayed, $"router sent {third.RouterTx} bytes");
            Assert.Equal(0, Netns.SnmpCounter(Lab.Net.Ns("client"), "Tcp", "EstabResets") - resets);
        }
        finally
        {
            File.WriteAllText(Lab.ConfigFile, original);
            await Lab.StartRouterAsync();
            foreach (var o in origins) o.Dispose();
        }
    }

    [Fact]
    public async Task A_connection_whose_next_large_response_is_elsewhere_passes_from_agent_to_agent()
    {
        // As in ShortcutTests: the router's --timings file says how the connection reached each agent
        // and left it. Before, an adaptive destination was never passed to: every hand-off came
        // back (restore, parse, dump at the router) before the next one, twice the router's work.
        string csv = Path.Combine(Lab.Directory, "adaptive-timings.csv");
        File.Delete(csv);
        var origins = new List<BatonProcess>();
        string original = File.ReadAllText(Lab.ConfigFile);
        try
        {
            await StartOriginsWithAdaptiveConfigAsync(origins, original);
            Lab.Router.Stop(TimeSpan.FromSeconds(10));
            await Lab.StartRouterAsync("--timings", csv);

            long resets = Netns.SnmpCounter(Lab.Net.Ns("client"), "Tcp", "EstabResets");
            using var socket = await Lab.ConnectClientAsync();
            var http = new RawHttp(socket);
            const int large = 1 << 20;
            string path = $"/media/bytes/{large}";
            Assert.True((await Served(http, path, large)).Relayed, "the first one, of unknown size, is relayed");
            // Sent at once: each next request is at the agent when the one before it is done, and
            // round robin sends each to another back-end.
            await http.SendAsync(RawHttp.Get(path) + RawHttp.Get(path) + RawHttp.Get(path));
            var hosts = new List<string>();
            for (int i = 0; i < 3; i++)
            {
                var r = await http.ReadResponseAsync(TimeSpan.FromSeconds(10));
                Assert.Equal(200, r.Status);
                TransferModeContract.AssertPattern(r.Body, large);
                Assert.True(r.Header("Baton-Handoff-Us").Length > 0, "handed off");
                hosts.Add(r.Header("Baton-Host"));
            }
            Assert.Equal(3, hosts.Distinct().Count());
            Assert.Equal(200, (await http.RequestAsync("/router/home")).Status);
            Assert.Equal(0, Netns.SnmpCounter(Lab.Net.Ns("client"), "Tcp", "EstabResets") - resets);
            Lab.Router.Stop(TimeSpan.FromSeconds(10));
            var paths = File.ReadAllLines(csv).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')[^1]).ToArray();
            Assert.Equal(["handoff>pass", "pass>pass", "pass>return"], paths);
        }
        finally
        {
            File.WriteAllText(Lab.ConfigFile, original);
            if (!Lab.Router.HasExited) Lab.Router.Stop(TimeSpan.FromSeconds(10));
            await Lab.StartRouterAsync();
            foreach (var o in origins) o.Dispose();
        }
    }

    // `baton origin` on every back-end (added to origins, which the caller stops), then the lab's
    // configuration switched to the adaptive cluster; the router is the caller's to restart.
    private async Task StartOriginsWithAdaptiveConfigAsync(List<BatonProcess> origins, string original)
    {
        foreach (var be in Lab.Net.Backends)
            origins.Add(BatonProcess.Start(Lab.Net.Ns(be), $"origin-{be}", ["origin", "--name", be, "--listen", $"{Lab.Net.AddressOf(be)}:{OriginPort}"]));
        foreach (var o in origins)
            Assert.True(await o.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(30)), o.Output);
        File.WriteAllText(Lab.ConfigFile, AdaptiveConfig(original).ToJsonString());
    }

    private sealed record Result(bool Relayed, bool HandedOff, long RouterTx);

    private async Task<Result> Served(RawHttp http, string path, int size)
    {
        long tx0 = Netns.TxBytes(Lab.Net.Ns("router"), "eth0");
        var r = await http.RequestAsync(path);
        long tx = Netns.TxBytes(Lab.Net.Ns("router"), "eth0") - tx0;
        Assert.Equal(200, r.Status);
        Assert.Contains(r.Header("Baton-Host"), Lab.Net.Backends);
        TransferModeContract.AssertPattern(r.Body, size);
        output.WriteLine($"{path}: {r.Header("Baton-Host")}, router eth0 sent {tx} bytes, Baton-Handoff-Us '{r.Header("Baton-Handoff-Us")}'");
        return new Result(tx >= size, r.Header("Baton-Handoff-Us").Length > 0, tx);
    }

    /// <summary>The lab's configuration with every route but /router/ going to one adaptive cluster over be1..be3.</summary>
    private JsonObject AdaptiveConfig(string original)
    {
        var config = JsonNode.Parse(original)!.AsObject();
        var dests = new JsonObject();
        foreach (var be in Lab.Net.Backends)
            dests[be] = new JsonObject { ["Address"] = $"http://{Lab.Net.AddressOf(be)}:{OriginPort}/", ["Agent"] = Lab.Net.ControlEndpointOf(be).ToString() };
        config["ReverseProxy"] = new JsonObject
        {
            ["Routes"] = new JsonObject
            {
                ["router"] = new JsonObject { ["ClusterId"] = "router", ["Match"] = new JsonObject { ["Path"] = "/router/{**rest}" } },
                ["all"] = new JsonObject { ["ClusterId"] = "all", ["Match"] = new JsonObject { ["Path"] = "/{**rest}" } },
            },
            ["Clusters"] = new JsonObject
            {
                ["router"] = new JsonObject { ["Transfer"] = "router" },
                ["all"] = new JsonObject { ["Transfer"] = "adaptive", ["HandoffAbove"] = "131072", ["LoadBalancingPolicy"] = "RoundRobin", ["Destinations"] = dests },
            },
        };
        return config;
    }
}
