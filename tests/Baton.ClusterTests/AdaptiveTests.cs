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
            foreach (var be in Lab.Net.Backends)
                origins.Add(BatonProcess.Start(Lab.Net.Ns(be), $"origin-{be}", ["origin", "--name", be, "--listen", $"{Lab.Net.AddressOf(be)}:{OriginPort}"]));
            foreach (var o in origins)
                Assert.True(await o.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(30)), o.Output);
            File.WriteAllText(Lab.ConfigFile, AdaptiveConfig(original).ToJsonString());
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
