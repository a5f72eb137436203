using System.Buffers;
using System.Text;

namespace Baton.Http;

/// <summary>Result of <see cref="ResponseFramer.Frame"/>.</summary>
/// <param name="Status">Whether a whole response is in the buffer.</param>
/// <param name="StatusCode">The status code once the head is parsed, else 0.</param>
/// <param name="VersionMinor">1 for HTTP/1.1, 0 for HTTP/1.0.</param>
/// <param name="HeadLength">Length of the head once parsed, else 0.</param>
/// <param name="Length">Length of the whole response (head and body) when Complete.</param>
/// <param name="KeepAlive">Whether the connection may carry another response after this one.</param>
/// <param name="UntilClose">Whether the body is delimited by the end of the connection.</param>
/// <param name="ErrorReason">Why the bytes are refused, on Error.</param>
public readonly record struct ResponseFrame(FrameStatus Status, int StatusCode, int VersionMinor, int HeadLength, int Length, bool KeepAlive, bool UntilClose, string? ErrorReason);

/// <summary>
/// Pure response framing (RFC 9112 §6.3): where a response ends. No body for HEAD, 1xx, 204 and 304;
/// then chunked, Content-Length, or read-until-close. Transfer-Encoding with Content-Length is refused.
/// </summary>
public static class ResponseFramer
{
    /// <summary>
    /// Frames the response at the start of <paramref name="buffer"/> to a request with <paramref name="requestMethod"/>;
    /// <paramref name="atEof"/> says the peer closed after these bytes (ends a read-until-close body).
    /// </summary>
    public static ResponseFrame Frame(ReadOnlySpan<byte> buffer, string requestMethod, bool atEof, int headLimit = RequestHeadParser.DefaultHeadLimit, IBufferWriter<byte>? body = null)
    {
        static ResponseFrame Fail(string reason) => new(FrameStatus.Error, 0, 0, 0, 0, false, false, reason);
        var incomplete = new ResponseFrame(FrameStatus.Incomplete, 0, 0, 0, 0, false, false, null);

        // Empty lines before a status line are skipped, as before a request line (RFC 9112 §2.2).
        int skip = 0;
        while (skip + 1 < buffer.Length && buffer[skip] == '\r' && buffer[skip + 1] == '\n' && skip < 2 * RequestHeadParser.LeadingEmptyLineLimit) skip += 2;
        if (skip > 0)
        {
            var r = Frame(buffer[skip..], requestMethod, atEof, headLimit - skip, body);
            return r.Status == FrameStatus.Complete || r.HeadLength > 0
                ? r with { HeadLength = r.HeadLength + skip, Length = r.Status == FrameStatus.Complete ? r.Length + skip : 0 }
                : r;
        }
        int end = buffer.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            if (buffer.Length > headLimit) return Fail("response head too large");
            var upto = buffer.Length > 0 && buffer[^1] == '\r' ? buffer[..^1] : buffer;
            if (HttpSyntax.HasBareCrOrLf(upto)) return Fail("bare CR or LF in response head");
            int e0 = upto.IndexOf("\r\n"u8);
            if (!IsStatusLinePrefix(e0 >= 0 ? upto[..e0] : upto)) return Fail("malformed status line");
            // Complete field lines and the start of the last one must already be valid.
            var lines = e0 >= 0 ? upto[(e0 + 2)..] : default;
            while (!lines.IsEmpty)
            {
                int e = lines.IndexOf("\r\n"u8);
                string? bad = e >= 0 ? HttpSyntax.CheckFieldLine(lines[..e], out _, out _) : RequestHeadParser.CheckPartialFieldLine(lines);
                if (bad != null) return Fail(bad);
                lines = e >= 0 ? lines[(e + 2)..] : default;
            }
            return atEof && buffer.Length > 0 ? Fail("connection closed inside a response head") : incomplete;
        }
        int headLength = end + 4;
        if (headLength > headLimit) return Fail("response head too large");
        var head = buffer[..(end + 2)];
        if (HttpSyntax.HasBareCrOrLf(head)) return Fail("bare CR or LF in response head");
        int lineEnd = head.IndexOf("\r\n"u8);
        var line = head[..lineEnd];
        // status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ]
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || !(line[7] is (byte)'0' or (byte)'1') || line[8] != ' ')
            return Fail("malformed status line");
        int minor = line[7] - '0';
        if (!char.IsAsciiDigit((char)line[9]) || !char.IsAsciiDigit((char)line[10]) || !char.IsAsciiDigit((char)line[11]))
            return Fail("invalid status code");
        int code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        if (code < 100) return Fail("invalid status code");
        if (line.Length > 12)
        {
            if (line[12] != ' ') return Fail("invalid status code");
            foreach (byte b in line[13..])
                if (!HttpSyntax.IsFieldValueChar(b)) return Fail("control character in reason phrase");
        }

        long contentLength = -1;
        List<string>? codings = null;
        bool? keepAlive = null;
        var rest = head[(lineEnd + 2)..];
        while (!rest.IsEmpty)
        {
            int e = rest.IndexOf("\r\n"u8);
            var field = rest[..e];
            rest = rest[(e + 2)..];
            string? bad = HttpSyntax.CheckFieldLine(field, out var name, out var value);
            if (bad != null) return Fail(bad);
            string n = Encoding.ASCII.GetString(name);
            string v = Encoding.Latin1.GetString(value);
            if (n.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (v.Length == 0 || !long.TryParse(v, System.Globalization.NumberStyles.None, null, out long cl) || cl > int.MaxValue)
                    return Fail("invalid Content-Length");
                if (contentLength >= 0 && contentLength != cl) return Fail("conflicting Content-Length values");
                contentLength = cl;
            }
            else if (n.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                codings ??= [];
                foreach (var c in HttpSyntax.SplitList(v))
                {
                    if (c.Length == 0) continue;
                    if (!HttpSyntax.IsToken(Encoding.Latin1.GetBytes(c))) return Fail("invalid Transfer-Encoding value");
                    codings.Add(c);
                }
            }
            else if (n.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var opt in v.Split(',', StringSplitOptions.TrimEntries))
                {
                    if (opt.Equals("close", StringComparison.OrdinalIgnoreCase)) keepAlive = false;
                    else if (opt.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)) keepAlive ??= true;
                }
            }
        }
        bool ka = keepAlive ?? (minor == 1);
        bool noBody = requestMethod == "HEAD" || code < 200 || code == 204 || code == 304;
        if (noBody)
            return new(FrameStatus.Complete, code, minor, headLength, headLength, ka, false, null);
        if (codings != null && contentLength >= 0) return Fail("both Transfer-Encoding and Content-Length");
        var rest2 = buffer[headLength..];
        if (codings != null && codings.Count > 0)
        {
            if (codings[^1].Equals("chunked", StringComparison.OrdinalIgnoreCase))
            {
                var s = ChunkedFraming.Scan(rest2, out int len, out string? error, body);
                return s switch
                {
                    FrameStatus.Complete => new(FrameStatus.Complete, code, minor, headLength, headLength + len, ka, false, null),
                    FrameStatus.Error => new(FrameStatus.Error, code, minor, headLength, 0, false, false, error),
                    _ => atEof ? new(FrameStatus.Error, code, minor, headLength, 0, false, false, "connection closed inside a chunked body")
                        : new(FrameStatus.Incomplete, code, minor, headLength, 0, ka, false, null),
                };
            }
            // RFC 9112 §6.3 (4): in a response whose final coding is not chunked, the body runs until the connection closes.
            contentLength = -1;
        }
        else if (contentLength >= 0)
        {
            if (rest2.Length < contentLength)
            {
                body?.Write(rest2);
                return atEof ? new(FrameStatus.Error, code, minor, headLength, 0, false, false, "connection closed inside a body")
                    : new(FrameStatus.Incomplete, code, minor, headLength, 0, ka, false, null);
            }
            body?.Write(rest2[..(int)contentLength]);
            return new(FrameStatus.Complete, code, minor, headLength, headLength + (int)contentLength, ka, false, null);
        }
        // Read until close.
        body?.Write(rest2);
        return new(atEof ? FrameStatus.Complete : FrameStatus.Incomplete, code, minor, headLength, buffer.Length, false, true, null);
    }

    private static bool IsStatusLinePrefix(ReadOnlySpan<byte> s)
    {
        ReadOnlySpan<byte> v = "HTTP/1."u8;
        for (int i = 0; i < s.Length && i < v.Length; i++)
            if (s[i] != v[i]) return false;
        foreach (byte b in s)
            if (!HttpSyntax.IsFieldValueChar(b) || b == '\t') return false;
        return true;
    }
}
