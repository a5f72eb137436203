using System.Net;
using System.Security.Cryptography;
using System.Text;
using Baton.Modes.Handoff.Protocol;
using Baton.Lab;
using Xunit.Abstractions;
using Baton.Application;

namespace Baton.ClusterTests;

/// <summary>
/// The hand-off as a user sees it, on real namespace hosts with real router and agent processes:
/// one client connection served by several hosts, bytes intact, no reset, the response not
/// passing through the router.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class HandoffTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private BatonLab Lab => fixture.Lab;
    private string ClientNs => Lab.Net.Ns("client");

    [Fact]
    public async Task One_connection_is_served_by_several_backends_and_the_router_without_reset()
    {
        long resets = Netns.SnmpCounter(ClientNs, "Tcp", "EstabResets");
        using var socket = await Lab.ConnectClientAsync();
        int port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var http = new RawHttp(socket);
        string[] paths = ["/be1/a", "/be2/b", "/router/c", "/be3/bytes/5000", "/balanced/d"];
        var servedBy = new HashSet<string>();
        string previous = "";
        for (int i = 0; i < 25; i++)
        {
            string path = paths[i % paths.Length];
            var r = await http.RequestAsync(path);
            Assert.Equal(200, r.Status);
            string host = r.Header("Baton-Host");
            servedBy.Add(host);
            string expectedHost = path.Split('/')[1];
            if (expectedHost is "be1" or "be2" or "be3" or "router") Assert.Equal(expectedHost, host);
            else Assert.StartsWith("be", host);
            if (path.Contains("/bytes/")) AssertPattern(r.Body, 5000);
            else Assert.Equal($"served by {host}: GET {path}\n", r.Text);
            // A hand-off brought every request to a new host; one for the host it was at may have
            // stayed there (the same-target shortcut, when it arrived before the return).
            if (host != "router" && host != previous) Assert.NotEqual("", r.Header("Baton-Handoff-Us"));
            previous = host;
        }
        Assert.Equal(port, ((IPEndPoint)socket.LocalEndPoint!).Port);
        Assert.True(socket.Connected);
        Assert.Superset(new HashSet<string> { "be1", "be2", "be3", "router" }, servedBy);
        Assert.Equal(0, Netns.SnmpCounter(ClientNs, "Tcp", "EstabResets") - resets);
    }

    [Fact]
    public async Task Large_response_goes_from_the_backend_to_the_client_not_through_the_router()
    {
        const int size = 8 << 20;
        using var socket = await Lab.ConnectClientAsync();
        var http = new RawHttp(socket);
        Assert.Equal(200, (await http.RequestAsync("/be2/warm")).Status);
        long tx0 = Netns.TxBytes(Lab.Net.Ns("router"), "eth0");
        var r = await http.RequestAsync($"/be2/bytes/{size}");
        long routerTx = Netns.TxBytes(Lab.Net.Ns("router"), "eth0") - tx0;
        Assert.Equal(200, r.Status);
        Assert.Equal("be2", r.Header("Baton-Host"));
        AssertPattern(r.Body, size);
        output.WriteLine($"router eth0 transmitted {routerTx} bytes for an {size}-byte response ({100.0 * routerTx / size:F2}%)");
        Assert.True(routerTx < size * 0.05, $"router transmitted {routerTx} bytes, {100.0 * routerTx / size:F1}% of the response");
        // The connection came back and still works.
        Assert.Equal("router", (await http.RequestAsync("/router/after")).Header("Baton-Host"));
    }

    [Fact]
    public async Task Pipelined_requests_are_each_routed_by_their_own_path()
    {
        using var socket = await Lab.ConnectClientAsync();
        var http = new RawHttp(socket);
        await http.SendAsync(RawHttp.Get("/be1/first") + RawHttp.Get("/be3/second") + RawHttp.Get("/router/third") + RawHttp.Get("/be2/fourth"));
        (string Host, string Path)[] expected = [("be1", "/be1/first"), ("be3", "/be3/second"), ("router", "/router/third"), ("be2", "/be2/fourth")];
        foreach (var (host, path) in expected)
        {
            var r = await http.ReadResponseAsync();
            Assert.Equal(200, r.Status);
            Assert.Equal(host, r.Header("Baton-Host"));
            Assert.Equal($"served by {host}: GET {path}\n", r.Text);
        }
    }

    [Fact]
    public async Task Post_body_still_arriving_during_the_handoff_is_delivered_intact()
    {
        var body = RandomNumberGenerator.GetBytes(300_000);
        using var socket = await Lab.ConnectClientAsync();
        var http = new RawHttp(socket);
        await http.SendAsync($"POST /be1/upload HTTP/1.1\r\nHost: test\r\nContent-Length: {body.Length}\r\n\r\n");
        await http.SendAsync(body[..1000]);
        // The head is complete: the router moves the connection now, while the rest is still to come.
        for (int off = 1000; off < body.Length; off += 50_000)
        {
            await Task.Delay(30);
            await http.SendAsync(body[off..Math.Min(body.Length, off + 50_000)]);
        }
        var r = await http.ReadResponseAsync();
        Assert.Equal(200, r.Status);
        Assert.Equal("be1", r.Header("Baton-Host"));
        Assert.Equal(body, r.Body);
        Assert.Equal("be2", (await http.RequestAsync("/be2/next")).Header("Baton-Host"));
    }

    [Fact]
    public async Task Connection_close_ends_at_the_backend_and_its_steering_entry_is_removed()
    {
        using var socket = await Lab.ConnectClientAsync();
        int port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var http = new RawHttp(socket);
        await http.SendAsync(RawHttp.Get("/be3/bye", close: true));
        var r = await http.ReadResponseAsync();
        Assert.Equal("be3", r.Header("Baton-Host"));
        Assert.Equal("close", r.Header("Connection"));
        Assert.True(await http.WaitForCloseAsync(TimeSpan.FromSeconds(5)), "the back-end did not close the connection");
        socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        Assert.True(await WaitUntilAsync(() => !SteeringHas(port), TimeSpan.FromSeconds(10)), $"steering still has {port}:\n{SteeringMap()}");
    }

    [Fact]
    public async Task Client_that_leaves_while_the_backend_sends_leaves_the_router_healthy()
    {
        using (var socket = await Lab.ConnectClientAsync())
        {
            int port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            var http = new RawHttp(socket);
            await http.SendAsync(RawHttp.Get($"/be2/bytes/{64 << 20}"));
            var buffer = new byte[65536];
            await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None);
            socket.Close(); // unread data: the client's kernel resets the connection
            Assert.True(await WaitUntilAsync(() => !SteeringHas(port), TimeSpan.FromSeconds(15)), $"steering still has {port}:\n{SteeringMap()}");
        }
        using var next = await Lab.ConnectClientAsync();
        Assert.Equal("be2", (await new RawHttp(next).RequestAsync("/be2/still-there")).Header("Baton-Host"));
    }

    [Fact]
    public async Task Idle_keepalive_connection_is_closed_by_the_router_with_a_fin()
    {
        long resets = Netns.SnmpCounter(ClientNs, "Tcp", "EstabResets");
        using var socket = await Lab.ConnectClientAsync();
        var http = new RawHttp(socket);
        Assert.Equal("be1", (await http.RequestAsync("/be1/then-idle")).Header("Baton-Host"));
        Assert.True(await http.WaitForCloseAsync(ClusterFixture.IdleTimeout + TimeSpan.FromSeconds(5)), "router kept an idle connection open");
        Assert.Equal(0, Netns.SnmpCounter(ClientNs, "Tcp", "EstabResets") - resets);
    }

    [Fact]
    public async Task Malformed_and_oversized_heads_are_refused_with_400_and_431()
    {
        using (var s = await Lab.ConnectClientAsync())
        {
            var http = new RawHttp(s);
            await http.SendAsync("GET /be1/x HTTP/1.1\r\nHost : bad\r\n\r\n");
            var r = await http.ReadResponseAsync();
            Assert.Equal(400, r.Status);
            Assert.Equal("router", r.Header("Baton-Host"));
            Assert.True(await http.WaitForCloseAsync(TimeSpan.FromSeconds(5)));
        }
        using (var s = await Lab.ConnectClientAsync())
        {
            var http = new RawHttp(s);
            await http.SendAsync($"GET /be1/x HTTP/1.1\r\nHost: t\r\nX-Big: {new string('a', 20_000)}\r\n\r\n");
            Assert.Equal(431, (await http.ReadResponseAsync()).Status);
        }
    }

    [Fact]
    public async Task Agent_killed_before_it_is_ready_gives_502_and_the_next_connection_works()
    {
        var be3 = Lab.Agents["be3"];
        try
        {
            be3.Freeze(); // hung: the Handoff reaches its kernel, but no Ready comes back
            using var socket = await Lab.ConnectClientAsync();
            var http = new RawHttp(socket);
            await http.SendAsync(RawHttp.Get("/be3/never"));
            await Task.Delay(300);
            be3.Kill();
            var r = await http.ReadResponseAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(502, r.Status);
            Assert.Equal("router", r.Header("Baton-Host"));
            Assert.True(await http.WaitForCloseAsync(TimeSpan.FromSeconds(5)));

            using var next = await Lab.ConnectClientAsync();
            var n = new RawHttp(next);
            Assert.Equal("be1", (await n.RequestAsync("/be1/next")).Header("Baton-Host"));
            Assert.Equal(503, (await n.RequestAsync("/be3/down")).Status);
        }
        finally
        {
            await fixture.RestoreAgentAsync("be3");
        }
        using var again = await Lab.ConnectClientAsync();
        Assert.True(await WaitUntilAsync(() => Lab.Router.Output.Split('\n').Count(l => l.Contains("agent be3 connected")) >= 2, TimeSpan.FromSeconds(10)));
        Assert.Equal("be3", (await new RawHttp(again).RequestAsync("/be3/back")).Header("Baton-Host"));
    }

    /// <summary>
    /// A hand-off the agent never takes (it hangs: no Ready within the hand-off timeout) reached no
    /// application, so on a balanced route the router sends the request to another destination of
    /// the cluster, a POST as well: the client gets its answer, not a 502 (issue 13: killing an
    /// agent mid-soak cost requests that had reached nobody).
    /// </summary>
    [Fact]
    public async Task A_request_a_hung_agent_never_takes_goes_to_another_destination_of_its_cluster()
    {
        var be2 = Lab.Agents["be2"];
        try
        {
            be2.Freeze();
            var hosts = new List<string>();
            // The catch-all route balances over be1..be3: each new connection may pick be2.
            for (int i = 0; i < 40 && !Lab.Router.Output.Contains("did not take the request", StringComparison.Ordinal); i++)
            {
                using var s = await Lab.ConnectClientAsync();
                var http = new RawHttp(s);
                await http.SendAsync($"POST /balanced/{i} HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
                var r = await http.ReadResponseAsync(TimeSpan.FromSeconds(15));
                Assert.Equal(200, r.Status);
                Assert.Equal("hello", r.Text);
                hosts.Add(r.Header("Baton-Host"));
            }
            Assert.Contains("did not take the request", Lab.Router.Output);
            Assert.DoesNotContain("be2", hosts);
        }
        finally
        {
            be2.Kill();
            await fixture.RestoreAgentAsync("be2");
        }
    }

    [Fact]
    public async Task Forged_handoff_from_a_peer_without_the_cluster_key_is_refused()
    {
        var be1 = Lab.Agents["be1"];
        var forgedClient = new IPEndPoint(Lab.Net.AddressOf("client"), 55555);
        using (var socket = Netns.CreateTcpSocket(ClientNs))
        {
            await socket.ConnectAsync(Lab.Net.ControlEndpointOf("be1"));
            var wrongKey = new ClusterKey(RandomNumberGenerator.GetBytes(32));
            await using var link = await ControlLink.EstablishAsync(new System.Net.Sockets.NetworkStream(socket), wrongKey, isRouter: true, CancellationToken.None);
            var snapshot = MadeUpSnapshot.For(Lab.Net.Service, forgedClient, Encoding.ASCII.GetBytes(RawHttp.Get("/be1/forged")));
            await link.SendAsync(new HandoffRequest(snapshot), 1);
            // The agent drops the link: the only frames it ever sent are Hello and its own Welcome.
            var frames = new List<byte>();
            var raw = new byte[4096];
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            int n;
            while ((n = await socket.ReceiveAsync(raw, System.Net.Sockets.SocketFlags.None, deadline.Token)) > 0) frames.AddRange(raw[..n]);
            var types = new List<ControlMessageType>();
            for (int off = 0; off + 28 <= frames.Count;)
            {
                types.Add((ControlMessageType)frames[off + 5]);
                int len = (frames[off + 24] << 24) | (frames[off + 25] << 16) | (frames[off + 26] << 8) | frames[off + 27];
                off += 28 + len + 32;
            }
            Assert.Equal([ControlMessageType.Welcome], types);
        }
        Assert.True(await be1.WaitForOutputAsync("failed authentication", TimeSpan.FromSeconds(5)), be1.Output);
        var sockets = Netns.ExecIn(Lab.Net.Ns("be1"), "ss", "-tan");
        Assert.DoesNotContain(":55555", sockets);
        // The real router's link to be1 is untouched.
        using var real = await Lab.ConnectClientAsync();
        Assert.Equal("be1", (await new RawHttp(real).RequestAsync("/be1/genuine")).Header("Baton-Host"));
    }

    private static void AssertPattern(byte[] body, int size)
    {
        Assert.Equal(size, body.Length);
        for (int i = 0; i < body.Length; i++)
            if (body[i] != BuiltInApplication.PatternByte(i))
                Assert.Fail($"body differs at byte {i}");
    }

    private string SteeringMap() => RouterSteering.Describe(Lab);

    private bool SteeringHas(int port) => RouterSteering.ClientPorts(Lab).Contains(port);

    private static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            await Task.Delay(200);
        }
        return condition();
    }
}
