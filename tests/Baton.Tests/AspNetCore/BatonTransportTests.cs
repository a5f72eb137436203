using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using Baton.Application;
using Baton.AspNetCore;
using Baton.Modes;
using Baton.Tests.Modes.Relay;
using Baton.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Baton.Tests.AspNetCore;

/// <summary>
/// Kestrel behind Baton's transport, driven as the in-process agent drives it: each transaction's
/// request reaches Kestrel over a connection of its own that names the client, and the forwarder's
/// exchange finds the end of each response from its framing. A real Kestrel with endpoints of an
/// ordinary application, a client nobody wrote (HttpClient, ClientWebSocket), one client connection.
/// The router's side is the relay harness here; the cluster tests run the same through a hand-off.
/// </summary>
public sealed class BatonTransportTests
{
    [Fact]
    public async Task Each_request_reaches_Kestrel_from_the_clients_own_address_on_a_connection_of_its_own_and_its_framing_ends_the_transaction()
    {
        await using var app = await StartAppAsync();
        var transport = app.Services.GetRequiredService<BatonTransport>();
        await using var harness = new RelayHarness(new KestrelConnector(transport));
        var ports = new List<int>();
        using var http = Client(harness, ports);

        var first = await http.GetStringAsync("/who").WaitAsync(LoopbackPair.HangGuard);
        var second = await http.GetStringAsync("/who").WaitAsync(LoopbackPair.HangGuard);
        int port = Assert.Single(ports);
        // The application sees the client itself, port included, not the agent's end of a socketpair.
        Assert.StartsWith($"127.0.0.1:{port} ", first);
        Assert.StartsWith($"127.0.0.1:{port} ", second);
        // Two Kestrel connections: Kestrel never read the client's next request on its own.
        Assert.NotEqual(first.Split(' ')[1], second.Split(' ')[1]);

        var streamed = await http.GetAsync("/stream/300000").WaitAsync(LoopbackPair.HangGuard);
        Assert.True(streamed.Headers.TransferEncodingChunked, "Kestrel sent no length: the client gets chunks");
        var body = await streamed.Content.ReadAsByteArrayAsync();
        Assert.Equal(300000, body.Length);
        Assert.True(body.Select((b, i) => b == BuiltInApplication.PatternByte(i)).All(ok => ok), "the streamed body differs");

        var upload = new byte[3_000_000];
        Random.Shared.NextBytes(upload);
        var uploaded = await http.PostAsync("/upload", new ByteArrayContent(upload)).WaitAsync(LoopbackPair.HangGuard);
        Assert.Equal($"{upload.Length} {Convert.ToHexStringLower(SHA256.HashData(upload))}", await uploaded.Content.ReadAsStringAsync());

        var none = await http.GetAsync("/nothing").WaitAsync(LoopbackPair.HangGuard);
        Assert.Equal(HttpStatusCode.NoContent, none.StatusCode);
        var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/stream/10")).WaitAsync(LoopbackPair.HangGuard);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("after", await http.GetStringAsync("/who-else").WaitAsync(LoopbackPair.HangGuard));

        Assert.Single(ports); // one client connection throughout
        var outcomes = await harness.OutcomesAsync(7);
        Assert.All(outcomes, o => Assert.IsType<TransactionOutcome.Back>(o));
        Assert.Empty(harness.Escaped);
    }

    [Fact]
    public async Task A_websocket_stays_on_its_Kestrel_connection_until_the_client_closes_it()
    {
        await using var app = await StartAppAsync();
        await using var harness = new RelayHarness(new KestrelConnector(app.Services.GetRequiredService<BatonTransport>()));
        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(new Uri($"ws://{harness.Front}/echo"), CancellationToken.None).WaitAsync(LoopbackPair.HangGuard);
        var message = new byte[200_000];
        Random.Shared.NextBytes(message);
        for (int round = 0; round < 3; round++)
        {
            await ws.SendAsync(message, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
            var echoed = new MemoryStream();
            var buffer = new byte[65536];
            WebSocketReceiveResult r;
            do
            {
                r = await ws.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(LoopbackPair.HangGuard);
                echoed.Write(buffer, 0, r.Count);
            }
            while (!r.EndOfMessage);
            Assert.True(message.AsSpan().SequenceEqual(echoed.ToArray()), $"round {round}: echoed {echoed.Length} bytes that differ");
        }
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).WaitAsync(LoopbackPair.HangGuard);
        Assert.Equal(WebSocketState.Closed, ws.State);
        Assert.IsType<TransactionOutcome.Ended>(Assert.Single(await harness.OutcomesAsync(1)));
        Assert.Empty(harness.Escaped);
    }

