using System.Buffers;

namespace Baton.Http;

/// <summary>Outcome of a pure framing step over the bytes received so far.</summary>
public enum FrameStatus
{
    /// <summary>More bytes are needed.</summary>
    Incomplete,
    /// <summary>A whole message (or body) is in the buffer.</summary>
    Complete,
    /// <summary>The bytes are not valid framing; refuse and close.</summary>
    Error,
}

/// <summary>
/// Strict chunked transfer coding (RFC 9112 §7.1): chunk-size is 1*HEXDIG, chunk extensions are
/// <c>;name[=token|quoted-string]</c> with no whitespace, every line ends in CRLF, trailer fields follow
/// the header field rules. Pure: works on a span and tells where the body ends.
/// </summary>
public static class ChunkedFraming
{
    /// <summary>Longest chunk-size or trailer line accepted.</summary>
    public const int LineLimit = 4096;

    /// <summary>
    /// Scans a chunked body at the start of <paramref name="buffer"/>. On Complete, <paramref name="length"/> is
    /// the body's length on the wire (through the trailer section's final CRLF). Decoded data goes to <paramref name="data"/> when given.
    /// </summary>
    public static FrameStatus Scan(ReadOnlySpan<byte> buffer, out int length, out string? error, IBufferWriter<byte>? data = null)
    {
        length = 0;
        error = null;
        int pos = 0;
        while (true)
        {
            int eol = buffer[pos..].IndexOf("\r\n"u8);
            if (eol < 0)
            {
                var partial = buffer[pos..];
                if (partial.Length > LineLimit) { error = "chunk size line too long"; return FrameStatus.Error; }
                // Refuse what can never become valid as early as possible.
                int cr = partial.IndexOf((byte)'\r');
                if (partial.IndexOf((byte)'\n') >= 0 || (cr >= 0 && cr != partial.Length - 1)) { error = "bare CR or LF in chunk size line"; return FrameStatus.Error; }
                if (!IsSizeLinePrefix(cr < 0 ? partial : partial[..cr])) { error = "invalid chunk size line"; return FrameStatus.Error; }
                return FrameStatus.Incomplete;
            }
            if (eol > LineLimit) { error = "chunk size line too long"; return FrameStatus.Error; }
            long size = ParseSizeLine(buffer.Slice(pos, eol), out error);
            if (size < 0) return FrameStatus.Error;
            pos += eol + 2;
            if (size == 0)
            {
                // trailer-section CRLF
                while (true)
                {
                    int e = buffer[pos..].IndexOf("\r\n"u8);
                    if (e < 0)
                    {
                        var partial = buffer[pos..];
                        if (partial.Length > LineLimit) { error = "trailer line too long"; return FrameStatus.Error; }
                        int cr = partial.IndexOf((byte)'\r');
                        if (partial.IndexOf((byte)'\n') >= 0 || (cr >= 0 && cr != partial.Length - 1)) { error = "bare CR or LF in trailer"; return FrameStatus.Error; }
                        return FrameStatus.Incomplete;
                    }
                    var line = buffer.Slice(pos, e);
                    pos += e + 2;
                    if (line.IsEmpty) { length = pos; return FrameStatus.Complete; }
                    error = CheckTrailerLine(line);
                    if (error != null) return FrameStatus.Error;
                }
            }
            if (buffer.Length - pos < size)
            {
                data?.Write(buffer[pos..]);
                return FrameStatus.Incomplete;
            }
            data?.Write(buffer.Slice(pos, (int)size));
            pos += (int)size;
            if (buffer.Length - pos < 2)
            {
                if (buffer.Length - pos == 1 && buffer[pos] != '\r') { error = "chunk data not followed by CRLF"; return FrameStatus.Error; }
                return FrameStatus.Incomplete;
            }
            if (buffer[pos] != '\r' || buffer[pos + 1] != '\n') { error = "chunk data not followed by CRLF"; return FrameStatus.Error; }
            pos += 2;
        }
    }

    /// <summary>Parses a chunk-size line without its CRLF: <c>1*HEXDIG *( ";" token [ "=" ( token / quoted-string ) ] )</c>. Returns -1 with a reason when invalid.</summary>
    public static long ParseSizeLine(ReadOnlySpan<byte> line, out string? error)
    {
        error = null;
        int i = 0;
        long size = 0;
        while (i < line.Length && IsHex(line[i]))
        {
            if (size > (long.MaxValue >> 4) || i >= 15) { error = "chunk size too large"; return -1; }
            size = (size << 4) | (long)HexValue(line[i]);
            i++;
        }
        if (i == 0) { error = "invalid character in chunk size"; return -1; }
        if (size > int.MaxValue) { error = "chunk size too large"; return -1; }
        if (!CheckExtensions(line[i..])) { error = "invalid chunk extension"; return -1; }
        return size;
    }

    /// <summary>Checks a trailer field line (no CRLF); null when valid.</summary>
    public static string? CheckTrailerLine(ReadOnlySpan<byte> line)
    {
        if (HttpSyntax.HasBareCrOrLf(line) || line.IndexOfAny((byte)'\r', (byte)'\n') >= 0) return "bare CR or LF in trailer";
        return HttpSyntax.CheckFieldLine(line, out _, out _);
    }

    // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) (RFC 9112 §7.1.1)
    private static bool CheckExtensions(ReadOnlySpan<byte> s)
    {
        int i = 0;
        while (i < s.Length)
        {
            i = SkipBws(s, i);
            if (i >= s.Length || s[i] != ';') return false;
            i = SkipBws(s, i + 1);
            int n = i;
            while (i < s.Length && HttpSyntax.IsTChar(s[i])) i++;
            if (i == n) return false;
            int j = SkipBws(s, i);
            if (j < s.Length && s[j] == '=')
            {
                i = SkipBws(s, j + 1);
                if (i < s.Length && s[i] == '"')
                {
                    i++;
                    bool closed = false;
                    while (i < s.Length)
                    {
                        byte b = s[i];
                        if (b == '"') { closed = true; i++; break; }
                        if (b == '\\')
                        {
                            if (i + 1 >= s.Length || !(s[i + 1] == '\t' || (s[i + 1] >= 0x20 && s[i + 1] != 0x7F))) return false;
                            i += 2;
                            continue;
                        }
                        if (!(b == '\t' || b == ' ' || b == 0x21 || (b >= 0x23 && b <= 0x5B) || (b >= 0x5D && b <= 0x7E) || b >= 0x80)) return false;
                        i++;
                    }
                    if (!closed) return false;
                }
                else
                {
                    int v = i;
                    while (i < s.Length && HttpSyntax.IsTChar(s[i])) i++;
                    if (i == v) return false;
                }
            }
            else
            {
                if (j == s.Length && j != i) return false; // whitespace at the end of the line
                i = j;
            }
        }
        return true;
    }

    private static int SkipBws(ReadOnlySpan<byte> s, int i)
    {
        while (i < s.Length && s[i] is (byte)' ' or (byte)'\t') i++;
        return i;
    }

    // A prefix of a size line that could still become valid (used while waiting for its CRLF).
    private static bool IsSizeLinePrefix(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty) return true;
        if (!IsHex(s[0])) return false;
        foreach (byte b in s)
            if ((b < 0x20 && b != '\t') || b == 0x7F) return false;
        return true;
    }

    private static bool IsHex(byte b) => b is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;
}
