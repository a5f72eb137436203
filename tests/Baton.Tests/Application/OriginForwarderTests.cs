using System.Net;
using Baton.Application;
using Baton.Lab;
using Baton.Origin;
using Baton.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Baton.Tests.Application;

/// <summary>
/// A back-end that runs its own HTTP/1.1 server: the worker, started with <c>--forward</c>, serves
/// each passed connection's request from that origin and writes the response to the client itself.
/// Real router and worker processes on 127.0.0.1 (local mode, no root), a client nobody wrote
/// (HttpClient), one client connection across back-ends, bodies checked byte for byte.
/// </summary>
public sealed class OriginForwarderTests
{
    [Fact]
    public async Task Requests_on_one_connection_are_served_by_the_origin_behind_the_worker_and_a_stopped_origin_is_a_502_on_the_same_connection()
    {
        using var originStop = new CancellationTokenSource();
        var origin = new OriginHost(new OriginOptions { Name = "origin", Listen = new IPEndPoint(IPAddress.Loopback, 0) }, NullLoggerFactory.Instance);
        var originAt = origin.Listen();
        var originRun = origin.RunAsync(originStop.Token);

        var lab = await LoopbackLab.StartAsync(LoopbackMode.Local).WaitAsync(TimeSpan.FromMinutes(2));
        try
        {
            lab.StartWorker("be3", "--forward", $"http://{originAt}/");
            await lab.WaitForWorkerAsync("be3");
            var ports = new List<int>();
            using var http = lab.CreateHttpClient(ports);

            async Task<(HttpResponseMessage Response, byte[] Body)> Send(HttpMethod method, string path, byte[]? body = null)
            {
                var request = new HttpRequestMessage(method, path);
                if (body is not null) request.Content = new ByteArrayContent(body);
                var response = await http.SendAsync(request).WaitAsync(LoopbackPair.HangGuard);
                return (response, await response.Content.ReadAsByteArrayAsync());
            }
            static string Host(HttpResponseMessage r) => r.Headers.GetValues("Baton-Host").Single();

            var (r1, _) = await Send(HttpMethod.Get, "/be1/first");
            Assert.Equal("be1", Host(r1)); // the built-in application, as before

            var (big, bigBody) = await Send(HttpMethod.Get, "/be3/bytes/4194304");
            Assert.Equal(("origin", 4194304), (Host(big), bigBody.Length)); // the origin's answer, through the worker
            Assert.True(bigBody.Select((b, i) => b == BuiltInApplication.PatternByte(i)).All(ok => ok), "the 4 MiB body differs from the origin's");

            var (empty, emptyBody) = await Send(HttpMethod.Get, "/be3/bytes/0");
            Assert.Equal((200, "origin", 0), ((int)empty.StatusCode, Host(empty), emptyBody.Length));

            var upload = new byte[5_000_000];
            Random.Shared.NextBytes(upload);
            var (echo, echoed) = await Send(HttpMethod.Post, "/be3/echo", upload);
            Assert.Equal("origin", Host(echo));
            Assert.True(upload.AsSpan().SequenceEqual(echoed), $"the 5 MB upload came back as {echoed.Length} bytes that differ");

            var (head, headBody) = await Send(HttpMethod.Head, "/be3/bytes/10");
            Assert.Equal((200, 10L, 0), ((int)head.StatusCode, head.Content.Headers.ContentLength ?? -1, headBody.Length));

            var (r2, _) = await Send(HttpMethod.Get, "/be2/between");
            Assert.Equal("be2", Host(r2));

            // The origin stops: the worker answers 502 itself, and the connection stays usable.
            originStop.Cancel();
            await originRun;
            origin.Dispose();
            var (down, downBody) = await Send(HttpMethod.Get, "/be3/after-the-origin-stopped");
            Assert.Equal((502, "be3"), ((int)down.StatusCode, Host(down)));
            Assert.DoesNotContain("Exception", System.Text.Encoding.UTF8.GetString(downBody));
            var (r3, _) = await Send(HttpMethod.Get, "/be1/still-here");
            Assert.Equal("be1", Host(r3));

            Assert.Single(ports); // one client connection throughout
        }
        finally
        {
            await lab.DisposeAsync();
            originStop.Cancel();
            origin.Dispose();
        }
    }
}