    [Fact]
    public async Task A_stopped_Kestrel_takes_no_connection_and_its_probe_says_so()
    {
        var app = await StartAppAsync();
        var transport = app.Services.GetRequiredService<BatonTransport>();
        var connector = new KestrelConnector(transport);
        Assert.Null(await connector.ProbeAsync(TimeSpan.FromSeconds(1), CancellationToken.None));
        await using var harness = new RelayHarness(connector);
        var ports = new List<int>();
        using var http = Client(harness, ports);
        Assert.StartsWith("127.0.0.1:", await http.GetStringAsync("/who").WaitAsync(LoopbackPair.HangGuard));

        await app.StopAsync().WaitAsync(LoopbackPair.HangGuard);
        Assert.Contains("not serving", await connector.ProbeAsync(TimeSpan.FromSeconds(1), CancellationToken.None));
        var e = await Assert.ThrowsAsync<SocketException>(async () => await connector.ConnectAsync(new IPEndPoint(IPAddress.Loopback, 1), null, CancellationToken.None));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        // Through the exchange: not served, so the router's side answers (the harness: 502, no internal text).
        var refused = await http.GetAsync("/who").WaitAsync(LoopbackPair.HangGuard);
        Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
        Assert.DoesNotContain("Exception", await refused.Content.ReadAsStringAsync());
        Assert.IsType<TransactionOutcome.NotServed>((await harness.OutcomesAsync(2))[1]);
        await app.DisposeAsync();
    }

    private static async Task<WebApplication> StartAppAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseBatonTransport(_ => "be-test");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.UseWebSockets();
        app.MapGet("/who", (HttpContext c) => $"{c.Connection.RemoteIpAddress}:{c.Connection.RemotePort} {c.Connection.Id}");
        app.MapGet("/who-else", () => "after");
        app.MapGet("/nothing", () => Results.NoContent());
        app.MapMethods("/stream/{size:int}", ["GET", "HEAD"], async (int size, HttpContext c) =>
        {
            c.Response.ContentType = "application/octet-stream";
            if (HttpMethods.IsHead(c.Request.Method)) return;
            var chunk = new byte[26 * 1000];
            for (int i = 0; i < chunk.Length; i++) chunk[i] = BuiltInApplication.PatternByte(i);
            for (int sent = 0; sent < size; sent += chunk.Length)
                await c.Response.Body.WriteAsync(chunk.AsMemory(0, Math.Min(chunk.Length, size - sent)));
        });
        app.MapPost("/upload", async (HttpRequest request) =>
        {
            using var copy = new MemoryStream();
            await request.Body.CopyToAsync(copy);
            return $"{copy.Length} {Convert.ToHexStringLower(SHA256.HashData(copy.ToArray()))}";
        });
        app.Map("/echo", async (HttpContext c) =>
        {
            using var ws = await c.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[65536];
            while (true)
            {
                var r = await ws.ReceiveAsync(buffer, c.RequestAborted);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, null, c.RequestAborted);
                    return;
                }
                await ws.SendAsync(buffer.AsMemory(0, r.Count), r.MessageType, r.EndOfMessage, c.RequestAborted);
            }
        });
        await app.StartAsync().WaitAsync(LoopbackPair.HangGuard);
        return app;
    }

    private static HttpClient Client(RelayHarness harness, List<int> ports)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1,
            ConnectCallback = async (context, ct) =>
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await s.ConnectAsync(harness.Front, ct);
                lock (ports) ports.Add(((IPEndPoint)s.LocalEndPoint!).Port);
                return new NetworkStream(s, ownsSocket: true);
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri($"http://{harness.Front}/") };
    }
}
