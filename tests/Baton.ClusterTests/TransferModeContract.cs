using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Baton.Lab;
using Baton.Application;

[assembly: CollectionBehavior(DisableTestParallelization = true)] // labs share 2 cores; one at a time

namespace Baton.ClusterTests;

/// <summary>
/// One end-to-end test body for the three ways a connection reaches a destination (handoff, local,
/// relay), as dotnet/runtime tests one socket contract over several transports. Each derived class
/// supplies a running lab with the default routes: /beN/… to back-end N, /router/… answered by the
/// router, everything else balanced. Whatever the mode, the client must see the same thing.
/// </summary>
public abstract class TransferModeContract
{
    protected abstract IBatonLab Lab { get; }

    /// <summary>Whether the mode moves the connection (true) or carries the bytes through the router (relay).</summary>
    protected abstract bool MovesTheConnection { get; }

    [Fact]
    public async Task One_connection_is_served_by_several_destinations_in_turn()
    {
        long? resets = Lab.ClientTcpCounter("EstabResets");
        using var socket = await Lab.ConnectClientAsync();
        int port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var http = new RawHttp(socket);
        string[] paths = ["/be1/a", "/be2/b", "/router/c", "/be3/bytes/70000", "/balanced/d", "/be1/e"];
        var servedBy = new HashSet<string>();
        string previous = "";
        for (int i = 0; i < 18; i++)
        {
            string path = paths[i % paths.Length];
            var r = await http.RequestAsync(path);
            Assert.Equal(200, r.Status);
            string host = r.Header("Baton-Host");
            servedBy.Add(host);
            string expected = path.Split('/')[1];
            if (expected is "be1" or "be2" or "be3" or "router") Assert.Equal(expected, host);
            else Assert.Contains(host, new[] { "be1", "be2", "be3" });
            if (path.Contains("/bytes/")) AssertPattern(r.Body, 70000);
            else Assert.Equal($"served by {host}: GET {path}\n", r.Text);
            // One for the host it was at may have stayed there (handoff's same-target shortcut).
            if (MovesTheConnection && host != "router" && host != previous) Assert.NotEqual("", r.Header("Baton-Handoff-Us"));
            previous = host;
        }
        Assert.Equal(port, ((IPEndPoint)socket.LocalEndPoint!).Port);
        Assert.True(socket.Connected);
        Assert.Superset(new HashSet<string> { "be1", "be2", "be3", "router" }, servedBy);
        if (resets is { } before) Assert.Equal(before, Lab.ClientTcpCounter("EstabResets"));
    }

    [Fact]
    public async Task Pipelined_requests_are_each_routed_by_their_own_path()
    {
        using var socket = await Lab.ConnectClientAsync();
        var http = new RawHttp(socket);
        await http.SendAsync(RawHttp.Get("/be1/first") + RawHttp.Get("/be3/second") + RawHttp.Get("/router/third") + RawHttp.Get("/be2/fourth") + RawHttp.Get("/be2/fifth"));
        (string Host, string Path)[] expected = [("be1", "/be1/first"), ("be3", "/be3/second"), ("router", "/router/third"), ("be2", "/be2/fourth"), ("be2", "/be2/fifth")];
        foreach (var (host, path) in expected)
        {
            var r = await http.ReadResponseAsync();
            Assert.Equal(200, r.Status);
            Assert.Equal(host, r.Header("Baton-Host"));
            Assert.Equal($"served by {host}: GET {path}\n", r.Text);
        }
    }

    [Fact]
    public async Task Large_bodies_cross_intact_both_ways()
    {
        using var socket = await Lab.ConnectClientAsync();
        var http = new RawHttp(socket);
        var upload = RandomNumberGenerator.GetBytes(6 << 20);
        var send = http.SendAsync(System.Text.Encoding.ASCII.GetBytes($"POST /be1/upload HTTP/1.1\r\nHost: test\r\nContent-Length: {upload.Length}\r\n\r\n").Concat(upload).ToArray());
        var echoed = await http.ReadResponseAsync(TimeSpan.FromSeconds(60));
        await send;
        Assert.Equal(200, echoed.Status);
        Assert.Equal("be1", echoed.Header("Baton-Host"));
        Assert.True(upload.AsSpan().SequenceEqual(echoed.Body), "the echoed body differs from the upload");

        const int size = 24 << 20;
        var big = await http.RequestAsync($"/be3/bytes/{size}");
        Assert.Equal("be3", big.Header("Baton-Host"));
        AssertPattern(big.Body, size);
        Assert.Equal("be2", (await http.RequestAsync("/be2/after")).Header("Baton-Host"));
    }

    [Fact]
    public async Task Client_that_closes_mid_response_leaves_router_and_destination_serving()
    {
        using (var socket = await Lab.ConnectClientAsync())
        {
            await new RawHttp(socket).SendAsync(RawHttp.Get($"/be2/bytes/{64 << 20}"));
            var buffer = new byte[65536];
            Assert.True(await socket.ReceiveAsync(buffer, SocketFlags.None) > 0);
            socket.Close(); // unread data: the client's kernel resets the connection
        }
        // The destination and the router both go on serving new connections, several times over.
        for (int i = 0; i < 3; i++)
        {
            using var next = await Lab.ConnectClientAsync();
            var http = new RawHttp(next);
            Assert.Equal("be2", (await http.RequestAsync($"/be2/still-there-{i}")).Header("Baton-Host"));
            Assert.Equal("router", (await http.RequestAsync("/router/too")).Header("Baton-Host"));
        }
    }

