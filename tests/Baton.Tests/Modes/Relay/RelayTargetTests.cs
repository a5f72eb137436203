using System.Net;
using System.Net.Sockets;
using System.Text;
using Baton.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Baton.Modes;
using Baton.Modes.Relay;

namespace Baton.Tests.Modes.Relay;

/// <summary>The relay transfer mode end to end over loopback: a scripted origin, a router loop, a raw client.</summary>
public sealed class RelayTargetTests
{
    private static byte[] Response(int status, string body, params string[] headers) =>
        Encoding.Latin1.GetBytes($"HTTP/1.1 {status} X\r\n{string.Concat(headers.Select(h => h + "\r\n"))}Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    private static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>Origin that answers "&lt;method&gt; &lt;target&gt; #&lt;n on its connection&gt;".</summary>
    private static OriginReply Describe(OriginRequest r) =>
        new(Response(200, $"{r.Head.Method} {r.Head.Target} #{r.IndexOnConnection}"));

    [Fact]
    public async Task Requests_on_one_client_connection_share_one_upstream_connection()
    {
        await using var origin = new ScriptedOrigin(Describe);
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        for (int i = 1; i <= 4; i++)
        {
            await client.SendAsync($"GET /item/{i}?q={i} HTTP/1.1\r\nHost: shop.example\r\n\r\n");
            var r = await client.ReadAsync();
            Assert.Equal(200, r.Status);
            Assert.Equal($"GET /item/{i}?q={i} #{i}", r.Text);
        }
        Assert.Equal(1, origin.Connections);
        Assert.All(await relay.OutcomesAsync(4), o => Assert.IsType<TransactionOutcome.Back>(o));
        Assert.Equal(1, relay.Target.Pool.IdleCount);
        Assert.Empty(relay.Escaped);
    }

    [Fact]
    public async Task Content_length_and_chunked_bodies_pass_both_ways()
    {
        // The origin echoes the body, with a length or chunked as the request's path asks.
        await using var origin = new ScriptedOrigin(r => r.Head.Path == "/chunked"
            ? new(Concat(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n{r.Body.Length:x}\r\n"), r.Body, "\r\n0\r\nX-Trailer: t\r\n\r\n"u8.ToArray()))
            : new(Concat(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {r.Body.Length}\r\n\r\n"), r.Body)));
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        await client.SendAsync("POST /length HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world");
        var r1 = await client.ReadAsync();
        Assert.Equal("hello world", r1.Text);
        Assert.Equal("11", r1["Content-Length"]);

        await client.SendAsync("POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
        var r2 = await client.ReadAsync();
        Assert.Equal("chunked", r2["Transfer-Encoding"]);
        Assert.False(r2.Has("Content-Length"));
        Assert.Equal("abchello world", r2.Text);

        var seen = origin.Requests.ToArray();
        Assert.Equal("11", seen[0]["Content-Length"]);
        Assert.Null(seen[0]["Transfer-Encoding"]);
        Assert.Equal("chunked", seen[1]["Transfer-Encoding"]);
        Assert.Null(seen[1]["Content-Length"]);
        Assert.Equal("hello world", Encoding.ASCII.GetString(seen[1].Body));
        Assert.Equal(1, origin.Connections);
        Assert.Empty(origin.Errors);
    }

    [Fact]
    public async Task Large_bodies_arrive_intact_in_each_direction()
    {
        var download = Pattern(6 << 20, 1);
        await using var origin = new ScriptedOrigin(r => r.Head.Method == "GET"
            ? new(Concat(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {download.Length}\r\n\r\n"), download))
            : new(Response(200, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(r.Body)))));
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        await client.SendAsync("GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
        Assert.Equal(download, (await client.ReadAsync()).Body);

        var upload = Pattern(5 << 20, 2);
        var sending = client.SendAsync(Concat(Encoding.ASCII.GetBytes($"PUT /up HTTP/1.1\r\nHost: h\r\nContent-Length: {upload.Length}\r\n\r\n"), upload));
        var r = await client.ReadAsync();
        await sending;
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(upload)), r.Text);

        // The same upload chunked by the client in uneven pieces.
        var chunked = new MemoryStream();
        chunked.Write("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"u8);
        for (int off = 0, size = 1; off < upload.Length; off += size, size = size * 3 % 200_003 + 1)
        {
            int n = Math.Min(size, upload.Length - off);
            chunked.Write(Encoding.ASCII.GetBytes($"{n:x}\r\n"));
            chunked.Write(upload, off, n);
            chunked.Write("\r\n"u8);
        }
        chunked.Write("0\r\n\r\n"u8);
        sending = client.SendAsync(chunked.ToArray());
        r = await client.ReadAsync();
        await sending;
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(upload)), r.Text);
        Assert.Equal(upload, origin.Requests.Last().Body);
        Assert.Equal(1, origin.Connections);
    }

    [Fact]
    public async Task Hop_by_hop_fields_are_dropped_and_forwarding_fields_set()
    {
        await using var origin = new ScriptedOrigin(_ => new(Response(200, "ok",
            "Connection: X-Origin-Hop", "X-Origin-Hop: secret", "Keep-Alive: timeout=5", "Proxy-Authenticate: Basic", "Upgrade: h2c", "X-End-To-End: yes")));
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        await client.SendAsync("GET /h HTTP/1.1\r\nHost: app.example:8080\r\nConnection: keep-alive, X-Client-Hop\r\nX-Client-Hop: 1\r\n" +
                               "Keep-Alive: 300\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\n" +
                               "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nForwarded: for=203.0.113.7;proto=https\r\nX-Kept: 1\r\n\r\n");
        var r = await client.ReadAsync();

        Assert.Equal("ok", r.Text);
        foreach (var name in new[] { "Connection", "X-Origin-Hop", "Keep-Alive", "Proxy-Authenticate", "Upgrade" })
            Assert.False(r.Has(name), $"{name} reached the client");
        Assert.Equal("yes", r["X-End-To-End"]);

        var seen = Assert.Single(origin.Requests);
        foreach (var name in new[] { "Connection", "X-Client-Hop", "Keep-Alive", "Proxy-Connection", "TE", "Proxy-Authorization" })
            Assert.Null(seen[name]);
        Assert.Equal("1", seen["X-Kept"]);
        Assert.Equal("app.example:8080", seen["Host"]);
        Assert.Equal("203.0.113.7, 127.0.0.1", seen["X-Forwarded-For"]);
        Assert.Equal("http", seen["X-Forwarded-Proto"]);
        Assert.Equal("app.example:8080", seen["X-Forwarded-Host"]);
        Assert.Single(seen.Head.Headers, h => h.Key == "X-Forwarded-Proto");
        // RFC 7239: the earlier proxy's element first, then ours, the host with its port quoted.
        Assert.Equal("for=203.0.113.7;proto=https, for=127.0.0.1;proto=http;host=\"app.example:8080\"", seen["Forwarded"]);
        Assert.Single(seen.Head.Headers, h => h.Key == "Forwarded");
    }

    [Fact]
    public async Task Responses_without_body_keep_the_connection_in_step()
    {
        await using var origin = new ScriptedOrigin(r => r.Head.Path switch
        {
            "/head" => new(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")),
            "/204" => new(Encoding.ASCII.GetBytes("HTTP/1.1 204 No Content\r\n\r\n")),
            "/304" => new(Encoding.ASCII.GetBytes("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n")),
            _ => Describe(r),
        });
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        await client.SendAsync("HEAD /head HTTP/1.1\r\nHost: h\r\n\r\n");
        var head = await client.ReadAsync("HEAD");
        Assert.Equal(200, head.Status);
        Assert.Equal("1000", head["Content-Length"]);
        await client.SendAsync("GET /204 HTTP/1.1\r\nHost: h\r\n\r\n");
        Assert.Equal(204, (await client.ReadAsync()).Status);
        await client.SendAsync("GET /304 HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"v1\"\r\n\r\n");
        var notModified = await client.ReadAsync();
        Assert.Equal(304, notModified.Status);
        Assert.Equal("\"v1\"", notModified["ETag"]);

        // Had any of them been framed with a body, this response would be misread.
        await client.SendAsync("GET /after HTTP/1.1\r\nHost: h\r\n\r\n");
        Assert.Equal("GET /after #4", (await client.ReadAsync()).Text);
        Assert.Equal(1, origin.Connections);
    }

    [Fact]
    public async Task A_pooled_connection_the_origin_dropped_is_retried_for_GET()
    {
        // The origin drops its first connection when the second request arrives on it, as an
        // origin does whose keep-alive timer fires just as a request is sent.
        await using var origin = new ScriptedOrigin(r => r is { Connection: 1, IndexOnConnection: 2 } ? OriginReply.Close() : Describe(r));
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        await client.SendAsync("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
        Assert.Equal("GET /a #1", (await client.ReadAsync()).Text);
        await client.SendAsync("GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
        var r = await client.ReadAsync();

        Assert.Equal(200, r.Status);
        Assert.Equal("GET /b #1", r.Text); // the first request on the fresh connection
        Assert.Equal(2, origin.Connections);
        Assert.Equal(["/a", "/b", "/b"], origin.Requests.Select(q => q.Head.Path));
        Assert.All(await relay.OutcomesAsync(2), o => Assert.IsType<TransactionOutcome.Back>(o));
    }

    [Fact]
    public async Task A_POST_is_not_sent_twice_and_the_client_gets_502()
    {
        await using var origin = new ScriptedOrigin(r => r is { Connection: 1, IndexOnConnection: 2 } ? OriginReply.Close() : Describe(r));
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        await client.SendAsync("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
        Assert.Equal(200, (await client.ReadAsync()).Status);
        await client.SendAsync("POST /order HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
        var r = await client.ReadAsync();

        Assert.Equal(502, r.Status);
        Assert.Contains("origin closed the connection before responding", r.Text);
        Assert.Equal(1, origin.Requests.Count(q => q.Head.Method == "POST"));
        Assert.Equal(1, origin.Connections);
        var outcomes = await relay.OutcomesAsync(2);
        Assert.Equal(502, Assert.IsType<TransactionOutcome.NotServed>(outcomes[1]).Status);
    }

    [Fact]
    public async Task A_POST_whose_body_was_read_gets_502_from_the_relay_itself()
    {
        await using var origin = new ScriptedOrigin(r => r.Head.Method == "POST" ? OriginReply.Close() : Describe(r));
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        await client.SendAsync("POST /order HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nitems");
        var r = await client.ReadAsync();

        Assert.Equal(502, r.Status);
        Assert.Equal("close", r["Connection"]);
        Assert.True(await client.SeesEndAsync());
        Assert.IsType<TransactionOutcome.Ended>(Assert.Single(await relay.OutcomesAsync(1)));
        Assert.Single(origin.Requests);
    }

    [Fact]
    public async Task A_refused_connect_is_not_served_502_and_repeated_failures_make_the_target_unhealthy()
    {
        var time = new ManualTime();
        int port;
        using (var l = new TcpListener(IPAddress.Loopback, 0)) { l.Start(); port = ((IPEndPoint)l.LocalEndpoint).Port; }
        await using var target = new RelayTarget("gone", new Uri($"http://127.0.0.1:{port}"),
            new RelayOptions { ConnectAttempts = 1, FailuresBeforeUnhealthy = 3, UnhealthyCooldown = TimeSpan.FromSeconds(5), Time = time }, NullLogger.Instance);
        using var pair = LoopbackPair.Create();
        using var connection = new ClientConnection(pair.Server);

        for (int i = 1; i <= 3; i++)
        {
            Assert.True(target.IsHealthy, $"unhealthy after {i - 1} failures");
            pair.ClientSends("GET / HTTP/1.1\r\nHost: h\r\n\r\n"u8);
            var head = (await connection.Input.ReadHeadAsync(16384, LoopbackPair.HangGuard, default)).Head!;
            var outcome = await target.ServeAsync(connection, head, default);
            Assert.Equal(502, Assert.IsType<TransactionOutcome.NotServed>(outcome).Status);
        }
        Assert.False(target.IsHealthy);
        Assert.Equal(0, pair.Client.Available); // nothing was written to the client
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(target.IsHealthy); // half-open: the next request decides
    }

    [Fact]
    public async Task A_client_that_closes_mid_response_ends_the_transaction_quietly()
    {
        var big = Pattern(32 << 20, 3);
        await using var origin = new ScriptedOrigin(_ => new(Concat(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {big.Length}\r\n\r\n"), big)));
        await using var relay = new RelayHarness(origin.Url);
        var client = await relay.ConnectAsync();

        await client.SendAsync("GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
        await client.ReadExactlyAsync(100_000); // part of the head and body
        client.Socket.LingerState = new LingerOption(true, 0);
        client.Dispose();

        Assert.IsType<TransactionOutcome.Ended>(Assert.Single(await relay.OutcomesAsync(1)));
        Assert.Empty(relay.Escaped);
        Assert.Equal(0, relay.Target.Pool.IdleCount); // an unfinished upstream response is never pooled
    }

    [Fact]
    public async Task A_response_delimited_by_close_reaches_the_client_with_Connection_close()
    {
        await using var origin = new ScriptedOrigin(_ => new("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"u8.ToArray(), CloseAfter: true));
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        await client.SendAsync("GET /old HTTP/1.1\r\nHost: h\r\n\r\n");
        var r = await client.ReadAsync();

        Assert.Equal("close", r["Connection"]);
        Assert.Equal("until the end", r.Text); // read until the relay's FIN
        Assert.IsType<TransactionOutcome.Ended>(Assert.Single(await relay.OutcomesAsync(1)));
    }

    [Fact]
    public async Task Expect_100_continue_gets_the_origins_interim_response()
    {
        await using var origin = new ScriptedOrigin(r => new(Response(201, $"stored {r.Body.Length}")));
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        await client.SendAsync("PUT /file HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
        Assert.Equal(100, (await client.ReadAsync()).Status); // the body is sent only after it, as clients do
        await client.SendAsync("data");
        var r = await client.ReadAsync();
        Assert.Equal(201, r.Status);
        Assert.Equal("stored 4", r.Text);
    }

    [Fact]
    public async Task A_malformed_origin_response_is_not_served_502()
    {
        await using var origin = new ScriptedOrigin(_ => new("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"u8.ToArray()));
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        var r = await client.ReadAsync();

        Assert.Equal(502, r.Status);
        // The parser's message about the duplicate Content-Length is for the log, not the client.
        Assert.Equal("502 Bad Gateway: invalid response from origin\n", r.Text);
        Assert.IsType<TransactionOutcome.NotServed>(Assert.Single(await relay.OutcomesAsync(1)));
    }

    [Fact]
    public async Task Chunk_framing_reaches_an_HTTP_11_client_as_the_origin_sent_it()
    {
        // Extensions, a chunk large enough to go socket to socket (spliced), small ones around it,
        // and trailers: the client gets the body byte for byte, and the connections stay usable.
        var big = Pattern(0x30000, 3);
        var body = Concat("3;a=b\r\nabc\r\n30000\r\n"u8.ToArray(), big, "\r\n5;q=\"x y\"\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"u8.ToArray());
        await using var origin = new ScriptedOrigin(_ => new(Concat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"u8.ToArray(), body)));
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        for (int i = 0; i < 2; i++)
        {
            await client.SendAsync("GET /framed HTTP/1.1\r\nHost: h\r\n\r\n");
            var head = await client.ReadAsync("HEAD"); // the head only: the body is read raw below
            Assert.Equal("chunked", head["Transfer-Encoding"]);
            Assert.Equal(body, await client.ReadExactlyAsync(body.Length));
        }
        Assert.Equal(1, origin.Connections);
        Assert.All(await relay.OutcomesAsync(2), o => Assert.IsType<TransactionOutcome.Back>(o));
    }

    [Fact]
    public async Task Chunks_the_origin_breaks_after_the_head_end_the_client_connection()
    {
        // The break comes after a chunk large enough that the head went out first (a break in
        // the bytes that came with the head is answered 502 instead).
        var big = Pattern(0x30000, 4);
        await using var origin = new ScriptedOrigin(_ => new(Concat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n30000\r\n"u8.ToArray(), big, "XX0\r\n\r\n"u8.ToArray())));
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        // Never a complete body: the relay resets the connection (part of a response is out).
        var e = await Record.ExceptionAsync(() => client.ReadAsync());
        Assert.True(e is IOException or SocketException, $"the client read a whole response, or failed otherwise: {e}");
        Assert.IsType<TransactionOutcome.Ended>(Assert.Single(await relay.OutcomesAsync(1)));
    }

    [Fact]
    public async Task An_HTTP_10_client_gets_a_chunked_response_de_chunked_and_closed()
    {
        await using var origin = new ScriptedOrigin(_ => new("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nold \r\n6\r\nclient\r\n0\r\n\r\n"u8.ToArray()));
        await using var relay = new RelayHarness(origin.Url);
        using var client = await relay.ConnectAsync();

        await client.SendAsync("GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n");
        var r = await client.ReadAsync();

        Assert.False(r.Has("Transfer-Encoding"));
        Assert.Equal("close", r["Connection"]);
        Assert.Equal("old client", r.Text);
        Assert.Equal(1, origin.Requests.Single().Head.VersionMinor); // upstream always speaks HTTP/1.1
    }

    [Fact]
    public void An_https_origin_is_refused_with_a_clear_message()
    {
        var e = Assert.Throws<ArgumentException>(() => new RelayTarget("secure", new Uri("https://127.0.0.1:8443"), new RelayOptions(), NullLogger.Instance));
        Assert.Contains("https to origins is not supported", e.Message);
    }

    /// <summary>A clock that moves only when told to.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Interlocked.Read(ref _ticks);
        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}
