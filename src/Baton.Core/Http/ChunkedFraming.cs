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
        var cursor = new ChunkedCursor();
        int n = cursor.Advance(buffer, out error, data);
        length = cursor.Done ? n : 0;
        return error is not null ? FrameStatus.Error : cursor.Done ? FrameStatus.Complete : FrameStatus.Incomplete;
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
    internal static bool IsSizeLinePrefix(ReadOnlySpan<byte> s)
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

/// <summary>
/// Where a chunked body stands as its bytes go by: <see cref="ChunkedFraming"/>'s rules applied to
/// each piece as it arrives, so a body can be checked and passed on as it came without being held
/// whole (relay's <c>ChunkedPump</c>), or scanned in one buffer (<see cref="ChunkedFraming.Scan"/>).
/// </summary>
public struct ChunkedCursor
{
    private enum Part { SizeLine, Data, DataEnd, Trailer, Done }

    private Part _part;
    private long _dataLeft;

    /// <summary>The last chunk and the trailer section's CRLF have gone by: the body is complete.</summary>
    public readonly bool Done => _part == Part.Done;

    /// <summary>Bytes of the current chunk's data still to come (0 outside a chunk's data).</summary>
    public readonly long DataLeft => _part == Part.Data ? _dataLeft : 0;

    /// <summary>
    /// Goes over <paramref name="bytes"/>, the body's next bytes, as far as they are whole lines or
    /// chunk data, and returns how many it took: a line without its CRLF yet is left for the next
    /// call, with more bytes behind it. Stops at the body's end. <paramref name="error"/> is set when
    /// the bytes can never become a valid body (the count is then meaningless). Chunk data goes to
    /// <paramref name="data"/> when given.
    /// </summary>
    public int Advance(ReadOnlySpan<byte> bytes, out string? error, IBufferWriter<byte>? data = null) =>
        Advance(bytes, out error, data, stopAtData: false);

    /// <summary>
    /// As <see cref="Advance(ReadOnlySpan{byte}, out string?, IBufferWriter{byte}?)"/>, but stops
    /// where a chunk's data starts (<see cref="DataLeft"/> is then above 0), for a reader that takes
    /// the data into a buffer of its own and counts it off with <see cref="SkipData"/>.
    /// </summary>
    public int AdvanceFraming(ReadOnlySpan<byte> bytes, out string? error) =>
        Advance(bytes, out error, data: null, stopAtData: true);

    private int Advance(ReadOnlySpan<byte> bytes, out string? error, IBufferWriter<byte>? data, bool stopAtData)
    {
        error = null;
        int pos = 0;
        while (pos < bytes.Length && _part != Part.Done)
        {
            var rest = bytes[pos..];
            switch (_part)
            {
                case Part.Data:
                    if (stopAtData) return pos;
                    int take = (int)Math.Min(_dataLeft, rest.Length);
                    data?.Write(rest[..take]);
                    pos += take;
                    _dataLeft -= take;
                    if (_dataLeft == 0) _part = Part.DataEnd;
                    break;
                case Part.DataEnd:
                    if (rest[0] != '\r' || (rest.Length > 1 && rest[1] != '\n')) { error = "chunk data not followed by CRLF"; return pos; }
                    if (rest.Length < 2) return pos;
                    pos += 2;
                    _part = Part.SizeLine;
                    break;
                default: // a size line or a trailer line
                    bool sizeLine = _part == Part.SizeLine;
                    int eol = rest.IndexOf("\r\n"u8);
                    if (eol < 0)
                    {
                        error = PartialLineError(rest, sizeLine);
                        return pos;
                    }
                    var line = rest[..eol];
                    if (sizeLine)
                    {
                        if (eol > ChunkedFraming.LineLimit) { error = "chunk size line too long"; return pos; }
                        long size = ChunkedFraming.ParseSizeLine(line, out error);
                        if (size < 0) return pos;
                        (_part, _dataLeft) = size == 0 ? (Part.Trailer, 0L) : (Part.Data, size);
                    }
                    else if (line.IsEmpty) _part = Part.Done;
                    else if ((error = ChunkedFraming.CheckTrailerLine(line)) is not null) return pos;
                    pos += eol + 2;
                    break;
            }
        }
        return pos;
    }

    /// <summary>
    /// Counts <paramref name="count"/> bytes of the current chunk's data as gone by without being
    /// looked at (sent on socket to socket, or from a buffer of the caller's own).
    /// </summary>
    public void SkipData(long count)
    {
        if (count <= 0 || count > DataLeft) throw new ArgumentOutOfRangeException(nameof(count), $"{count} bytes of chunk data skipped where {DataLeft} remain");
        _dataLeft -= count;
        if (_dataLeft == 0) _part = Part.DataEnd;
    }

    // A line still waiting for its CRLF: refuse what can never become valid as early as possible.
    private static string? PartialLineError(ReadOnlySpan<byte> partial, bool sizeLine)
    {
        if (partial.Length > ChunkedFraming.LineLimit) return sizeLine ? "chunk size line too long" : "trailer line too long";
        int cr = partial.IndexOf((byte)'\r');
        if (partial.IndexOf((byte)'\n') >= 0 || (cr >= 0 && cr != partial.Length - 1)) return sizeLine ? "bare CR or LF in chunk size line" : "bare CR or LF in trailer";
        if (sizeLine && !ChunkedFraming.IsSizeLinePrefix(cr < 0 ? partial : partial[..cr])) return "invalid chunk size line";
        return null;
    }
}
