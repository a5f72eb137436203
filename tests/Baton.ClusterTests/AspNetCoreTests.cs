using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text.Json;
using Baton.Application;
using Baton.Lab;
using Xunit.Abstractions;

namespace Baton.ClusterTests;

/// <summary>
/// An ASP.NET Core application as a back-end's agent: samples/Baton.Sample, an ordinary minimal API
/// with <c>UseBatonAgent</c>, runs in be3's namespace in place of <c>baton agent</c>. A client nobody
/// wrote (HttpClient, ClientWebSocket) goes through the router to it and to the plain agents of be1
/// and be2 on one connection; bodies verified; the application sees the client's own address; the
/// large response leaves be3 for the client without passing the router.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class AspNetCoreTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private const string Backend = "be3";

    private static string SampleDll => Path.Combine(AppContext.BaseDirectory, "Baton.Sample.dll");

    [Fact]
    public async Task The_sample_application_serves_handed_off_connections_in_its_own_process()
    {
        var lab = fixture.Lab;
        try
        {
            await StartSampleAsync(lab);
            var ports = new List<int>();
            using var http = lab.CreateHttpClient(ports);
            static string Host(HttpResponseMessage r) => r.Headers.GetValues("Baton-Host").Single();
            async Task<(HttpResponseMessage Response, byte[] Body)> Send(HttpMethod method, string path, HttpContent? content = null)
            {
                var response = await http.SendAsync(new HttpRequestMessage(method, path) { Content = content }).WaitAsync(TimeSpan.FromSeconds(30));
                return (response, await response.Content.ReadAsByteArrayAsync());
            }

            Assert.Equal("be1", Host((await Send(HttpMethod.Get, "/be1/first")).Response));

            // JSON from a minimal API endpoint, which sees the client itself (not the router, not a socketpair).
            var (hello, helloBody) = await Send(HttpMethod.Get, "/be3/hello");
            Assert.Equal(HttpStatusCode.OK, hello.StatusCode);
            Assert.Equal("Kestrel", hello.Headers.Server.Single().Product?.Name);
            using (var json = JsonDocument.Parse(helloBody))
            {
                Assert.Equal("be3", json.RootElement.GetProperty("host").GetString());
                Assert.Equal(lab.Net.AddressOf("client").ToString(), json.RootElement.GetProperty("client").GetString());
                Assert.Equal("/hello", json.RootElement.GetProperty("path").GetString());
            }

            // A 4 MiB download with a length: from be3 to the client, not through the router.
            long tx0 = Netns.TxBytes(lab.Net.Ns("router"), "eth0");
            var (big, bigBody) = await Send(HttpMethod.Get, "/be3/download/4194304");
            long routerTx = Netns.TxBytes(lab.Net.Ns("router"), "eth0") - tx0;
            Assert.Equal(("be3", 4194304), (Host(big), bigBody.Length));
            Assert.True(bigBody.Select((b, i) => b == BuiltInApplication.PatternByte(i)).All(ok => ok), "the 4 MiB body differs");
            output.WriteLine($"router eth0 sent {routerTx} bytes during a 4 MiB response from the application");
            Assert.True(routerTx < bigBody.Length * 0.05, $"the router sent {routerTx} bytes during a {bigBody.Length}-byte response");

            // Streamed without a length: Kestrel's chunks, their end found by the agent.
            var (streamed, streamedBody) = await Send(HttpMethod.Get, "/be3/stream/1000000");
            Assert.True(streamed.Headers.TransferEncodingChunked);
            Assert.True(streamedBody.Length == 1000000 && streamedBody.Select((b, i) => b == BuiltInApplication.PatternByte(i)).All(ok => ok), "the chunked body differs");

            Assert.Equal("be2", Host((await Send(HttpMethod.Get, "/be2/between")).Response));

            // A 5 MB upload, hashed by the application as it streams in.
            var upload = new byte[5_000_000];
            Random.Shared.NextBytes(upload);
            var (uploaded, uploadedBody) = await Send(HttpMethod.Post, "/be3/upload", new ByteArrayContent(upload));
            using (var json = JsonDocument.Parse(uploadedBody))
            {
                Assert.Equal(upload.Length, json.RootElement.GetProperty("bytes").GetInt64());
                Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(upload)), json.RootElement.GetProperty("sha256").GetString());
            }

            var (empty, emptyBody) = await Send(HttpMethod.Get, "/be3/download/0");
            Assert.Equal((HttpStatusCode.OK, 0), (empty.StatusCode, emptyBody.Length));
            var (head, headBody) = await Send(HttpMethod.Head, "/be3/download/10");
            Assert.Equal((HttpStatusCode.OK, 10L, 0), (head.StatusCode, head.Content.Headers.ContentLength ?? -1, headBody.Length));
            var (missing, _) = await Send(HttpMethod.Get, "/be3/no-such-endpoint");
            Assert.Equal((HttpStatusCode.NotFound, "be3"), (missing.StatusCode, Host(missing)));
            Assert.Equal("router", Host((await Send(HttpMethod.Get, "/router/home")).Response));

            Assert.Single(ports); // one client connection throughout: no reset, no reconnect

            // A WebSocket: the connection stays with the application until the client closes it.
            using var ws = new ClientWebSocket();
            using var wsHttp = lab.CreateHttpClient([]);
            await ws.ConnectAsync(new Uri($"ws://{lab.Service}/be3/echo"), wsHttp, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            var message = new byte[256 * 1024];
            Random.Shared.NextBytes(message);
            await ws.SendAsync(message, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
            var echoed = new MemoryStream();
            var buffer = new byte[65536];
            WebSocketReceiveResult r;
            do
            {
                r = await ws.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
                echoed.Write(buffer, 0, r.Count);
            }
            while (!r.EndOfMessage);
            Assert.True(message.AsSpan().SequenceEqual(echoed.ToArray()), $"the WebSocket echoed {echoed.Length} bytes that differ");
            await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(WebSocketState.Closed, ws.State);
        }
        finally
        {
            await HoldQueueTests.RestartAgentAsync(lab, lab.Router);
        }
    }

    [Fact]
    public async Task Bad_settings_stop_the_application_at_start_with_each_problem_named()
    {
        var lab = fixture.Lab;
        try
        {
            var app = BatonProcess.StartDll(lab.Net.Ns(Backend), "sample", SampleDll,
                ["--Baton:Agent:Name=be3", "--Baton:Agent:Listen=not-an-address", "--Baton:Agent:KeyFile=/nonexistent/cluster.key"]);
            using (app)
            {
                Assert.True(app.WaitForExit(TimeSpan.FromSeconds(60)), app.Output);
                Assert.NotEqual(0, app.ExitCode);
                Assert.Contains("Listen: 'not-an-address' is not address:port", app.Output);
                Assert.Contains("KeyFile: '/nonexistent/cluster.key' does not exist", app.Output);
            }
        }
        finally
        {
            await HoldQueueTests.RestartAgentAsync(lab, lab.Router);
        }
    }

    private async Task StartSampleAsync(BatonLab lab)
    {
        var app = await lab.StartAgentApplicationAsync(Backend, SampleDll, $"--PathBase=/{Backend}");
        // The agent tells the router when Kestrel serves; the router picks be3 only then.
        Assert.True(await Eventually.WaitUntilAsync(() => app.Output.Contains("Application started", StringComparison.Ordinal), TimeSpan.FromSeconds(30)), app.Output);
    }
}
