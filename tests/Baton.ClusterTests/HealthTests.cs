using System.Text.Json.Nodes;
using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>
/// Health through a real router in relay mode (loopback lab, no root): active probes take a dead
/// origin out before any client request meets it; HealthyOrPanic tries them all when none is left;
/// YARP keys Baton lacks are named in the log on reload.
/// </summary>
public sealed class HealthTests
{
    [Fact]
    public async Task Active_checks_take_a_dead_origin_out_and_HealthyOrPanic_uses_all_when_none_is_left()
    {
        await using var lab = await LoopbackLab.StartAsync(LoopbackMode.Relay, ClusterFixture.IdleTimeout).WaitAsync(TimeSpan.FromMinutes(2));
        var config = JsonNode.Parse(File.ReadAllText(lab.ConfigFile))!;
        var proxy = config["ReverseProxy"]!;
        proxy["Clusters"]!["all"]!["HealthCheck"] = JsonNode.Parse("""
            {
              "AvailableDestinationsPolicy": "HealthyOrPanic",
              "Active": { "Enabled": true, "Interval": "00:00:00.300", "Timeout": "00:00:01", "Path": "/healthz", "Fall": 1, "Rise": 1 }
            }
            """);
        proxy["Routes"]!["all"]!["Transforms"] = JsonNode.Parse("""[ { "PathPrefix": "/v2" } ]""");
        File.WriteAllText(lab.ConfigFile, config.ToJsonString());
        Assert.True(await lab.Router.WaitForOutputAsync("reloaded", TimeSpan.FromSeconds(10)), lab.Router.Output);
        Assert.True(await lab.Router.WaitForOutputAsync("ReverseProxy:Routes:all:Transforms", TimeSpan.FromSeconds(5)), lab.Router.Output);

        lab.Backends["be2"].Dispose();
        Assert.True(await lab.Router.WaitForOutputAsync("destination be2 is now Unhealthy", TimeSpan.FromSeconds(10)), lab.Router.Output);

        for (int i = 0; i < 30; i++)
        {
            var r = await Get(lab, $"/page/{i}");
            Assert.Equal(200, r.Status);
            Assert.NotEqual("be2", r.Header("Baton-Host"));
        }

        lab.Backends["be1"].Dispose();
        lab.Backends["be3"].Dispose();
        Assert.True(await lab.Router.WaitForOutputAsync("destination be1 is now Unhealthy", TimeSpan.FromSeconds(10)), lab.Router.Output);
        Assert.True(await lab.Router.WaitForOutputAsync("destination be3 is now Unhealthy", TimeSpan.FromSeconds(10)), lab.Router.Output);

        // Panic: every destination is tried (and fails to connect: 502), not 503 "no healthy destination".
        Assert.Equal(502, (await Get(lab, "/page/panic")).Status);
    }

    private static async Task<RawResponse> Get(LoopbackLab lab, string path)
    {
        using var s = await lab.ConnectClientAsync();
        return await new RawHttp(s).RequestAsync(path);
    }
}
