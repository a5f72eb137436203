using System.IO.Compression;
using System.Text;
using Baton.Modes;

namespace Baton.Tests.Modes.Relay;

/// <summary>
/// nginx as the origin: a real HTTP/1.1 server's keep-alive, framing and body handling against the
/// relay. Fails (never skips) where nginx is missing: ./baton.sh test installs it.
/// </summary>
public sealed class NginxRelayTests
{
    [Fact]
    public async Task Many_requests_on_one_client_connection_through_nginx_keep_their_bytes_and_one_upstream_connection()
    {
        var file = new byte[3 << 20];
        new Random(11).NextBytes(file);
        using var nginx = new NginxOrigin(file);
        await using var relay = new RelayHarness(nginx.Url);
        using var client = await relay.ConnectAsync();

        // 1. A static file of a few MB, Content-Length framed.
        await client.SendAsync("GET /static.bin HTTP/1.1\r\nHost: files.example\r\n\r\n");
        var r = await client.ReadAsync();
        Assert.Equal(200, r.Status);
        Assert.Equal(file.Length.ToString(), r["Content-Length"]);
        Assert.Equal(file, r.Body);

        // 2. A 'return' location with its own header.
        await client.SendAsync("GET /hello HTTP/1.1\r\nHost: files.example\r\n\r\n");
        r = await client.ReadAsync();
        Assert.Equal("hello from nginx\n", r.Text);
        Assert.Equal("nginx", r["X-Origin"]);

        // 3. HEAD: the length, no body.
        await client.SendAsync("HEAD /static.bin HTTP/1.1\r\nHost: files.example\r\n\r\n");
        r = await client.ReadAsync("HEAD");
        Assert.Equal(file.Length.ToString(), r["Content-Length"]);

        // 4. gzip makes nginx answer chunked; the client gets it chunked too and the content intact.
        await client.SendAsync("GET /hello.txt HTTP/1.1\r\nHost: files.example\r\nAccept-Encoding: gzip\r\n\r\n");
        r = await client.ReadAsync();
        Assert.Equal("chunked", r["Transfer-Encoding"]);
        Assert.Equal("gzip", r["Content-Encoding"]);
        using (var unzip = new GZipStream(new MemoryStream(r.Body), CompressionMode.Decompress))
        using (var text = new StreamReader(unzip))
            Assert.Equal(File.ReadAllText(Path.Combine(nginx.Directory, "www", "hello.txt")), text.ReadToEnd());

        // 5. A chunked upload, stored by nginx's DAV module, then read back.
        var upload = new byte[2 << 20];
        new Random(12).NextBytes(upload);
        var put = new MemoryStream();
        put.Write("PUT /dav/up.bin HTTP/1.1\r\nHost: files.example\r\nTransfer-Encoding: chunked\r\n\r\n"u8);
        for (int off = 0; off < upload.Length; off += 100_000)
        {
            int n = Math.Min(100_000, upload.Length - off);
            put.Write(Encoding.ASCII.GetBytes($"{n:x}\r\n"));
            put.Write(upload, off, n);
            put.Write("\r\n"u8);
        }
        put.Write("0\r\n\r\n"u8);
        var sending = client.SendAsync(put.ToArray());
        r = await client.ReadAsync();
        await sending;
        Assert.Equal(201, r.Status);
        await client.SendAsync("GET /dav/up.bin HTTP/1.1\r\nHost: files.example\r\n\r\n");
        Assert.Equal(upload, (await client.ReadAsync()).Body);

        // 6. A Content-Length POST whose body nginx reads and discards.
        sending = client.SendAsync(Encoding.ASCII.GetBytes($"POST /upload HTTP/1.1\r\nHost: files.example\r\nContent-Length: {upload.Length}\r\n\r\n").Concat(upload).ToArray());
        r = await client.ReadAsync();
        await sending;
        Assert.Equal(204, r.Status);

        // 7. nginx's own 404, and the connection still in step afterwards.
        await client.SendAsync("GET /missing HTTP/1.1\r\nHost: files.example\r\n\r\n");
        Assert.Equal(404, (await client.ReadAsync()).Status);
        await client.SendAsync("GET /hello HTTP/1.1\r\nHost: files.example\r\nConnection: close\r\n\r\n");
        r = await client.ReadAsync();
        Assert.Equal(200, r.Status);
        Assert.Equal("close", r["Connection"]);
        Assert.True(await client.SeesEndAsync());

        var outcomes = await relay.OutcomesAsync(9);
        Assert.All(outcomes[..^1], o => Assert.IsType<TransactionOutcome.Back>(o));
        Assert.IsType<TransactionOutcome.Ended>(outcomes[^1]);
        Assert.Empty(relay.Escaped);

        // nginx saw every request on one connection, numbered 1..9, with the forwarding fields and no hop-by-hop ones.
        var log = nginx.AccessLog;
        Assert.Equal(9, log.Length);
        Assert.Single(log.Select(l => l.Split(' ')[0]).Distinct());
        Assert.Equal(Enumerable.Range(1, 9).Select(i => i.ToString()), log.Select(l => l.Split(' ')[1]));
        Assert.All(log, l => Assert.EndsWith("\"127.0.0.1\" \"files.example\" \"http\" \"-\"", l));
    }
}
