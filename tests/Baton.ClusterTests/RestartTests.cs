using System.Net.Sockets;
using System.Text;
using Baton.Application;
using Baton.Lab;
using Xunit.Abstractions;

namespace Baton.ClusterTests;

/// <summary>
/// A router restarted (SIGUSR2, then started again, as an upgrade does) while connections are at
/// agents in the middle of a transaction: those connections finish their transaction, come back
/// to the new router and are routed again, on the same client connection, without a reset; its
/// steering outlives the process and the new run adopts what the agents announce.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RestartTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private const int SIGUSR2 = 12;
    // Larger than what the agent's send buffer (tcp_wmem's 4 MiB) and the client's small receive
    // buffer hold together: the agent is still writing each response when the router stops.
    private const int Large = 24 << 20;

    /// <summary>
    /// The soak: 16 keep-alive connections of mixed sizes and uploads through a restart.
    /// Each connection is somewhere when the router stops (at an agent, at the router between two
    /// requests, in the middle of a hand-off or a pass): none may fail or see a reset.
    /// </summary>
    [Fact]
    public async Task A_router_restarted_under_load_fails_no_request()
    {
        var lab = fixture.Lab;
        long resetsBefore = lab.ClientTcpCounter("EstabResets") ?? 0;
        var load = MixedLoad.RunAsync(ct => lab.ConnectClientAsync(ct), new MixedLoadOptions
        {
            Connections = 16,
            Requests = 1_000_000,
            Duration = TimeSpan.FromSeconds(10),
            RouterShare = 0,
            MaxResponse = 1 << 20,
            MaxUpload = 256 << 10,
            RequestTimeout = TimeSpan.FromSeconds(15),
            Seed = 23,
        });
        await Task.Delay(2000);
        var old = lab.Router;
        old.Signal(SIGUSR2);
        Assert.True(old.WaitForExit(TimeSpan.FromSeconds(20)), old.Output);
        await lab.StartRouterAsync();
        var result = await load;
        output.WriteLine(result.Summary());
        foreach (var f in result.Failures.Take(20)) output.WriteLine(f);
        Assert.True(result.Failures.Count == 0, $"{result.Summary()}\n{old.Output}\n{lab.Router.Output}");
        Assert.Equal(0, (lab.ClientTcpCounter("EstabResets") ?? 0) - resetsBefore);
        // Both ways were taken: connections the router held were parked and restored, and the
        // run after the restart served requests (the load went on for 8 s after it).
        Assert.Contains("connections held here parked for the next run", old.Output);
        Assert.Contains("connections the previous run parked", lab.Router.Output);
        Assert.True(result.Requests.Count > 1000, result.Summary());
    }

    [Fact]
    public async Task Connections_at_agents_survive_a_router_restart_and_are_routed_again()
    {
        var lab = fixture.Lab;
        long resetsBefore = lab.ClientTcpCounter("EstabResets") ?? 0;
        string[] backends = ["be1", "be2", "be1", "be2", "be1", "be2"];
        var away = new List<(SlowResponse Response, string Backend)>();
        var here = new List<(Socket Socket, RawHttp Http, int Port)>();
        try
        {
            // Each client reads its response slowly, all through the restart (about 12 s): the
            // transactions are under way at the agents, and the clients' ACKs and window updates
            // keep arriving at the router host while no router process runs there.
            foreach (var be in backends) away.Add((await SlowResponse.StartAsync(lab, $"/{be}", Large), be));
            // And connections the router holds itself when it stops: between two requests, one
            // with half of its next request sent.
            for (int i = 0; i < 4; i++)
            {
                var s = await lab.ConnectClientAsync();
                var http = new RawHttp(s);
                Assert.Equal(200, (await http.RequestAsync($"/be{1 + i % 2}/before-restart")).Status);
                here.Add((s, http, ((System.Net.IPEndPoint)s.LocalEndPoint!).Port));
            }
            await here[3].Http.SendAsync("GET /be1/half-sent HTTP/1.1\r\n");

            await Task.Delay(500);
            foreach (var be in new[] { "be1", "be2" })
                Assert.Equal(3, (await lab.ScrapeAsync(be)).Sum("baton_agent_connections_held"));

            var old = lab.Router;
            old.Signal(SIGUSR2);
            Assert.True(old.WaitForExit(TimeSpan.FromSeconds(20)), "the router did not stop on SIGUSR2:\n" + old.Output);
            Assert.True(old.ExitCode == 0, $"exit {old.ExitCode}:\n{old.Output}");
            Assert.Contains("restarting: connections away at agents stay there", old.Output);
            Assert.All(away, a => Assert.False(a.Response.Reading.IsCompleted, "a response was read whole before the router stopped: the test needs them under way"));

            await lab.StartRouterAsync();
            var router = lab.Router;

            // The ones the router held: restored by the new run, the same connection serves on (within
            // the lab's 4 s idle timeout).
            await here[3].Http.SendAsync("Host: t\r\n\r\n");
            Assert.Equal("be1", (await here[3].Http.ReadResponseAsync(TimeSpan.FromSeconds(10))).Header("Baton-Host"));
            foreach (var (s, http, port) in here)
            {
                Assert.Equal("be2", (await http.RequestAsync("/be2/after-restart")).Header("Baton-Host"));
                Assert.Equal(port, ((System.Net.IPEndPoint)s.LocalEndPoint!).Port);
            }

            // Every byte of each response, then the connection is routed again by the new router.
            foreach (var (response, be) in away)
            {
                await response.Reading;
                var (s, http, port) = (response.Socket, response.Http, response.Port);
                string other = be == "be1" ? "be2" : "be1";
                var again = await http.RequestAsync($"/{other}/after-restart");
                Assert.Equal(200, again.Status);
                Assert.Equal(other, again.Header("Baton-Host"));
                Assert.Equal("router", (await http.RequestAsync("/router/after-restart")).Header("Baton-Host"));
                Assert.Equal(port, ((System.Net.IPEndPoint)s.LocalEndPoint!).Port);
            }
            Assert.Equal(0, (lab.ClientTcpCounter("EstabResets") ?? 0) - resetsBefore);
            Assert.Contains("4 connections held here parked for the next run", old.Output);
            Assert.Contains("restored 4 of 4 connections the previous run parked", router.Output);
            Assert.Equal(backends.Length, Eventually.Lines(router.Output, "held since an earlier router run, adopted"));
            Assert.Contains("took over the steering of 6 connections", router.Output);
            output.WriteLine(router.Output);
        }
        catch
        {
            output.WriteLine("router:\n" + lab.Router.Output);
            foreach (var (name, agent) in lab.Agents) output.WriteLine($"{name}:\n{agent.Output}");
            throw;
        }
        finally
        {
            foreach (var (response, _) in away) response.Dispose();
            foreach (var (s, _, _) in here) s.Dispose();
        }
    }
}
