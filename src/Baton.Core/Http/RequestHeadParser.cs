using System.Text;

namespace Baton.Http;

/// <summary>Outcome of parsing the bytes received so far.</summary>
public enum ParseStatus
{
    /// <summary>The head is not complete yet; read more.</summary>
    Incomplete,
    /// <summary>A full head was parsed.</summary>
    Complete,
    /// <summary>The head is invalid; answer with <see cref="RequestParseResult.ErrorStatus"/> and close.</summary>
    Error,
}

/// <summary>Result of <see cref="RequestHeadParser.Parse"/>.</summary>
public readonly record struct RequestParseResult(ParseStatus Status, RequestHead? Head, int ErrorStatus, string? ErrorReason)
{
    internal static RequestParseResult Incomplete => new(ParseStatus.Incomplete, null, 0, null);
    internal static RequestParseResult Fail(int status, string reason) => new(ParseStatus.Error, null, status, reason);
}

/// <summary>
/// A strict HTTP/1.1 request-head parser (RFC 9112 §2–§6): CRLF line endings only, no obs-fold,
/// no whitespace before the colon, token method and field names, no control characters.
/// The full framing work (chunked bodies, conformance corpus) lives in its own issue; this part is
/// what the router needs to route a request and to know where its head ends.
/// </summary>
public static class RequestHeadParser
{
    /// <summary>Default limit on the whole head; larger is answered 431.</summary>
    public const int DefaultHeadLimit = 16 * 1024;

    /// <summary>Limit on the request target; longer is answered 414.</summary>
    public const int TargetLimit = 8 * 1024;

    /// <summary>Parses a head at the start of <paramref name="buffer"/>.</summary>
    public static RequestParseResult Parse(ReadOnlySpan<byte> buffer, int headLimit = DefaultHeadLimit)
    {
        int end = buffer.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            if (buffer.Length > headLimit) return RequestParseResult.Fail(431, "request head too large");
            // A bare LF anywhere is refused at once rather than waiting for a CRLFCRLF that may never come.
            int lf = buffer.IndexOf((byte)'\n');
            if (lf >= 0 && (lf == 0 || buffer[lf - 1] != '\r')) return RequestParseResult.Fail(400, "bare LF in request head");
            return RequestParseResult.Incomplete;
        }
        int length = end + 4;
        if (length > headLimit) return RequestParseResult.Fail(431, "request head too large");
        var head = buffer[..(end + 2)]; // every line with its CRLF
        if (HasBareCrOrLf(head)) return RequestParseResult.Fail(400, "bare CR or LF in request head");

