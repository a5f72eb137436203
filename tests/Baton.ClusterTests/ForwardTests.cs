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

    [Fact]
    public async Task Nginx_behind_the_agent_answers_files_chunks_304_HEAD_uploads_and_an_upgrade_of_handed_off_connections()
    {
        var lab = fixture.Lab;
        var file = new byte[4 << 20];
        new Random(31).NextBytes(file);
        var hello = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("hello from nginx behind the hand-off\n", 2000)));
        // The router passes the path on: nginx sees /be3/..., so the files sit under www/be3.
        var upgradeOrigin = BatonProcess.Start(lab.Net.Ns(Backend), "origin3", ["origin", "--name", "origin3", "--listen", "127.0.0.1:8080"]);
        NginxServer? nginx = null;
        try
        {
            Assert.True(await upgradeOrigin.WaitForOutputAsync("listening on", TimeSpan.FromSeconds(30)), upgradeOrigin.Output);
            var files = new Dictionary<string, byte[]>
            {
                ["be3/static.bin"] = file,
                ["be3/empty.bin"] = [],
                ["be3/hello.txt"] = hello,
                ["be3/dav/.keep"] = [],
            };
            nginx = NginxInNamespace.Start(lab.Net.Ns(Backend), System.Net.IPEndPoint.Parse("127.0.0.1:8080"), files);
            await HoldQueueTests.RestartAgentAsync(lab, lab.Router, "--forward", NginxInNamespace.Url.ToString());
            var ports = new List<int>();
            using var http = lab.CreateHttpClient(ports);
            async Task<(HttpResponseMessage Response, byte[] Body)> Send(HttpRequestMessage request)
            {
                var response = await http.SendAsync(request).WaitAsync(TimeSpan.FromSeconds(30));
                return (response, await response.Content.ReadAsByteArrayAsync());
            }
            static HttpRequestMessage Get(string path) => new(HttpMethod.Get, path);

            Assert.Equal("be1", (await Send(Get("/be1/first"))).Response.Headers.GetValues("Baton-Host").Single());
            var (big, bigBody) = await Send(Get("/be3/static.bin"));
            Assert.StartsWith("nginx", big.Headers.Server.ToString());
            Assert.Equal(file, bigBody);
            var (empty, emptyBody) = await Send(Get("/be3/empty.bin"));
            Assert.Equal((200, 0), ((int)empty.StatusCode, emptyBody.Length));
            var gz = Get("/be3/hello.txt");
            gz.Headers.AcceptEncoding.Add(new System.Net.Http.Headers.StringWithQualityHeaderValue("gzip"));
            var (chunked, chunkedBody) = await Send(gz);
            Assert.True(chunked.Headers.TransferEncodingChunked, "nginx's gzip response should be chunked");
            using (var unzip = new MemoryStream())
            {
                using (var z = new System.IO.Compression.GZipStream(new MemoryStream(chunkedBody), System.IO.Compression.CompressionMode.Decompress)) z.CopyTo(unzip);
                Assert.Equal(hello, unzip.ToArray());
            }
            var conditional = Get("/be3/static.bin");
            conditional.Headers.IfModifiedSince = big.Content.Headers.LastModified;
            var (notModified, notModifiedBody) = await Send(conditional);
            Assert.Equal((304, 0), ((int)notModified.StatusCode, notModifiedBody.Length));
            var (head, headBody) = await Send(new HttpRequestMessage(HttpMethod.Head, "/be3/static.bin"));
            Assert.Equal(((long)file.Length, 0), (head.Content.Headers.ContentLength ?? -1, headBody.Length));
            var upload = new byte[5_000_000];
            new Random(32).NextBytes(upload);
            var (put, _) = await Send(new HttpRequestMessage(HttpMethod.Put, "/be3/dav/up.bin") { Content = new ByteArrayContent(upload) });
            Assert.True((int)put.StatusCode is 201 or 204, $"PUT answered {(int)put.StatusCode}");
            Assert.Equal(upload, (await Send(Get("/be3/dav/up.bin"))).Body);
            Assert.Equal("be2", (await Send(Get("/be2/between"))).Response.Headers.GetValues("Baton-Host").Single());

            // nginx stops mid-test: be3's agent finds it gone and tells the router, which stops
            // choosing be3 (its cluster has no other destination: 503 from the router itself)
            // instead of leaving be3 to answer 502s. Started again, it serves again. The client's
            // connection goes on throughout.
            string down = "agent be3: its application cannot serve", up = "agent be3: its application serves again";
            int downs = Eventually.Lines(lab.Router.Output, down), ups = Eventually.Lines(lab.Router.Output, up);
            nginx.Dispose();
            nginx = null;
            Assert.True(await Eventually.WaitUntilAsync(() => Eventually.Lines(lab.Router.Output, down) > downs, TimeSpan.FromSeconds(10)), lab.Router.Output);
            var (refused, refusedBody) = await Send(Get("/be3/hello.txt"));
            Assert.Equal((503, "router"), ((int)refused.StatusCode, refused.Headers.GetValues("Baton-Host").Single()));
            Assert.DoesNotContain("Exception", System.Text.Encoding.UTF8.GetString(refusedBody));
            nginx = NginxInNamespace.Start(lab.Net.Ns(Backend), System.Net.IPEndPoint.Parse("127.0.0.1:8080"), files);
            Assert.True(await Eventually.WaitUntilAsync(() => Eventually.Lines(lab.Router.Output, up) > ups, TimeSpan.FromSeconds(10)), lab.Router.Output);
            Assert.Equal(hello, (await Send(Get("/be3/hello.txt"))).Body);
            Assert.Single(ports); // one client connection for all of it

            // A WebSocket-style upgrade through nginx (proxied on to origin3's echo): the connection
            // stays at be3 for good, bytes both ways, and ends with the client's close.
            using var socket = await lab.ConnectClientAsync();
            var raw = new RawHttp(socket);
            Assert.Equal("be1", (await raw.RequestAsync("/be1/before-the-upgrade")).Header("Baton-Host"));
            await raw.SendAsync($"GET /be3/ws/chat HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: {BuiltInApplication.EchoProtocol}\r\n\r\n");
            var switched = await raw.ReadResponseAsync();
            Assert.Equal(101, switched.Status);
            var bytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(256 * 1024);
            var sending = raw.SendAsync(bytes);
            var echoed = await raw.ReadExactlyAsync(bytes.Length);
            Assert.True(bytes.AsSpan().SequenceEqual(echoed), "echoed bytes differ");
            await sending;
            socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            Assert.True(await raw.WaitForCloseAsync(TimeSpan.FromSeconds(10)), "the upgraded connection was not closed after the client's FIN");
        }
        finally
        {
            nginx?.Dispose();
            upgradeOrigin.Dispose();
            await HoldQueueTests.RestartAgentAsync(lab, lab.Router);
        }
    }
}

