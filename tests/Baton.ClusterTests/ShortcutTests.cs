using System.Text.Json.Nodes;
using Baton.Lab;
using Baton.Application;
using Baton.Modes.Handoff.Router;

namespace Baton.ClusterTests;

/// <summary>
/// The same-target shortcut: a next request that is already at the agent when a transaction ends
/// is routed by the router without the connection; when it goes to the same agent it is served
/// there (no return, no new hand-off), otherwise the connection comes back and goes where the
/// router decided: to another agent straight from this one (a pass), or back to the router.
/// Routing is exactly as if every request had come back.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ShortcutTests(ClusterFixture fixture)
{
    private BatonLab Lab => fixture.Lab;

    [Fact]
    public async Task Pipelined_requests_for_the_same_backend_stay_there_and_mixed_paths_route_as_without_it()
    {
        long resets = Netns.SnmpCounter(Lab.Net.Ns("client"), "Tcp", "EstabResets");
        using var socket = await Lab.ConnectClientAsync();
        var http = new RawHttp(socket);
        // (path, host, handed off for this request): sent all at once, so each next request is
        // already at the agent when the one before it is done.
        (string Path, string Host, bool HandedOff)[] plan =
        [
            ("/be1/a", "be1", true), ("/be1/b", "be1", false), ("/be1/c", "be1", false),
            ("/be2/d", "be2", true), ("/be2/e", "be2", false),
            ("/router/f", "router", false),
            ("/be1/g", "be1", true), ("/be1/h", "be1", false),
            ("/be3/i", "be3", true), ("/be1/j", "be1", true),
        ];
        await http.SendAsync(string.Concat(plan.Select(p => RawHttp.Get(p.Path))));
        foreach (var (path, host, handedOff) in plan)
        {
            var r = await http.ReadResponseAsync();
            Assert.Equal(200, r.Status);
            Assert.Equal(host, r.Header("Baton-Host"));
            Assert.Equal($"served by {host}: GET {path}\n", r.Text);
            // Baton-Handoff-Us: the agent's answer to a request that a hand-off brought there.
            Assert.True(handedOff == (r.Header("Baton-Handoff-Us").Length > 0),
                $"{path}: expected {(handedOff ? "a hand-off" : "no hand-off")}, Baton-Handoff-Us '{r.Header("Baton-Handoff-Us")}'");
        }
        // A stayed request that asks for close ends the connection there, cleanly.
        await http.SendAsync(RawHttp.Get("/be2/k") + RawHttp.Get("/be2/last", close: true));
        Assert.Equal("be2", (await http.ReadResponseAsync()).Header("Baton-Host"));
        var last = await http.ReadResponseAsync();
        Assert.Equal(("be2", ""), (last.Header("Baton-Host"), last.Header("Baton-Handoff-Us")));
        Assert.True(await http.WaitForCloseAsync(TimeSpan.FromSeconds(5)), "the connection was not closed after Connection: close");
        Assert.Equal(0, Netns.SnmpCounter(Lab.Net.Ns("client"), "Tcp", "EstabResets") - resets);
    }

    [Fact]
    public async Task A_connection_goes_from_agent_to_agent_without_coming_back_to_the_router()
    {
        // The router's --timings file says, per stay at an agent, how the connection arrived and
        // left (handoff or pass in, return or pass out): the only place the path shows, since the
        // client must see no difference.
        string csv = Path.Combine(Lab.Directory, "pass-timings.csv");
        File.Delete(csv);
        Lab.Router.Stop(TimeSpan.FromSeconds(10));
        try
        {
            await Lab.StartRouterAsync("--timings", csv);
            long resets = Netns.SnmpCounter(Lab.Net.Ns("client"), "Tcp", "EstabResets");
            using var socket = await Lab.ConnectClientAsync();
            var http = new RawHttp(socket);
            const int size = 1 << 20;
            // Sent at once: each next request is at the agent when the one before it is done.
            (string Path, string Host)[] plan =
            [
                ("/be1/a", "be1"), ($"/be2/bytes/{size}", "be2"), ("/be3/c", "be3"),
                ($"/be1/bytes/{size}", "be1"), ("/be2/e", "be2"), ("/router/f", "router"),
            ];
            long tx0 = Netns.TxBytes(Lab.Net.Ns("router"), "eth0");
            await http.SendAsync(string.Concat(plan.Select(p => RawHttp.Get(p.Path))));
            foreach (var (path, host) in plan)
            {
                var r = await http.ReadResponseAsync(TimeSpan.FromSeconds(10));
                Assert.Equal(200, r.Status);
                Assert.Equal(host, r.Header("Baton-Host"));
                if (path.Contains("/bytes/"))
                {
                    Assert.Equal(size, r.Body.Length);
                    for (int i = 0; i < size; i++)
                        if (r.Body[i] != BuiltInApplication.PatternByte(i)) Assert.Fail($"{path}: body differs at byte {i}");
                }
                else Assert.Equal($"served by {host}: GET {path}\n", r.Text);
                // A hand-off (from the router or from the agent before) brought each one there.
                Assert.True(host == "router" || r.Header("Baton-Handoff-Us").Length > 0, $"{path}: no Baton-Handoff-Us");
            }
            long routerTx = Netns.TxBytes(Lab.Net.Ns("router"), "eth0") - tx0;
            Assert.True(routerTx < 2 * size / 20, $"router transmitted {routerTx} bytes for two {size}-byte responses");
            // Once more through a plain hand-off and return, then the router writes its timings.
            Assert.Equal("be3", (await http.RequestAsync("/be3/g")).Header("Baton-Host"));
            Assert.Equal("router", (await http.RequestAsync("/router/home")).Header("Baton-Host"));
            Assert.Equal(0, Netns.SnmpCounter(Lab.Net.Ns("client"), "Tcp", "EstabResets") - resets);
            Lab.Router.Stop(TimeSpan.FromSeconds(10));
            var lines = File.ReadAllLines(csv);
            Assert.Equal(HandoffTimings.CsvHeader, lines[0]);
            var paths = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')[^1]).ToArray();
            // be1 → be2 → be3 → be1 → be2 passed, be2 → router returned; be3 handed off and returned.
            Assert.Equal(["handoff>pass", "pass>pass", "pass>pass", "pass>pass", "pass>return", "handoff>return"], paths);
        }
        finally
        {
            if (!Lab.Router.HasExited) Lab.Router.Stop(TimeSpan.FromSeconds(10));
            await Lab.StartRouterAsync();
        }
    }

    [Fact]
    public async Task Round_robin_sees_each_request_once_when_the_next_one_goes_elsewhere()
    {
        // With two destinations round robin alternates. The router picks for the next request while
        // the connection is still at the agent; it must use that pick after the return, not pick
        // again (which would send two requests in a row to one back-end).
        string original = File.ReadAllText(Lab.ConfigFile);
        try
        {
            var edited = JsonNode.Parse(original)!;
            var proxy = edited["ReverseProxy"]!;
            proxy["Routes"]!["pair"] = JsonNode.Parse("""{ "ClusterId": "pair", "Match": { "Path": "/pair/{**rest}" } }""");
            proxy["Clusters"]!["pair"] = new JsonObject
            {
                ["Transfer"] = "handoff",
                ["LoadBalancingPolicy"] = "RoundRobin",
                ["Destinations"] = new JsonObject
                {
                    ["be1"] = new JsonObject { ["Address"] = Lab.Net.ControlEndpointOf("be1").ToString() },
                    ["be2"] = new JsonObject { ["Address"] = Lab.Net.ControlEndpointOf("be2").ToString() },
                },
            };
            int reloads = Eventually.Lines(Lab.Router.Output, "reloaded");
            File.WriteAllText(Lab.ConfigFile, edited.ToJsonString());
            Assert.True(await Eventually.WaitUntilAsync(() => Eventually.Lines(Lab.Router.Output, "reloaded") > reloads, TimeSpan.FromSeconds(10)), Lab.Router.Output);

            using var socket = await Lab.ConnectClientAsync();
            var http = new RawHttp(socket);
            const int n = 8;
            await http.SendAsync(string.Concat(Enumerable.Range(0, n).Select(i => RawHttp.Get($"/pair/{i}"))));
            var hosts = new List<string>();
            for (int i = 0; i < n; i++)
            {
                var r = await http.ReadResponseAsync();
                Assert.Equal(200, r.Status);
                Assert.Equal($"served by {r.Header("Baton-Host")}: GET /pair/{i}\n", r.Text);
                hosts.Add(r.Header("Baton-Host"));
            }
            for (int i = 1; i < n; i++)
                Assert.True(hosts[i] != hosts[i - 1], $"round robin over two destinations gave {string.Join(", ", hosts)}");
        }
        finally
        {
            int reloads = Eventually.Lines(Lab.Router.Output, "reloaded");
            File.WriteAllText(Lab.ConfigFile, original);
            await Eventually.WaitUntilAsync(() => Eventually.Lines(Lab.Router.Output, "reloaded") > reloads, TimeSpan.FromSeconds(10));
        }
    }


}
