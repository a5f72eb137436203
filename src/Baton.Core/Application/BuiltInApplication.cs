using System.Globalization;
using System.Text;

namespace Baton.Application;

/// <summary>
/// The application Baton ships for demos and tests:
/// <c>GET .../bytes/N</c> answers N bytes of a fixed pattern (<see cref="PatternByte"/>),
/// POST and PUT echo the request body, a request to upgrade to <c>baton-echo</c> switches protocols
/// and echoes every byte until the client closes, anything else answers a short text naming the host.
/// Every response carries <c>Baton-Host</c>, and <c>Baton-Handoff-Us</c> when the connection was
/// handed to this host.
/// </summary>
public sealed class BuiltInApplication : IBatonApplication
{
    /// <summary>The protocol (Upgrade field) the built-in application switches to: an echo of raw bytes.</summary>
    public const string EchoProtocol = "baton-echo";

    /// <summary>Largest N accepted by <c>/bytes/N</c>.</summary>
    public const long MaxBytes = 1L << 30;

    private static readonly byte[] PatternBlock = Pattern(26 * 2048 + 26);

    /// <summary>Byte <paramref name="offset"/> of every <c>/bytes/N</c> body.</summary>
    public static byte PatternByte(long offset) => (byte)('a' + (int)(offset % 26));

    /// <summary>The body of <c>/bytes/<paramref name="count"/></c>, e.g. for another server to serve the same files.</summary>
    public static byte[] Pattern(long count)
    {
        var b = new byte[count];
        for (long i = 0; i < count; i++) b[i] = PatternByte(i);
        return b;
    }

    /// <inheritdoc />
    public async Task ServeAsync(BatonTransaction tx, CancellationToken ct)
    {
        var req = tx.Request;
        var headers = new StringBuilder(160);
        headers.Append("Baton-Host: ").Append(tx.HostName).Append("\r\n");
        if (tx.HandoffTime > TimeSpan.Zero)
            headers.Append("Baton-Handoff-Us: ").Append((long)tx.HandoffTime.TotalMicroseconds).Append("\r\n");
        if (tx.UpgradeRequested is { } protocol && protocol.Equals(EchoProtocol, StringComparison.OrdinalIgnoreCase))
        {
            await tx.Response.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: {EchoProtocol}\r\n{headers}\r\n"), ct).ConfigureAwait(false);
            var echo = tx.AcceptUpgrade();
            await echo.CopyToAsync(echo, ct).ConfigureAwait(false);
            await tx.CompleteAsync().ConfigureAwait(false); // an upgraded connection ends here
            return;
        }
        if (!req.KeepAlive) headers.Append("Connection: close\r\n");
        // An HTTP/1.0 client closes unless told to keep the connection (RFC 9112 §9.3); without
        // this, `ab -k` waited for a close that never came.
        else if (req.VersionMinor == 0) headers.Append("Connection: keep-alive\r\n");

        bool head = req.Method == "HEAD";
        if (req.Method is "POST" or "PUT")
        {
            using var body = new MemoryStream();
            await tx.RequestBody.CopyToAsync(body, ct).ConfigureAwait(false);
            await WriteAsync(tx, "application/octet-stream", headers, body.Length, body.GetBuffer().AsMemory(0, (int)body.Length), ct).ConfigureAwait(false);
        }
        else if (TryGetByteCount(req.Path, out long n))
        {
            if (n <= OneSendLimit || head)
                await WriteAsync(tx, "application/octet-stream", headers, n, head ? default : PatternBlock.AsMemory(0, (int)n), ct).ConfigureAwait(false);
            else
            {
                await WriteAsync(tx, "application/octet-stream", headers, n, default, ct).ConfigureAwait(false);
                await WritePatternAsync(tx.Response, n, ct).ConfigureAwait(false);
            }
        }
        else
        {
            var text = Encoding.UTF8.GetBytes($"served by {tx.HostName}: {req.Method} {req.Target}\n");
            await WriteAsync(tx, "text/plain; charset=utf-8", headers, text.Length, head ? default : text, ct).ConfigureAwait(false);
        }
        await tx.CompleteAsync().ConfigureAwait(false);
    }

    // A small response goes out in one send, head and body together: two sends made two segments
    // for a 5-byte echo (a client that reads once saw the head without the body), and each send is
    // a syscall and, on a moved connection, a segment the client ACKs.
    private const int OneSendLimit = 16 * 1024;

    /// <summary>Writes the 200 head and, when <paramref name="body"/> is small, the body with it in one send; a larger body is sent after the head.</summary>
    private static async Task WriteAsync(BatonTransaction tx, string type, StringBuilder extra, long length, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        string head = $"HTTP/1.1 200 OK\r\nContent-Type: {type}\r\nContent-Length: {length}\r\n{extra}\r\n";
        if (body.Length > OneSendLimit)
        {
            await tx.Response.WriteAsync(Encoding.ASCII.GetBytes(head), ct).ConfigureAwait(false);
            await tx.Response.WriteAsync(body, ct).ConfigureAwait(false);
            return;
        }
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(head.Length + body.Length);
        try
        {
            int n = Encoding.ASCII.GetBytes(head, buffer);
            body.Span.CopyTo(buffer.AsSpan(n));
            await tx.Response.WriteAsync(buffer.AsMemory(0, n + body.Length), ct).ConfigureAwait(false);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task WritePatternAsync(Stream output, long count, CancellationToken ct)
    {
        long offset = 0;
        while (offset < count)
        {
            int start = (int)(offset % 26);
            int len = (int)Math.Min(count - offset, PatternBlock.Length - 26);
            await output.WriteAsync(PatternBlock.AsMemory(start, len), ct).ConfigureAwait(false);
            offset += len;
        }
    }

    private static bool TryGetByteCount(string path, out long n)
    {
        n = 0;
        int i = path.LastIndexOf("/bytes/", StringComparison.Ordinal);
        return i >= 0
            && long.TryParse(path.AsSpan(i + 7), NumberStyles.None, CultureInfo.InvariantCulture, out n)
            && n <= MaxBytes;
    }
}
