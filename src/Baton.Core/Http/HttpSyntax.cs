using System.Buffers;

namespace Baton.Http;

/// <summary>Character classes and field-line checks shared by the request, response and chunked framers (RFC 9110 §5.6, RFC 9112 §5).</summary>
internal static class HttpSyntax
{
    // Set searches are vectorized: a head is checked many bytes per instruction rather than one by one.
    private static readonly SearchValues<byte> TChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    private static readonly SearchValues<byte> NotFieldValueChars =
        SearchValues.Create([.. Enumerable.Range(0, 0x20).Where(b => b != '\t').Select(b => (byte)b), 0x7F]);

    /// <summary>tchar (RFC 9110 §5.6.2).</summary>
    public static bool IsTChar(byte b) => TChars.Contains(b);

    /// <summary>A non-empty token.</summary>
    public static bool IsToken(ReadOnlySpan<byte> s) => !s.IsEmpty && !s.ContainsAnyExcept(TChars);

    /// <summary>field-content characters: HTAB, SP, VCHAR, obs-text (no other control characters, no DEL).</summary>
    public static bool IsFieldValueChar(byte b) => !NotFieldValueChars.Contains(b);

    /// <summary>Strips leading and trailing SP/HTAB (OWS).</summary>
    public static ReadOnlySpan<byte> TrimOws(ReadOnlySpan<byte> s)
    {
        int a = 0, b = s.Length;
        while (a < b && s[a] is (byte)' ' or (byte)'\t') a++;
        while (b > a && s[b - 1] is (byte)' ' or (byte)'\t') b--;
        return s[a..b];
    }

    /// <summary>Whether <paramref name="s"/> holds a CR or LF not part of a CRLF pair.</summary>
    public static bool HasBareCrOrLf(ReadOnlySpan<byte> s)
    {
        int i = 0;
        while (true)
        {
            int k = s[i..].IndexOfAny((byte)'\r', (byte)'\n');
            if (k < 0) return false;
            i += k;
            // The first CR or LF after a CRLF (or at the start): an LF here has no CR before it.
            if (s[i] == '\n' || i + 1 == s.Length || s[i + 1] != '\n') return true;
            i += 2;
        }
    }

    /// <summary>
    /// Checks one field line (without its CRLF): token name, colon right after it, value of field-content
    /// characters. Returns null when valid, else the reason; <paramref name="name"/> and <paramref name="value"/> (OWS-trimmed) are set when valid.
    /// </summary>
    public static string? CheckFieldLine(ReadOnlySpan<byte> field, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        string? bad = CheckFieldLine(field, out int colon, out int valueStart, out int valueLength);
        name = bad is null ? field[..colon] : default;
        value = bad is null ? field.Slice(valueStart, valueLength) : default;
        return bad;
    }

    /// <summary>
    /// <see cref="CheckFieldLine(ReadOnlySpan{byte}, out ReadOnlySpan{byte}, out ReadOnlySpan{byte})"/> with
    /// positions within <paramref name="field"/>: the name is <c>[0, colon)</c>, the OWS-trimmed value
    /// <c>[valueStart, valueStart + valueLength)</c>, so a head can index its own copy of the line.
    /// </summary>
    public static string? CheckFieldLine(ReadOnlySpan<byte> field, out int colon, out int valueStart, out int valueLength)
    {
        valueStart = valueLength = 0;
        colon = -1;
        if (field.IsEmpty) return "empty header line";
        if (field[0] is (byte)' ' or (byte)'\t') return "obsolete line folding is not allowed";
        colon = field.IndexOf((byte)':');
        if (colon <= 0) return "header field without a name";
        if (!IsToken(field[..colon])) return "invalid header field name (whitespace before the colon?)";
        int a = colon + 1, b = field.Length;
        while (a < b && field[a] is (byte)' ' or (byte)'\t') a++;
        while (b > a && field[b - 1] is (byte)' ' or (byte)'\t') b--;
        if (field[a..b].ContainsAny(NotFieldValueChars)) return "control character in header value";
        valueStart = a;
        valueLength = b - a;
        return null;
    }

    /// <summary>Splits a comma-separated list into OWS-trimmed elements; empty elements are kept (callers decide).</summary>
    public static List<string> SplitList(string v)
    {
        var list = new List<string>();
        foreach (var part in v.Split(','))
            list.Add(part.Trim(' ', '\t'));
        return list;
    }
}
