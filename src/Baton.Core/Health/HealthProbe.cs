using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Baton.Health;

/// <summary>The result of one probe: whether the destination answered 2xx in time, and what happened.</summary>
public readonly record struct ProbeResult(bool Success, string Detail);

/// <summary>
/// One active probe over a plain socket: <c>GET &lt;path&gt;&lt;query&gt; HTTP/1.1</c> with
/// <c>Connection: close</c>; a 2xx status line within the timeout is a success. Only the status line
/// is read: a health endpoint's body says nothing the status does not.
/// </summary>
internal static class HealthProbe
{
    private const int StatusLineLimit = 1024;

    public static async Task<ProbeResult> SendAsync(Uri uri, TimeSpan timeout, TimeProvider time, CancellationToken ct)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        EndPoint endpoint = IPAddress.TryParse(uri.DnsSafeHost, out var ip) ? new IPEndPoint(ip, uri.Port) : new DnsEndPoint(uri.DnsSafeHost, uri.Port);
        using var socket = endpoint is IPEndPoint ep
            ? new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endpoint, linked.Token).ConfigureAwait(false);
            var host = uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}";
            var request = Encoding.ASCII.GetBytes(
                $"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Baton-Health\r\nAccept: */*\r\nConnection: close\r\n\r\n");
            await socket.SendAsync(request, SocketFlags.None, linked.Token).ConfigureAwait(false);
            var line = await ReadStatusLineAsync(socket, linked.Token).ConfigureAwait(false);
            if (line is null) return new(false, "connection closed before a status line");
            // "HTTP/1.1 200 OK": the status is the second field.
            var parts = line.Split(' ', 3);
            if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || parts[1].Length != 3 || !int.TryParse(parts[1], out var status))
                return new(false, $"not an HTTP/1.x status line: '{Shorten(line)}'");
            return new(status is >= 200 and <= 299, $"status {status}");
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            return new(false, $"no status line within {timeout}");
        }
        catch (SocketException e)
        {
            return new(false, e.SocketErrorCode.ToString());
        }
        catch (IOException e)
        {
            return new(false, e.Message);
        }
    }

    private static async Task<string?> ReadStatusLineAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[StatusLineLimit];
        int filled = 0;
        while (filled < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) return null;
            filled += n;
            int end = buffer.AsSpan(0, filled).IndexOf("\r\n"u8);
            if (end >= 0) return Encoding.ASCII.GetString(buffer, 0, end);
        }
        return Encoding.ASCII.GetString(buffer, 0, filled);
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..60] + "…";
}
