using System.Net.Sockets;
using System.Text;

namespace Baton.Bench;

/// <summary>One response as the bench needs it: status and the serving host.</summary>
internal readonly record struct BenchResponse(int Status, string Host, int BodyLength);

/// <summary>
/// A minimal HTTP/1.1 client on one raw keep-alive socket: writes a GET, reads the response head and
/// its Content-Length body. Deliberately plain, so the client costs little next to what it measures.
/// </summary>
internal sealed class RawClient(Socket socket)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _start, _end;

    public async Task<BenchResponse> GetAsync(string path, CancellationToken stop)
    {
        await SendGetAsync(path, stop).ConfigureAwait(false);
        return await ReadResponseAsync(path, stop).ConfigureAwait(false);
    }

    /// <summary>Writes a GET without waiting for its response (pipelining: several may be in flight).</summary>
    public async Task SendGetAsync(string path, CancellationToken stop)
    {
        var request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
        cts.CancelAfter(Timeout);
        int sent = 0;
        while (sent < request.Length) sent += await socket.SendAsync(request.AsMemory(sent), SocketFlags.None, cts.Token).ConfigureAwait(false);
    }

    /// <summary>Reads the next response (of the GET for <paramref name="path"/>, for the timeout message).</summary>
    public async Task<BenchResponse> ReadResponseAsync(string path, CancellationToken stop)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
        cts.CancelAfter(Timeout);
        try
        {
            int headEnd;
            while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
                await FillAsync(cts.Token).ConfigureAwait(false);
            string head = Encoding.ASCII.GetString(_buffer, _start, headEnd);
            _start += headEnd + 4;
            var lines = head.Split("\r\n");
            var statusLine = lines[0].Split(' ');
            if (statusLine.Length < 2 || !int.TryParse(statusLine[1], out int status)) throw new InvalidOperationException($"bad status line '{lines[0]}'");
            long length = 0;
            string host = "";
            foreach (var l in lines.AsSpan(1))
            {
                int c = l.IndexOf(':');
                if (c <= 0) continue;
                var name = l.AsSpan(0, c);
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) length = long.Parse(l.AsSpan(c + 1).Trim());
                else if (name.Equals("Baton-Host", StringComparison.OrdinalIgnoreCase)) host = l[(c + 1)..].Trim();
            }
            long got = 0;
            while (got < length)
            {
                if (_end == _start) await FillAsync(cts.Token).ConfigureAwait(false);
                int n = (int)Math.Min(length - got, _end - _start);
                _start += n;
                got += n;
            }
            return new BenchResponse(status, host, (int)length);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            throw new TimeoutException($"GET {path}: no complete response within {Timeout.TotalSeconds:F0} s");
        }
    }

    private async Task FillAsync(CancellationToken ct)
    {
        if (_start == _end) _start = _end = 0;
        else if (_end == _buffer.Length)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length) throw new InvalidOperationException("response head larger than the client buffer");
        int n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, ct).ConfigureAwait(false);
        if (n == 0) throw new IOException("server closed the connection");
        _end += n;
    }

    /// <summary>Closes with a FIN (not a reset), so the router ends the connection normally.</summary>
    public void Close()
    {
        try { socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        socket.Dispose();
    }
}
