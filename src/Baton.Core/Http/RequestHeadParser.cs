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
/// no whitespace before the colon, token method and field names, no control characters; Transfer-Encoding
/// must be chunked (501 otherwise), once and last, never with Content-Length nor in HTTP/1.0. Empty lines
/// before the request line are skipped (§2.2). An incomplete head is checked as far as it goes, so bytes
/// that can never become valid are refused at once. <see cref="RequestFramer"/> adds the body to find where
/// a whole request ends; tests/Baton.Tests/Http/Conformance runs llhttp's corpus against both.
/// </summary>
public static class RequestHeadParser
{
    /// <summary>Default limit on the whole head; larger is answered 431.</summary>
    public const int DefaultHeadLimit = 16 * 1024;

    /// <summary>Limit on the request target; longer is answered 414.</summary>
    public const int TargetLimit = 8 * 1024;

    /// <summary>Most empty lines (CRLF) ignored before a request line (RFC 9112 §2.2).</summary>
    public const int LeadingEmptyLineLimit = 8;

    /// <summary>Parses a head at the start of <paramref name="buffer"/> into a new <see cref="RequestHead"/>.</summary>
    public static RequestParseResult Parse(ReadOnlySpan<byte> buffer, int headLimit = DefaultHeadLimit) =>
        Parse(buffer, headLimit, requireHost: true, into: null);

    /// <summary>
    /// Parses a head at the start of <paramref name="buffer"/> into <paramref name="into"/>, reusing its buffers:
    /// in steady state (heads no larger than before) this allocates nothing. A complete result's
    /// <see cref="RequestParseResult.Head"/> is <paramref name="into"/>; after an error it may be the previous
    /// request or empty. See <see cref="RequestHead"/> on who may keep a reused head.
    /// </summary>
    public static RequestParseResult Parse(ReadOnlySpan<byte> buffer, RequestHead into, int headLimit = DefaultHeadLimit)
    {
        ArgumentNullException.ThrowIfNull(into);
        return Parse(buffer, headLimit, requireHost: true, into);
    }

    /// <summary>
    /// Parses a head, into <paramref name="into"/> when given, else into a new head; <paramref name="requireHost"/> =
    /// false leaves out the Host rule (RFC 9112 §3.2), which is message semantics rather than framing (the
    /// conformance corpus checks framing only).
    /// </summary>
    internal static RequestParseResult Parse(ReadOnlySpan<byte> buffer, int headLimit, bool requireHost, RequestHead? into)
    {
        // RFC 9112 §2.2: ignore at least one empty line before the request-line (e.g. a CRLF after a body).
        int skip = 0;
        while (skip + 1 < buffer.Length && buffer[skip] == '\r' && buffer[skip + 1] == '\n' && skip < 2 * LeadingEmptyLineLimit) skip += 2;
        if (skip + 1 == buffer.Length && buffer[skip] == '\r') return RequestParseResult.Incomplete;
        return ParseAt(buffer[skip..], headLimit - skip, requireHost, skip, into);
    }

    private static RequestParseResult ParseAt(ReadOnlySpan<byte> buffer, int headLimit, bool requireHost, int skipped, RequestHead? into)
    {
        int end = buffer.IndexOf("\r\n\r\n"u8);
        bool complete = end >= 0;
        int length = complete ? end + 4 : buffer.Length;
        if (length > headLimit) return RequestParseResult.Fail(431, "request head too large");
        // Every complete line with its CRLF; an incomplete head is checked as far as it goes, so bytes that can
        // never become a valid head are refused at once rather than after waiting for a CRLFCRLF.
        var head = complete ? buffer[..(end + 2)] : buffer.Length > 0 && buffer[^1] == '\r' ? buffer[..^1] : buffer;
        if (HttpSyntax.HasBareCrOrLf(head)) return RequestParseResult.Fail(400, "bare CR or LF in request head");

        int lineEnd = head.IndexOf("\r\n"u8);
        if (lineEnd < 0) return CheckPartialRequestLine(head);
        var line = head[..lineEnd];
        int sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0) return RequestParseResult.Fail(400, "malformed request line");
        int sp2 = line[(sp1 + 1)..].IndexOf((byte)' ');
        if (sp2 < 0) return RequestParseResult.Fail(400, "malformed request line");
        sp2 += sp1 + 1;
        var method = line[..sp1];
        var target = line[(sp1 + 1)..sp2];
        var version = line[(sp2 + 1)..];
        if (!HttpSyntax.IsToken(method)) return RequestParseResult.Fail(400, "invalid method");
        if (target.Length == 0) return RequestParseResult.Fail(400, "empty request target");
        if (target.Length > TargetLimit) return RequestParseResult.Fail(414, "request target too long");
        if (target.ContainsAnyExceptInRange((byte)0x21, (byte)0x7E)) return RequestParseResult.Fail(400, "invalid character in request target");
        int minor;
        if (version.SequenceEqual("HTTP/1.1"u8)) minor = 1;
        else if (version.SequenceEqual("HTTP/1.0"u8)) minor = 0;
        else if (version.Length == 8 && version.StartsWith("HTTP/"u8) && char.IsAsciiDigit((char)version[5]) && version[6] == '.' && char.IsAsciiDigit((char)version[7]))
            return RequestParseResult.Fail(505, "unsupported HTTP version");
        else return RequestParseResult.Fail(400, "malformed HTTP version");
        if (target[0] != '/' && !(target.Length == 1 && target[0] == '*'))
            return RequestParseResult.Fail(400, "only origin-form request targets are routed");

