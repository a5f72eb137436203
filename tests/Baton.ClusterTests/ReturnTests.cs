using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Baton.Modes.Handoff.Protocol;
using Baton.Interop;
using Baton.Lab;
using Xunit.Abstractions;
using Baton.Modes.Handoff.Repair;

namespace Baton.ClusterTests;

/// <summary>
/// The return of a connection from an agent: a return the router cannot restore still ends
/// cleanly (the agent closes it), and the agent's parked copy of a returned connection never
/// stands in the way when the same connection comes back to it.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ReturnTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private BatonLab Lab => fixture.Lab;

    [Fact]
    public async Task Return_the_router_cannot_restore_ends_at_the_agent_with_a_fin_and_the_response_intact()
    {
        var body = RandomNumberGenerator.GetBytes(200_000);
        using var socket = Netns.CreateTcpSocket(Lab.Net.Ns("client"));
        // Bound first, so that resets of exactly this connection are counted in every host.
        socket.Bind(new IPEndPoint(IPAddress.Any, 0));
        var client = new IPEndPoint(Lab.Net.AddressOf("client"), ((IPEndPoint)socket.LocalEndPoint!).Port);
        using var clientResets = ResetCounter.Start(Lab.Net.Ns("client"), client.Port);
        using var routerResets = ResetCounter.Start(Lab.Net.Ns("router"), client.Port);
        using var agentResets = ResetCounter.Start(Lab.Net.Ns("be1"), client.Port);
        await socket.ConnectAsync(Lab.Net.Service);
        var http = new RawHttp(socket);
        await http.SendAsync($"POST /be1/echo HTTP/1.1\r\nHost: test\r\nContent-Length: {body.Length}\r\n\r\n");
        await http.SendAsync(body[..1000]);

        // The head is complete, so the router hands the connection to be1, which then waits for
        // the rest of the body. Meanwhile the test takes the connection's 4-tuple at the router
        // with a silent repair-mode socket: the return's restore then fails in connect() with
        // EADDRINUSE, a real kernel failure on the real code path, with no hook in the product.
        using var occupier = await OccupyAtRouterAsync(client, TimeSpan.FromSeconds(10));

        await http.SendAsync(body[1000..]);
        var r = await http.ReadResponseAsync();
        Assert.Equal(200, r.Status);
        Assert.Equal("be1", r.Header("Baton-Host"));
        Assert.Equal(body, r.Body);
        // A clean end of stream (read returns 0), not a reset (which would throw here).
        Assert.True(await http.WaitForCloseAsync(TimeSpan.FromSeconds(10)), "the connection did not end after the failed return");
        // The client's packets were steered to be1 again, so the occupier never saw any: drop it
        // (silently, still in repair mode), and close our side at once: the router keeps steering
        // to be1 for its close grace (3 s) after be1's FIN, and a FIN later than that would meet
        // the router's kernel, which has no socket for it (a reset).
        occupier.Dispose();
        socket.Shutdown(SocketShutdown.Send);
        Assert.True(await Lab.Router.WaitForOutputAsync("could not be restored on its return", TimeSpan.FromSeconds(5)), Lab.Router.Output);
        Assert.True(await Lab.Agents["be1"].WaitForOutputAsync("could not restore its return, closing it here", TimeSpan.FromSeconds(5)), Lab.Agents["be1"].Output);

        Assert.True(await Eventually.WaitUntilAsync(() => !SteeringHas(client.Port), TimeSpan.FromSeconds(15)), $"steering still has {client.Port}:\n{SteeringMap()}");
        await Task.Delay(500); // anything late would meet a kernel without the connection now

        Assert.Equal(0, clientResets.Count);
        Assert.Equal(0, routerResets.Count);
        Assert.Equal(0, agentResets.Count);

        // The router and be1 still serve.
        using var next = await Lab.ConnectClientAsync();
        var n = new RawHttp(next);
        Assert.Equal("be1", (await n.RequestAsync("/be1/after")).Header("Baton-Host"));
        Assert.Equal("router", (await n.RequestAsync("/router/after")).Header("Baton-Host"));
    }

    [Fact]
    public async Task Connection_handed_to_the_same_agent_again_right_after_its_return_is_served()
    {
        // Each return leaves a parked copy at the agent for a few seconds; the next hand-off of the
        // same connection to the same agent must drop it first, or its restore fails (EADDRINUSE).
        long clientResets = Netns.SnmpCounter(Lab.Net.Ns("client"), "Tcp", "EstabResets");
        int refusals = HandoffRefusals();
        using var socket = await Lab.ConnectClientAsync();
        var http = new RawHttp(socket);
        string[] hosts = ["be1", "be1", "be1", "be2", "be2", "router", "be2", "be1", "be1"];
        for (int i = 0; i < hosts.Length; i++)
        {
            var r = await http.RequestAsync($"/{hosts[i]}/again{i}");
            Assert.Equal(200, r.Status);
            Assert.Equal(hosts[i], r.Header("Baton-Host"));
            Assert.Equal($"served by {hosts[i]}: GET /{hosts[i]}/again{i}\n", r.Text);
        }
        Assert.Equal(0, Netns.SnmpCounter(Lab.Net.Ns("client"), "Tcp", "EstabResets") - clientResets);
        Assert.Equal(refusals, HandoffRefusals());
    }

    [Fact]
    public async Task ReturnFailed_for_a_connection_the_agent_does_not_hold_is_logged_and_refused()
    {
        var be1 = Lab.Agents["be1"];
        using var socket = Netns.CreateTcpSocket(Lab.Net.Ns("client"));
        await socket.ConnectAsync(Lab.Net.ControlEndpointOf("be1"));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var link = await ControlLink.EstablishAsync(new NetworkStream(socket), ClusterKey.FromFile(Lab.KeyFile), isRouter: true, deadline.Token);
        Assert.Equal(ControlMessageType.Welcome, (await link.ReceiveAsync(deadline.Token))!.Value.Type);

        await link.SendAsync(new ReturnFailed(), 999_001, deadline.Token);
        // Refused at once, so that a router waiting to steer the connection back stops waiting.
        var refused = await link.ReceiveAsync(deadline.Token);
        Assert.Equal((ControlMessageType.Refused, 999_001UL), (refused!.Value.Type, refused.Value.ConnectionId));
        // The link is still up: the next message gets its answer (a bad snapshot is refused).
        await link.SendRawAsync(ControlMessageType.HandoffRequest, 999_002, new byte[] { 1, 2, 3 }, deadline.Token);
        var answer = await link.ReceiveAsync(deadline.Token);
        Assert.Equal((ControlMessageType.Refused, 999_002UL), (answer!.Value.Type, answer.Value.ConnectionId));
        Assert.True(await be1.WaitForOutputAsync("ReturnFailed for connection 999001, which is not parked here", TimeSpan.FromSeconds(5)), be1.Output);
    }

    private int HandoffRefusals() =>
        (Lab.Agents["be1"].Output + "\n" + Lab.Agents["be2"].Output).Split('\n').Count(l => l.Contains("hand-off") && l.Contains("refused"));

    /// <summary>
    /// Creates, in the router's namespace, a repair-mode socket for the connection VIP ↔
    /// <paramref name="client"/>. It succeeds only once the router has closed its own copy (the
    /// connection is at the agent); until then connect() finds the router's socket (EADDRINUSE).
    /// </summary>
    private async Task<RepairedSocket> OccupyAtRouterAsync(IPEndPoint client, TimeSpan timeout)
    {
        var placeholder = MadeUpSnapshot.For(Lab.Net.Service, client);
        var deadline = DateTime.UtcNow + timeout;
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var s = Netns.Run(Lab.Net.Ns("router"), () => TcpRepair.Restore(placeholder));
                output.WriteLine($"4-tuple {Lab.Net.Service} ↔ {client} taken at the router");
                return s;
            }
            catch (InvalidOperationException e) when (e.InnerException is NativeCallException)
            {
                last = e.Message;
                await Task.Delay(10);
            }
        }
        throw new TimeoutException($"the router kept the connection from {client}: {last}");
    }

    private string SteeringMap() => RouterSteering.Describe(Lab);

    private bool SteeringHas(int port) => RouterSteering.ClientPorts(Lab).Contains(port);

}
