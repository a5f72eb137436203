using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>
/// A pass the next agent does not take (here: it answers Ready only after the router's hand-off
/// timeout) ends like a return: the router restores the connection, applies the decision it had
/// taken for the request (a normal hand-off to that agent, which fails the same way: 502), and the
/// connection goes on. Runs on the hold cluster, whose be3 agent the tests slow down on purpose.
/// </summary>
[Collection(HoldClusterCollection.Name)]
public sealed class PassTests(HoldClusterFixture fixture)
{
    // Past the router's Baton:HandoffTimeout (2 s by default, as in the lab's configuration).
    private const int ReadyDelayMs = 2500;

    [Fact]
    public async Task A_pass_the_next_agent_does_not_take_ends_in_a_clean_502_and_the_connection_goes_on()
    {
        var lab = fixture.Lab;
        string slow = HoldQueueTests.Backend;
        await HoldQueueTests.RestartAgentAsync(lab, lab.Router, "--freeze-delay-ms", $"{ReadyDelayMs}");
        try
        {
            long resets = Netns.SnmpCounter(lab.Net.Ns("client"), "Tcp", "EstabResets");
            using var socket = await lab.ConnectClientAsync();
            var http = new RawHttp(socket);
            // At once: /slow/b is at be1 when /be1/a is done, so the router passes the connection on.
            await http.SendAsync(RawHttp.Get("/be1/a") + RawHttp.Get($"/{slow}/b") + RawHttp.Get("/router/c"));
            var a = await http.ReadResponseAsync(TimeSpan.FromSeconds(10));
            Assert.Equal((200, "be1"), (a.Status, a.Header("Baton-Host")));
            var b = await http.ReadResponseAsync(TimeSpan.FromSeconds(15));
            Assert.Equal(502, b.Status);
            // A short fixed line: the reason (here a timeout; after a killed agent once a .NET
            // exception's message) is in the router's log, never in the client's body.
            Assert.Equal($"502 Bad Gateway: destination {slow} could not serve the request\n", b.Text);
            var c = await http.ReadResponseAsync(TimeSpan.FromSeconds(10));
            Assert.Equal((200, "router"), (c.Status, c.Header("Baton-Host")));
            Assert.Equal("served by router: GET /router/c\n", c.Text);
            Assert.Equal(200, (await http.RequestAsync("/be1/after")).Status);
            Assert.Equal(0, Netns.SnmpCounter(lab.Net.Ns("client"), "Tcp", "EstabResets") - resets);
            Assert.Contains($"not passed from be1 to {slow}", lab.Router.Output);
        }
        finally
        {
            await HoldQueueTests.RestartAgentAsync(lab, lab.Router);
        }
    }
}
