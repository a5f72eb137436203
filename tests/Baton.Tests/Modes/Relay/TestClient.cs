using System.Net.Sockets;
using System.Text;
using Baton.Tests.Support;

namespace Baton.Tests.Modes.Relay;

/// <summary>A response as the client received it; the body de-chunked when it came chunked.</summary>
internal sealed record ClientResponse(int Status, string Head, List<KeyValuePair<string, string>> Headers, byte[] Body)
{
    public string? this[string name] => Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    public bool Has(string name) => Headers.Any(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase));

    public string Text => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// An HTTP/1.1 client on a raw socket, with its own small response reader (independent of Baton's
/// framers, so it checks them rather than agreeing with them): Content-Length, chunked with a
/// strict CRLF check, or until close.
/// </summary>
internal sealed class TestClient(Socket socket) : IDisposable
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start, _end;
    private bool _eof;

    public Socket Socket => socket;

    public async Task SendAsync(string text) => await SendAsync(Encoding.Latin1.GetBytes(text));

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        using var cts = new CancellationTokenSource(LoopbackPair.HangGuard);
        await socket.SendAsync(bytes, SocketFlags.None, cts.Token);
    }

    /// <summary>Reads one response to a request with <paramref name="method"/>.</summary>
    public async Task<ClientResponse> ReadAsync(string method = "GET")
    {
        int headEnd;
        while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
            if (!await FillAsync()) throw new IOException("connection closed before a response head");
        string head = Encoding.Latin1.GetString(_buffer, _start, headEnd);
        _start += headEnd + 4;
        var lines = head.Split("\r\n");
        int status = int.Parse(lines[0].Split(' ')[1]);
        var headers = lines.Skip(1).Select(l => { int c = l.IndexOf(':'); return new KeyValuePair<string, string>(l[..c], l[(c + 1)..].Trim()); }).ToList();
        var r = new ClientResponse(status, head, headers, []);
        if (method == "HEAD" || status < 200 || status is 204 or 304) return r;
        if (r["Transfer-Encoding"] is { } te)
        {
            Assert.EndsWith("chunked", te, StringComparison.OrdinalIgnoreCase);
            return r with { Body = await ReadChunkedAsync() };
        }
        if (r["Content-Length"] is { } cl) return r with { Body = await ReadExactlyAsync(int.Parse(cl)) };
        var rest = new MemoryStream();
        while (true)
        {
            rest.Write(_buffer, _start, _end - _start);
            _start = _end;
            if (!await FillAsync()) return r with { Body = rest.ToArray() };
        }
    }

    /// <summary>Whether the server closed the connection (a FIN, no more bytes) within the hang guard.</summary>
    public async Task<bool> SeesEndAsync()
    {
        if (_end > _start) return false;
        try
        {
            return !await FillAsync();
        }
        catch (SocketException)
        {
            return true;
        }
    }

    private async Task<byte[]> ReadChunkedAsync()
    {
        var body = new MemoryStream();
        while (true)
        {
            string sizeLine = await ReadLineAsync();
            int size = Convert.ToInt32(sizeLine.Split(';')[0], 16);
            if (size == 0)
            {
                while ((await ReadLineAsync()).Length > 0) { }
                return body.ToArray();
            }
            body.Write(await ReadExactlyAsync(size));
            Assert.Equal("", await ReadLineAsync());
        }
    }

    private async Task<string> ReadLineAsync()
    {
        int i;
        while ((i = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8)) < 0)
            if (!await FillAsync()) throw new IOException("connection closed inside a chunked body");
        string line = Encoding.Latin1.GetString(_buffer, _start, i);
        _start += i + 2;
        return line;
    }

    public async Task<byte[]> ReadExactlyAsync(int count)
    {
        var result = new byte[count];
        int got = 0;
        while (got < count)
        {
            if (_end == _start && !await FillAsync()) throw new IOException($"connection closed after {got} of {count} body bytes");
            int n = Math.Min(count - got, _end - _start);
            Buffer.BlockCopy(_buffer, _start, result, got, n);
            _start += n;
            got += n;
        }
        return result;
    }

    private async Task<bool> FillAsync()
    {
        if (_eof) return false;
        if (_start == _end) _start = _end = 0;
        if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            else Array.Resize(ref _buffer, _buffer.Length * 2);
        }
        using var cts = new CancellationTokenSource(LoopbackPair.HangGuard);
        int n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cts.Token);
        if (n == 0) _eof = true;
        _end += n;
        return n > 0;
    }

    public void Dispose() => socket.Dispose();
}
