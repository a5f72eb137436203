using System.Net.Sockets;
using System.Text;

namespace Baton.ClusterTests;

/// <summary>A response as the client read it off the wire.</summary>
public sealed record RawResponse(int Status, Dictionary<string, string> Headers, byte[] Body)
{
    public string Header(string name) => Headers.TryGetValue(name, out var v) ? v : "";
    public string Text => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// A deliberately plain HTTP/1.1 client on a raw socket, so tests control exactly what is sent and
/// when (pipelining, a body in pieces) and see exactly what comes back.
/// </summary>
public sealed class RawHttp(Socket socket)
{
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _start, _end;

    public Socket Socket => socket;

    public static string Get(string path, bool close = false) =>
        $"GET {path} HTTP/1.1\r\nHost: test\r\n{(close ? "Connection: close\r\n" : "")}\r\n";

    public async Task SendAsync(string text) => await SendAsync(Encoding.ASCII.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        int sent = 0;
        while (sent < bytes.Length) sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
    }

    public async Task<RawResponse> RequestAsync(string path)
    {
        await SendAsync(Get(path));
        return await ReadResponseAsync();
    }

    /// <summary>Reads one response (Content-Length framed). Throws if the connection ends first.</summary>
    public async Task<RawResponse> ReadResponseAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        int headEnd;
        while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
            await FillAsync(cts.Token);
        var head = Encoding.ASCII.GetString(_buffer, _start, headEnd);
        _start += headEnd + 4;
        var lines = head.Split("\r\n");
        int status = int.Parse(lines[0].Split(' ')[1]);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var l in lines.Skip(1))
        {
            int c = l.IndexOf(':');
            headers[l[..c]] = l[(c + 1)..].Trim();
        }
        long length = headers.TryGetValue("Content-Length", out var cl) ? long.Parse(cl) : 0;
        var body = new byte[length];
        long got = 0;
        while (got < length)
        {
            if (_end == _start) await FillAsync(cts.Token);
            int n = (int)Math.Min(length - got, _end - _start);
            Buffer.BlockCopy(_buffer, _start, body, (int)got, n);
            _start += n;
            got += n;
        }
        return new RawResponse(status, headers, body);
    }

    /// <summary>Reads exactly <paramref name="count"/> raw bytes (after an upgrade, say).</summary>
    public async Task<byte[]> ReadExactlyAsync(int count, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        var result = new byte[count];
        int got = 0;
        while (got < count)
        {
            if (_end == _start) await FillAsync(cts.Token);
            int n = Math.Min(count - got, _end - _start);
            Buffer.BlockCopy(_buffer, _start, result, got, n);
            _start += n;
            got += n;
        }
        return result;
    }

    /// <summary>True when the peer closed the connection (FIN) within <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                if (_end > _start) { _start = _end; continue; }
                int n = await socket.ReceiveAsync(_buffer, SocketFlags.None, cts.Token);
                if (n == 0) return true;
            }
        }
        catch (OperationCanceledException) { return false; }
    }

    private async Task FillAsync(CancellationToken ct)
    {
        if (_start == _end) _start = _end = 0;
        if (_end == _buffer.Length)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        int n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, ct);
        if (n == 0) throw new IOException("server closed the connection before the response was complete");
        _end += n;
    }
}