        // A complete head is copied into the head object and its fields indexed while they are checked; an
        // incomplete one is only checked.
        RequestHead? filled = null;
        if (complete)
        {
            filled = into ?? new RequestHead();
            filled.Begin(head[(lineEnd + 2)..]);
        }
        int hostStart = 0, hostLength = 0;
        bool sawHost = false;
        long contentLength = -1;
        bool chunked = false, sawTransferEncoding = false;
        bool? connectionKeepAlive = null;
        int pos = lineEnd + 2; // where the current field line starts in buffer (and in the head's copy)
        while (pos < head.Length)
        {
            var rest = head[pos..];
            int e = rest.IndexOf("\r\n"u8);
            if (e < 0) // the last line of an incomplete head
            {
                string? partial = CheckPartialFieldLine(rest);
                return partial == null ? RequestParseResult.Incomplete : RequestParseResult.Fail(400, partial);
            }
            var field = rest[..e];
            string? bad = HttpSyntax.CheckFieldLine(field, out int colon, out int valueStart, out int valueLength);
            if (bad != null) return RequestParseResult.Fail(400, bad);
            var name = field[..colon];
            var value = field.Slice(valueStart, valueLength);
            filled?.Fields.Add(pos, colon, pos + valueStart, valueLength);
            int lineStart = pos;
            pos += e + 2;
            // Names are tokens (ASCII), so a byte comparison ignoring ASCII case is OrdinalIgnoreCase.
            if (Ascii.EqualsIgnoreCase(name, "Host"u8))
            {
                if (sawHost) return RequestParseResult.Fail(400, "more than one Host header");
                sawHost = true;
                // The head lower-cases it from its chars (StripPort only shortens the value).
                hostStart = lineStart + valueStart;
                hostLength = StripPort(value).Length;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (value.Length == 0 || !long.TryParse(value, System.Globalization.NumberStyles.None, null, out long cl))
                    return RequestParseResult.Fail(400, "invalid Content-Length");
                if (contentLength >= 0 && contentLength != cl) return RequestParseResult.Fail(400, "conflicting Content-Length values");
                contentLength = cl;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                sawTransferEncoding = true;
                if (contentLength >= 0) return RequestParseResult.Fail(400, "both Transfer-Encoding and Content-Length");
                bool any = false;
                foreach (var range in value.Split((byte)','))
                {
                    var c = HttpSyntax.TrimOws(value[range]);
                    if (c.Length == 0) continue; // empty list elements are ignored (RFC 9110 §5.6.1)
                    any = true;
                    if (!HttpSyntax.IsToken(c))
                        return RequestParseResult.Fail(400, "invalid Transfer-Encoding value");
                    // RFC 9112 §6.1: chunked is the final coding and applied once; Baton implements chunked only.
                    if (chunked) return RequestParseResult.Fail(400, "chunked is not the final transfer coding");
                    if (!Ascii.EqualsIgnoreCase(c, "chunked"u8))
                        return RequestParseResult.Fail(501, $"transfer coding '{Encoding.Latin1.GetString(c)}' is not supported");
                    chunked = true;
                }
                if (!any) return RequestParseResult.Fail(400, "empty Transfer-Encoding");
            }
            else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                foreach (var range in value.Split((byte)','))
                {
                    var opt = TrimWhiteSpace(value[range]);
                    if (Ascii.EqualsIgnoreCase(opt, "close"u8)) connectionKeepAlive = false;
                    else if (Ascii.EqualsIgnoreCase(opt, "keep-alive"u8)) connectionKeepAlive ??= true;
                }
            }
            // RFC 9112 §6.1 / §6.3: Transfer-Encoding with Content-Length is a smuggling vector; TE in HTTP/1.0 is faulty framing.
            if (sawTransferEncoding && contentLength >= 0) return RequestParseResult.Fail(400, "both Transfer-Encoding and Content-Length");
            if (sawTransferEncoding && minor == 0) return RequestParseResult.Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
        }
        if (filled is null) return RequestParseResult.Incomplete;
        if (requireHost && minor == 1 && !sawHost) return RequestParseResult.Fail(400, "HTTP/1.1 request without Host");

        // Nothing is allocated here for a reused head (issue 3): strings are made only when a caller reads them.
        filled.Complete(buffer[..length], methodLength: sp1, targetStart: sp1 + 1, targetLength: target.Length, minor, hostStart, hostLength,
            contentLength, chunked, keepAlive: connectionKeepAlive ?? (minor == 1), length: skipped + length);
        return new RequestParseResult(ParseStatus.Complete, filled, 0, null);
    }

    // Trims what char.IsWhiteSpace calls white space; bytes are Latin-1, so that includes 0x85 and 0xA0
    // (as string.Split's TrimEntries did on the decoded value).
    private static ReadOnlySpan<byte> TrimWhiteSpace(ReadOnlySpan<byte> s)
    {
        int a = 0, b = s.Length;
        while (a < b && char.IsWhiteSpace((char)s[a])) a++;
        while (b > a && char.IsWhiteSpace((char)s[b - 1])) b--;
        return s[a..b];
    }

    // A request line still missing its CRLF: refuse it once it cannot become valid.
    private static RequestParseResult CheckPartialRequestLine(ReadOnlySpan<byte> line)
    {
        foreach (byte b in line)
            if (b < 0x20 || b == 0x7F) return RequestParseResult.Fail(400, "control character in request line");
        int sp1 = line.IndexOf((byte)' ');
        var method = sp1 < 0 ? line : line[..sp1];
        if (!method.IsEmpty && !HttpSyntax.IsToken(method)) return RequestParseResult.Fail(400, "invalid method");
        if (sp1 == 0) return RequestParseResult.Fail(400, "malformed request line");
        if (sp1 < 0) return RequestParseResult.Incomplete;
        var afterMethod = line[(sp1 + 1)..];
        int sp2 = afterMethod.IndexOf((byte)' ');
        if (sp2 == 0) return RequestParseResult.Fail(400, "empty request target");
        if (sp2 < 0)
            return afterMethod.Length > TargetLimit ? RequestParseResult.Fail(414, "request target too long") : RequestParseResult.Incomplete;
        var version = afterMethod[(sp2 + 1)..];
        // Wait while the version can still become HTTP/d.d; HTTP/1.0 and 1.1 are served, other d.d are 505.
        ReadOnlySpan<byte> pattern = "HTTP/0.0"u8;
        int k = 0;
        for (; k < version.Length && k < 8; k++)
        {
            bool ok = pattern[k] == '0' ? char.IsAsciiDigit((char)version[k]) : version[k] == pattern[k];
            if (!ok) return RequestParseResult.Fail(400, "malformed HTTP version");
        }
        if (version.Length < 8) return RequestParseResult.Incomplete;
        if (version.Length > 8) return RequestParseResult.Fail(400, "malformed HTTP version");
        return version.SequenceEqual("HTTP/1.1"u8) || version.SequenceEqual("HTTP/1.0"u8)
            ? RequestParseResult.Incomplete
            : RequestParseResult.Fail(505, "unsupported HTTP version");
    }

    /// <summary>Checks the start of a field line still missing its CRLF; null when it can still become valid.</summary>
    internal static string? CheckPartialFieldLine(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty) return null;
        if (s[0] is (byte)' ' or (byte)'\t') return "obsolete line folding is not allowed";
        int colon = s.IndexOf((byte)':');
        var name = colon < 0 ? s : s[..colon];
        if (colon == 0) return "header field without a name";
        foreach (byte b in name)
            if (!HttpSyntax.IsTChar(b)) return "invalid header field name (whitespace before the colon?)";
        if (colon >= 0)
            foreach (byte b in s[(colon + 1)..])
                if (!HttpSyntax.IsFieldValueChar(b)) return "control character in header value";
        return null;
    }

    private static ReadOnlySpan<byte> StripPort(ReadOnlySpan<byte> host)
    {
        if (host.StartsWith("["u8)) { int rb = host.IndexOf((byte)']'); return rb > 0 ? host[..(rb + 1)] : host; }
        int c = host.LastIndexOf((byte)':');
        return c >= 0 ? host[..c] : host;
    }
}