    [Fact]
    public async Task Connection_close_request_is_answered_then_closed_with_a_fin()
    {
        using var socket = await Lab.ConnectClientAsync();
        var http = new RawHttp(socket);
        Assert.Equal("be1", (await http.RequestAsync("/be1/first")).Header("Baton-Host"));
        await http.SendAsync(RawHttp.Get("/be3/bye", close: true));
        var r = await http.ReadResponseAsync();
        Assert.Equal("be3", r.Header("Baton-Host"));
        Assert.Equal("close", r.Header("Connection"));
        Assert.True(await http.WaitForCloseAsync(TimeSpan.FromSeconds(5)), "the connection was not closed after Connection: close");
    }

    [Fact]
    public async Task Upgraded_connection_stays_with_its_destination_for_good()
    {
        using var socket = await Lab.ConnectClientAsync();
        var http = new RawHttp(socket);
        Assert.Equal("be1", (await http.RequestAsync("/be1/before")).Header("Baton-Host"));
        // Bytes sent right behind the upgrade request belong to the new protocol already.
        await http.SendAsync($"GET /be2/chat HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: {BuiltInApplication.EchoProtocol}\r\n\r\nearly;");
        var switched = await http.ReadResponseAsync();
        Assert.Equal(101, switched.Status);
        Assert.Equal("be2", switched.Header("Baton-Host"));
        Assert.Equal(BuiltInApplication.EchoProtocol, switched.Header("Upgrade"));
        Assert.Equal("early;", System.Text.Encoding.ASCII.GetString(await http.ReadExactlyAsync(6)));
        // What looks like HTTP is now just bytes for the echo: nothing is routed any more.
        string asIfHttp = RawHttp.Get("/router/not-routed");
        await http.SendAsync(asIfHttp);
        Assert.Equal(asIfHttp, System.Text.Encoding.ASCII.GetString(await http.ReadExactlyAsync(asIfHttp.Length)));
        var big = RandomNumberGenerator.GetBytes(1 << 20);
        var send = http.SendAsync(big);
        var echoed = await http.ReadExactlyAsync(big.Length);
        Assert.True(big.AsSpan().SequenceEqual(echoed), "echoed bytes differ");
        await send;
        // The client's close ends the connection at the destination, with a FIN back.
        socket.Shutdown(SocketShutdown.Send);
        Assert.True(await http.WaitForCloseAsync(TimeSpan.FromSeconds(10)), "the upgraded connection was not closed after the client's FIN");
        // And the destination serves new connections as before.
        using var next = await Lab.ConnectClientAsync();
        Assert.Equal("be2", (await new RawHttp(next).RequestAsync("/be2/after")).Header("Baton-Host"));
    }

    [Fact]
    public async Task Expect_100_continue_is_answered_before_the_body_is_sent()
    {
        using var socket = await Lab.ConnectClientAsync();
        var http = new RawHttp(socket);
        var body = RandomNumberGenerator.GetBytes(200_000);
        await http.SendAsync($"POST /be3/upload HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: {body.Length}\r\n\r\n");
        // The client holds its body back until told to go on.
        var interim = await http.ReadResponseAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(100, interim.Status);
        await http.SendAsync(body);
        var r = await http.ReadResponseAsync();
        Assert.Equal(200, r.Status);
        Assert.Equal("be3", r.Header("Baton-Host"));
        Assert.Equal(body, r.Body);
        Assert.Equal("be1", (await http.RequestAsync("/be1/after")).Header("Baton-Host"));
    }

    internal static void AssertPattern(byte[] body, int size)
    {
        Assert.Equal(size, body.Length);
        for (int i = 0; i < body.Length; i++)
            if (body[i] != BuiltInApplication.PatternByte(i))
                Assert.Fail($"body differs at byte {i}");
    }
}

/// <summary>The contract over cross-host hand-off (namespace hosts, TCP_REPAIR; needs root).</summary>
[Collection(ClusterCollection.Name)]
public sealed class HandoffModeTests(ClusterFixture fixture) : TransferModeContract
{
    protected override IBatonLab Lab => fixture.Lab;
    protected override bool MovesTheConnection => true;
}

/// <summary>The contract over local worker processes (SCM_RIGHTS on this host; no root).</summary>
public sealed class LocalModeTests(LocalModeTests.Fixture fixture) : TransferModeContract, IClassFixture<LocalModeTests.Fixture>
{
    protected override IBatonLab Lab => fixture.Lab;
    protected override bool MovesTheConnection => true;

    public sealed class Fixture : LoopbackFixture
    {
        public Fixture() : base(LoopbackMode.Local) { }
    }
}

/// <summary>The contract over relay (the router proxies to plain HTTP origins).</summary>
public sealed class RelayModeTests(RelayModeTests.Fixture fixture) : TransferModeContract, IClassFixture<RelayModeTests.Fixture>
{
    protected override IBatonLab Lab => fixture.Lab;
    protected override bool MovesTheConnection => false;

    public sealed class Fixture : LoopbackFixture
    {
        public Fixture() : base(LoopbackMode.Relay) { }
    }
}

/// <summary>A loopback lab (router and back-end processes on 127.0.0.1) for one test class.</summary>
public abstract class LoopbackFixture(LoopbackMode mode) : IAsyncLifetime
{
    public LoopbackLab Lab { get; private set; } = null!;

    public async Task InitializeAsync() => Lab = await LoopbackLab.StartAsync(mode, ClusterFixture.IdleTimeout);

    public async Task DisposeAsync()
    {
        if (Lab is not null) await Lab.DisposeAsync();
    }
}
