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

    private static readonly byte[] PatternBlock = MakePatternBlock();

    /// <summary>Byte <paramref name="offset"/> of every <c>/bytes/N</c> body.</summary>
    public static byte PatternByte(long offset) => (byte)('a' + (int)(offset % 26));

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

        if (req.Method is "POST" or "PUT")
        {
            using var body = new MemoryStream();
            await tx.RequestBody.CopyToAsync(body, ct).ConfigureAwait(false);
            await WriteAsync(tx, 200, "application/octet-stream", headers, body.Length, ct).ConfigureAwait(false);
            await tx.Response.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length), ct).ConfigureAwait(false);
        }
        else if (TryGetByteCount(req.Path, out long n))
        {
            await WriteAsync(tx, 200, "application/octet-stream", headers, n, ct).ConfigureAwait(false);
            if (req.Method != "HEAD") await WritePatternAsync(tx.Response, n, ct).ConfigureAwait(false);
        }
        else
        {
            var text = Encoding.UTF8.GetBytes($"served by {tx.HostName}: {req.Method} {req.Target}\n");
            await WriteAsync(tx, 200, "text/plain; charset=utf-8", headers, text.Length, ct).ConfigureAwait(false);
            if (req.Method != "HEAD") await tx.Response.WriteAsync(text, ct).ConfigureAwait(false);
        }
        await tx.CompleteAsync().ConfigureAwait(false);
    }

    private static async Task WriteAsync(BatonTransaction tx, int status, string type, StringBuilder extra, long length, CancellationToken ct)
    {
        string head = $"HTTP/1.1 {status} OK\r\nContent-Type: {type}\r\nContent-Length: {length}\r\n{extra}\r\n";
        await tx.Response.WriteAsync(Encoding.ASCII.GetBytes(head), ct).ConfigureAwait(false);
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

    private static byte[] MakePatternBlock()
    {
        var b = new byte[26 * 2048 + 26];
        for (int i = 0; i < b.Length; i++) b[i] = PatternByte(i);
        return b;
    }
}
