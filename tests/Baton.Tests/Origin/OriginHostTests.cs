using System.Net;
using System.Net.Sockets;
using System.Text;
using Baton.Origin;
using Baton.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Baton.Application;

namespace Baton.Tests.Origin;

/// <summary><c>baton origin</c>'s server, in process on loopback port 0, driven by a raw socket.</summary>
public sealed class OriginHostTests : IAsyncLifetime
{
    private readonly CancellationTokenSource _stop = new();
    private OriginHost _host = null!;
    private Task _run = Task.CompletedTask;
    private IPEndPoint _endpoint = null!;

    public Task InitializeAsync()
    {
        _host = new OriginHost(new OriginOptions { Name = "o1", Listen = new IPEndPoint(IPAddress.Loopback, 0) }, NullLoggerFactory.Instance);
        _endpoint = _host.Listen();
        _run = _host.RunAsync(_stop.Token);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(LoopbackPair.HangGuard);
        _host.Dispose();
    }

    [Fact]
    public async Task Two_requests_are_served_on_one_keep_alive_connection()
    {
        using var client = await ConnectAsync();
        var reader = new ResponseReader(client);

        await SendAsync(client, "GET /hello HTTP/1.1\r\nHost: o1\r\n\r\n");
        var first = await reader.ReadAsync();
        Assert.Equal(200, first.Status);
        Assert.Equal("o1", first.Headers["Baton-Host"]);
        Assert.False(first.Headers.ContainsKey("Baton-Handoff-Us"));
        Assert.Equal("served by o1: GET /hello\n", Encoding.UTF8.GetString(first.Body));

        await SendAsync(client, "GET /x/bytes/100000 HTTP/1.1\r\nHost: o1\r\n\r\n");
        var second = await reader.ReadAsync();
        Assert.Equal(200, second.Status);
        Assert.Equal("o1", second.Headers["Baton-Host"]);
        Assert.Equal(100000, second.Body.Length);
        for (int i = 0; i < second.Body.Length; i++)
            Assert.Equal(BuiltInApplication.PatternByte(i), second.Body[i]);

        // Still open: no FIN or reset is waiting, and nothing but the two responses came.
        Assert.False(client.Poll(TimeSpan.FromMilliseconds(300), SelectMode.SelectRead));
        Assert.True(client.Connected);
    }

    [Fact]
    public async Task Pipelined_requests_and_a_body_are_served_in_order()
    {
        using var client = await ConnectAsync();
        var reader = new ResponseReader(client);
        await SendAsync(client,
            "POST /echo HTTP/1.1\r\nHost: o1\r\nContent-Length: 5\r\n\r\nhello" +
            "GET /bytes/3 HTTP/1.1\r\nHost: o1\r\n\r\n");
        var echo = await reader.ReadAsync();
        var bytes = await reader.ReadAsync();
        Assert.Equal("hello", Encoding.ASCII.GetString(echo.Body));
        Assert.Equal("abc", Encoding.ASCII.GetString(bytes.Body));
    }

    [Fact]
    public async Task Connection_close_ends_the_connection_with_a_fin_after_the_response()
    {
        using var client = await ConnectAsync();
        var reader = new ResponseReader(client);
        await SendAsync(client, "GET /bye HTTP/1.1\r\nHost: o1\r\nConnection: close\r\n\r\n");
        var r = await reader.ReadAsync();
        Assert.Equal(200, r.Status);
        Assert.Equal("close", r.Headers["Connection"]);
        Assert.True(await reader.AtEndAsync());
    }

    private async Task<Socket> ConnectAsync()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await s.ConnectAsync(_endpoint);
        return s;
    }

    private static async Task SendAsync(Socket s, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        for (int sent = 0; sent < bytes.Length;)
            sent += await s.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
    }

    private sealed record Response(int Status, Dictionary<string, string> Headers, byte[] Body);

    /// <summary>Reads Content-Length framed responses off a raw socket, keeping what follows.</summary>
    private sealed class ResponseReader(Socket socket)
    {
        private readonly List<byte> _pending = [];

        public async Task<Response> ReadAsync()
        {
            int headEnd;
            while ((headEnd = IndexOfHeadEnd()) < 0)
                Assert.True(await FillAsync(), "connection ended inside a response head");
            var head = Encoding.ASCII.GetString(_pending.GetRange(0, headEnd).ToArray()).Split("\r\n");
            _pending.RemoveRange(0, headEnd + 4);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in head.Skip(1))
                headers[line[..line.IndexOf(':')]] = line[(line.IndexOf(':') + 1)..].Trim();
            int length = int.Parse(headers["Content-Length"]);
            while (_pending.Count < length)
                Assert.True(await FillAsync(), "connection ended inside a response body");
            var body = _pending.GetRange(0, length).ToArray();
            _pending.RemoveRange(0, length);
            return new Response(int.Parse(head[0].Split(' ')[1]), headers, body);
        }

        /// <summary>True when the peer closed with nothing more to read.</summary>
        public async Task<bool> AtEndAsync() => _pending.Count == 0 && !await FillAsync();

        private async Task<bool> FillAsync()
        {
            var buffer = new byte[65536];
            using var cts = new CancellationTokenSource(LoopbackPair.HangGuard);
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            _pending.AddRange(buffer.AsSpan(0, n));
            return n > 0;
        }

        private int IndexOfHeadEnd()
        {
            for (int i = 0; i + 3 < _pending.Count; i++)
                if (_pending[i] == '\r' && _pending[i + 1] == '\n' && _pending[i + 2] == '\r' && _pending[i + 3] == '\n') return i;
            return -1;
        }
    }
}
