using Baton.Application;
using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>
/// A back-end that runs its own HTTP/1.1 server behind the hand-off: be3's agent is started with
/// <c>--forward</c> to an origin on its own host (<c>baton origin</c>, listening only on be3's
/// loopback, which the router cannot reach), so every response from it left be3 straight to the
/// client. One client connection (HttpClient, a client nobody wrote) across the back-ends.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ForwardTests(ClusterFixture fixture)
{
    private const string Backend = "be3";

    [Fact]
    public async Task An_origin_behind_the_agent_serves_handed_off_connections_and_its_stop_is_a_502_on_the_same_connection()
    {
        var lab = fixture.Lab;
        var origin = BatonProcess.Start(lab.Net.Ns(Backend), "origin3", ["origin", "--name", "origin3", "--listen", "127.0.0.1:8080"]);
        try
        {
            Assert.True(await origin.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(30)), origin.Output);
            await HoldQueueTests.RestartAgentAsync(lab, lab.Router, "--forward", "http://127.0.0.1:8080/");
            var ports = new List<int>();
            using var http = lab.CreateHttpClient(ports);

            async Task<(HttpResponseMessage Response, byte[] Body)> Send(HttpMethod method, string path, byte[]? body = null)
            {
                var request = new HttpRequestMessage(method, path);
                if (body is not null) request.Content = new ByteArrayContent(body);
                var response = await http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(30));
                return (response, await response.Content.ReadAsByteArrayAsync());
            }
            static string Host(HttpResponseMessage r) => r.Headers.GetValues("Baton-Host").Single();

            Assert.Equal("be1", Host((await Send(HttpMethod.Get, "/be1/first")).Response));
            var (big, bigBody) = await Send(HttpMethod.Get, "/be3/bytes/4194304");
            Assert.Equal(("origin3", 4194304), (Host(big), bigBody.Length));
            Assert.True(bigBody.Select((b, i) => b == BuiltInApplication.PatternByte(i)).All(ok => ok), "the 4 MiB body differs from the origin's");
            var (empty, emptyBody) = await Send(HttpMethod.Get, "/be3/bytes/0");
            Assert.Equal(("origin3", 0), (Host(empty), emptyBody.Length));
            var upload = new byte[5_000_000];
            Random.Shared.NextBytes(upload);
            var (echo, echoed) = await Send(HttpMethod.Post, "/be3/echo", upload);
            Assert.Equal("origin3", Host(echo));
            Assert.True(upload.AsSpan().SequenceEqual(echoed), $"the 5 MB upload came back as {echoed.Length} bytes that differ");
            var (head, headBody) = await Send(HttpMethod.Head, "/be3/bytes/10");
            Assert.Equal((200, 10L, 0), ((int)head.StatusCode, head.Content.Headers.ContentLength ?? -1, headBody.Length));
            Assert.Equal("be2", Host((await Send(HttpMethod.Get, "/be2/between")).Response));

            // The origin stops: be3's agent probes it, tells the router, and the router stops
            // choosing be3 (its cluster has no other destination: 503 from the router itself)
            // rather than leave be3 to answer 502. The connection goes on.
            origin.Stop(TimeSpan.FromSeconds(10));
            origin.Dispose();
            Assert.True(await lab.Router.WaitForOutputAsync("agent be3: its application cannot serve", TimeSpan.FromSeconds(10)), lab.Router.Output);
            var (down, downBody) = await Send(HttpMethod.Get, "/be3/after-the-origin-stopped");
            Assert.Equal((503, "router"), ((int)down.StatusCode, Host(down)));
            Assert.DoesNotContain("Exception", System.Text.Encoding.UTF8.GetString(downBody));
            Assert.Equal("be1", Host((await Send(HttpMethod.Get, "/be1/still-here")).Response));

            // Back: chosen again.
            origin = BatonProcess.Start(lab.Net.Ns(Backend), "origin3", ["origin", "--name", "origin3", "--listen", "127.0.0.1:8080"]);
            Assert.True(await origin.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(30)), origin.Output);
            Assert.True(await lab.Router.WaitForOutputAsync("agent be3: its application serves again", TimeSpan.FromSeconds(10)), lab.Router.Output);
            Assert.Equal("origin3", Host((await Send(HttpMethod.Get, "/be3/after-the-origin-came-back")).Response));

            Assert.Single(ports); // one client connection throughout: no reset, no reconnect
        }
        finally
        {
            origin.Dispose();
            await HoldQueueTests.RestartAgentAsync(lab, lab.Router);
        }
    }
}
