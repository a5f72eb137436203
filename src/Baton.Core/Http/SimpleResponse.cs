using System.Net.Sockets;
using System.Text;

namespace Baton.Http;

/// <summary>Small complete responses the router writes itself: errors and its own answers.</summary>
public static class SimpleResponse
{
    /// <summary>The standard reason phrase for the statuses Baton writes.</summary>
    public static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status " + status,
    };

    /// <summary>An error response with a one-line text body that says what went wrong; it closes the connection.</summary>
    public static byte[] Error(int status, string detail, string server) =>
        Build(status, $"{status} {Reason(status)}: {detail}\n", keepAlive: false, http10: false, ("Baton-Host", server));

    /// <summary>
    /// Builds a response with a text body. <paramref name="http10"/>: the request was HTTP/1.0, whose
    /// client closes unless told to keep the connection (RFC 9112 §9.3): a kept connection says so.
    /// </summary>
    public static byte[] Build(int status, string body, bool keepAlive, bool http10, params (string Name, string Value)[] headers)
    {
        var sb = new StringBuilder(256);
        sb.Append("HTTP/1.1 ").Append(status).Append(' ').Append(Reason(status)).Append("\r\n");
        foreach (var (n, v) in headers) sb.Append(n).Append(": ").Append(v).Append("\r\n");
        var bodyBytes = Encoding.UTF8.GetBytes(body);
        sb.Append("Content-Type: text/plain; charset=utf-8\r\n");
        sb.Append("Content-Length: ").Append(bodyBytes.Length).Append("\r\n");
        if (!keepAlive) sb.Append("Connection: close\r\n");
        else if (http10) sb.Append("Connection: keep-alive\r\n");
        sb.Append("\r\n");
        var head = Encoding.ASCII.GetBytes(sb.ToString());
        var all = new byte[head.Length + bodyBytes.Length];
        head.CopyTo(all, 0);
        bodyBytes.CopyTo(all, head.Length);
        return all;
    }

    /// <summary>Writes an error response and closes the connection gracefully (FIN, not reset).</summary>
    public static async Task SendErrorAndCloseAsync(Socket socket, int status, string detail, string server)
    {
        try
        {
            await socket.SendAsync(Error(status, detail, server), SocketFlags.None).ConfigureAwait(false);
        }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        await GracefulClose.CloseAsync(socket).ConfigureAwait(false);
    }
}
