using System.Net;
using Baton.Http;

namespace Baton.Modes.Relay;

/// <summary>The request head as the relay sends it to the origin.</summary>
internal static class UpstreamRequest
{
    private static readonly HashSet<string> Replaced = new(StringComparer.OrdinalIgnoreCase)
    {
        "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Content-Length",
    };

    /// <summary>
    /// Writes <c>METHOD target HTTP/1.1</c> and the client's fields minus hop-by-hop ones, then the
    /// forwarding fields and the body framing: Content-Length when the client sent one, chunked
    /// when it sent chunked (the body is re-chunked as it streams through).
    /// </summary>
    public static void Write(HeadWriter w, RequestHead head, IPAddress client, string originAuthority)
    {
        w.Append(head.Method).Append(" "u8).Append(head.Target).Append(" HTTP/1.1\r\n"u8);
        var fields = head.Fields;
        var named = HopByHop.NamedInConnection(fields);
        string? forwardedFor = null, forwarded = null, host = null;
        // By index, not foreach (no enumerator); values go out as the bytes received, not as strings.
        for (int i = 0; i < fields.Count; i++)
        {
            string name = fields.Name(i);
            if (HopByHop.Is(name, named)) continue;
            if (Replaced.Contains(name))
            {
                // Earlier proxies' addresses stay in front of ours, all in one field.
                if (name.Equals("X-Forwarded-For", StringComparison.OrdinalIgnoreCase))
                    forwardedFor = forwardedFor is null ? fields.Value(i) : forwardedFor + ", " + fields.Value(i);
                else if (name.Equals("Forwarded", StringComparison.OrdinalIgnoreCase))
                    forwarded = forwarded is null ? fields.Value(i) : forwarded + ", " + fields.Value(i);
                continue;
            }
            if (name.Equals("Host", StringComparison.OrdinalIgnoreCase)) host ??= fields.Value(i);
            w.Append(name).Append(": "u8).Append(fields.ValueBytes(i)).Append("\r\n"u8);
        }
        // HTTP/1.1 requires Host; an HTTP/1.0 client may have sent none.
        if (host is null) w.Header("Host", originAuthority);
        if (client.IsIPv4MappedToIPv6) client = client.MapToIPv4();
        string self = client.ToString();
        w.Header("X-Forwarded-For", forwardedFor is null ? self : forwardedFor + ", " + self);
        // RFC 7239: the same facts in the standard field; an IPv6 address and a host with a port are quoted.
        string element = $"for={(client.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"\"[{self}]\"" : self)};proto=http"
            + (host is null ? "" : $";host=\"{host.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"");
        w.Header("Forwarded", forwarded is null ? element : forwarded + ", " + element);
        w.Header("X-Forwarded-Proto", "http");
        if (host is not null) w.Header("X-Forwarded-Host", host);
        // Upgrade is hop-by-hop: the relay asks the origin for it itself, and tunnels after a 101.
        if (HttpUpgrade.Requested(head) is { } protocol)
        {
            w.Header("Connection", "upgrade");
            w.Header("Upgrade", protocol);
        }
        if (head.Chunked) w.Header("Transfer-Encoding", "chunked");
        else if (head.ContentLength >= 0) w.Header("Content-Length", head.ContentLength);
        w.EndHead();
    }

    /// <summary>Methods that may be sent twice (RFC 9110 §9.2.2).</summary>
    public static bool IsIdempotent(string method) =>
        method is "GET" or "HEAD" or "OPTIONS" or "TRACE" or "PUT" or "DELETE";

    /// <summary>Whether the request has a body to stream (a Content-Length of 0 is none).</summary>
    public static bool HasBody(RequestHead head) => head.Chunked || head.ContentLength > 0;
}
