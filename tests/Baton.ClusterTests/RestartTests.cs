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

    [Fact]
    public async Task Connections_at_agents_survive_a_router_restart_and_are_routed_again()
    {
        var lab = fixture.Lab;
        long resetsBefore = lab.ClientTcpCounter("EstabResets") ?? 0;
        string[] backends = ["be1", "be2", "be1", "be2", "be1", "be2"];
        var away = new List<(Socket Socket, RawHttp Http, string Backend, int Port)>();
        try
        {
            foreach (var be in backends)
            {
                var s = Netns.CreateTcpSocket(lab.Net.Ns("client"));
                s.ReceiveBufferSize = 64 << 10;
                await s.ConnectAsync(lab.Service);
                var http = new RawHttp(s);
                await http.SendAsync(RawHttp.Get($"/{be}/bytes/{Large}"));
                Assert.Contains("200 OK", await ReadHeadAsync(s));
                away.Add((s, http, be, ((System.Net.IPEndPoint)s.LocalEndPoint!).Port));
            }
            // Each client reads its response slowly, all through the restart (about 12 s at 64 KiB
            // per 30 ms): the transactions are under way at the agents, and the clients' ACKs and
            // window updates keep arriving at the router host while no router process runs there.
            var readers = away.Select(a => Task.Run(() => ReadSlowlyAsync(a.Socket, Large - (int)_bodyRead[a.Socket], (int)_bodyRead[a.Socket]))).ToList();
            await Task.Delay(500);
            foreach (var be in new[] { "be1", "be2" })
                Assert.Equal(3, (await lab.ScrapeAsync(be)).Sum("baton_agent_connections_held"));

            var old = lab.Router;
            old.Signal(SIGUSR2);
            Assert.True(old.WaitForExit(TimeSpan.FromSeconds(20)), "the router did not stop on SIGUSR2:\n" + old.Output);
            Assert.True(old.ExitCode == 0, $"exit {old.ExitCode}:\n{old.Output}");
            Assert.Contains("restarting: connections away at agents stay there", old.Output);
            Assert.All(readers, r => Assert.False(r.IsCompleted, "a response was read whole before the router stopped: the test needs them under way"));

            await lab.StartRouterAsync();
            var router = lab.Router;

            // Every byte of each response, then the connection is routed again by the new router.
            for (int i = 0; i < away.Count; i++)
            {
                var (s, http, be, port) = away[i];
                await readers[i];
                string other = be == "be1" ? "be2" : "be1";
                var again = await http.RequestAsync($"/{other}/after-restart");
                Assert.Equal(200, again.Status);
                Assert.Equal(other, again.Header("Baton-Host"));
                Assert.Equal("router", (await http.RequestAsync("/router/after-restart")).Header("Baton-Host"));
                Assert.Equal(port, ((System.Net.IPEndPoint)s.LocalEndPoint!).Port);
            }
            Assert.Equal(0, (lab.ClientTcpCounter("EstabResets") ?? 0) - resetsBefore);
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
            foreach (var (s, _, _, _) in away) s.Dispose();
        }
    }

    // The rest of a /bytes/N response, 64 KiB every 30 ms, each byte checked against the pattern.
    private static async Task ReadSlowlyAsync(Socket s, int count, long offset)
    {
        var chunk = new byte[64 << 10];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        int got = 0;
        while (got < count)
        {
            int n = await s.ReceiveAsync(chunk.AsMemory(0, Math.Min(chunk.Length, count - got)), SocketFlags.None, timeout.Token);
            Assert.True(n > 0, $"closed after {offset + got} bytes of the response");
            for (int i = 0; i < n; i++)
                if (chunk[i] != BuiltInApplication.PatternByte(offset + got + i))
                    Assert.Fail($"byte {offset + got + i} of the response is wrong");
            got += n;
            await Task.Delay(30);
        }
    }

    private readonly Dictionary<Socket, long> _bodyRead = [];

    // Reads up to the end of the response head, and whatever body came with it (counted in _bodyRead).
    private async Task<string> ReadHeadAsync(Socket s)
    {
        var buffer = new byte[64 << 10];
        int total = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            int n = await s.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, timeout.Token);
            Assert.True(n > 0, "closed before the response head");
            total += n;
            int end = buffer.AsSpan(0, total).IndexOf("\r\n\r\n"u8);
            if (end < 0) continue;
            _bodyRead[s] = total - (end + 4);
            return Encoding.ASCII.GetString(buffer, 0, end);
        }
    }
}