        int lineEnd = head.IndexOf("\r\n"u8);
        var line = head[..lineEnd];
        int sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0) return RequestParseResult.Fail(400, "malformed request line");
        int sp2 = line[(sp1 + 1)..].IndexOf((byte)' ');
        if (sp2 < 0) return RequestParseResult.Fail(400, "malformed request line");
        sp2 += sp1 + 1;
        var method = line[..sp1];
        var target = line[(sp1 + 1)..sp2];
        var version = line[(sp2 + 1)..];
        if (!IsToken(method)) return RequestParseResult.Fail(400, "invalid method");
        if (target.Length == 0) return RequestParseResult.Fail(400, "empty request target");
        if (target.Length > TargetLimit) return RequestParseResult.Fail(414, "request target too long");
        foreach (byte b in target)
            if (b <= 0x20 || b >= 0x7F) return RequestParseResult.Fail(400, "invalid character in request target");
        int minor;
        if (version.SequenceEqual("HTTP/1.1"u8)) minor = 1;
        else if (version.SequenceEqual("HTTP/1.0"u8)) minor = 0;
        else if (version.Length == 8 && version.StartsWith("HTTP/"u8) && char.IsAsciiDigit((char)version[5]) && version[6] == '.' && char.IsAsciiDigit((char)version[7]))
            return RequestParseResult.Fail(505, "unsupported HTTP version");
        else return RequestParseResult.Fail(400, "malformed HTTP version");
        if (target[0] != '/' && !(target.Length == 1 && target[0] == '*'))
            return RequestParseResult.Fail(400, "only origin-form request targets are routed");

        var headers = new List<KeyValuePair<string, string>>();
        string host = "";
        bool sawHost = false;
        long contentLength = -1;
        bool chunked = false;
        bool? connectionKeepAlive = null;
        var rest = head[(lineEnd + 2)..];
        while (!rest.IsEmpty)
        {
            int e = rest.IndexOf("\r\n"u8);
            var field = rest[..e];
            rest = rest[(e + 2)..];
            if (field.IndexOf((byte)'\n') >= 0 || field.IndexOf((byte)'\r') >= 0) return RequestParseResult.Fail(400, "bare CR or LF in header");
            if (field[0] is (byte)' ' or (byte)'\t') return RequestParseResult.Fail(400, "obsolete line folding is not allowed");
            int colon = field.IndexOf((byte)':');
            if (colon <= 0) return RequestParseResult.Fail(400, "header field without a name");
            var name = field[..colon];
            if (!IsToken(name)) return RequestParseResult.Fail(400, "invalid header field name (whitespace before the colon?)");
            var value = Trim(field[(colon + 1)..]);
            foreach (byte b in value)
                if ((b < 0x20 && b != '\t') || b == 0x7F) return RequestParseResult.Fail(400, "control character in header value");
            string n = Encoding.ASCII.GetString(name);
            string v = Encoding.Latin1.GetString(value);
            headers.Add(new(n, v));
            if (n.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                if (sawHost) return RequestParseResult.Fail(400, "more than one Host header");
                sawHost = true;
                host = StripPort(v).ToLowerInvariant();
            }
            else if (n.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (!long.TryParse(v, System.Globalization.NumberStyles.None, null, out long cl))
                    return RequestParseResult.Fail(400, "invalid Content-Length");
                if (contentLength >= 0 && contentLength != cl) return RequestParseResult.Fail(400, "conflicting Content-Length values");
                contentLength = cl;
            }
            else if (n.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                if (!v.Trim().Equals("chunked", StringComparison.OrdinalIgnoreCase))
                    return RequestParseResult.Fail(501, $"transfer coding '{v}' is not supported");
                chunked = true;
            }
            else if (n.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var opt in v.Split(',', StringSplitOptions.TrimEntries))
                {
                    if (opt.Equals("close", StringComparison.OrdinalIgnoreCase)) connectionKeepAlive = false;
                    else if (opt.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)) connectionKeepAlive ??= true;
                }
            }
        }
        if (chunked && contentLength >= 0) return RequestParseResult.Fail(400, "both Transfer-Encoding and Content-Length");
        if (minor == 1 && !sawHost) return RequestParseResult.Fail(400, "HTTP/1.1 request without Host");

        int q = target.IndexOf((byte)'?');
        string targetText = Encoding.ASCII.GetString(target);
        return new RequestParseResult(ParseStatus.Complete, new RequestHead
        {
            Method = Encoding.ASCII.GetString(method),
            Target = targetText,
            Path = q < 0 ? targetText : targetText[..q],
            Query = q < 0 ? "" : targetText[(q + 1)..],
            VersionMinor = minor,
            Headers = headers,
            Host = host,
            ContentLength = contentLength,
            Chunked = chunked,
            KeepAlive = connectionKeepAlive ?? (minor == 1),
            Length = length,
        }, 0, null);
    }

    private static bool HasBareCrOrLf(ReadOnlySpan<byte> s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return true;
            if (s[i] == '\r' && (i + 1 == s.Length || s[i + 1] != '\n')) return true;
        }
        return false;
    }

    private static bool IsToken(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty) return false;
        foreach (byte b in s)
        {
            bool ok = b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9'
                || "!#$%&'*+-.^_`|~"u8.IndexOf(b) >= 0;
            if (!ok) return false;
        }
        return true;
    }

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s)
    {
        int a = 0, b = s.Length;
        while (a < b && s[a] is (byte)' ' or (byte)'\t') a++;
        while (b > a && s[b - 1] is (byte)' ' or (byte)'\t') b--;
        return s[a..b];
    }

    private static string StripPort(string host)
    {
        if (host.StartsWith('[')) { int rb = host.IndexOf(']'); return rb > 0 ? host[..(rb + 1)] : host; }
        int c = host.LastIndexOf(':');
        return c >= 0 ? host[..c] : host;
    }
}
