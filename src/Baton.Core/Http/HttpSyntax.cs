namespace Baton.Http;

/// <summary>Character classes and field-line checks shared by the request, response and chunked framers (RFC 9110 §5.6, RFC 9112 §5).</summary>
internal static class HttpSyntax
{
    /// <summary>tchar (RFC 9110 §5.6.2).</summary>
    public static bool IsTChar(byte b) =>
        b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9'
        || "!#$%&'*+-.^_`|~"u8.IndexOf(b) >= 0;

    /// <summary>A non-empty token.</summary>
    public static bool IsToken(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty) return false;
        foreach (byte b in s)
            if (!IsTChar(b)) return false;
        return true;
    }

    /// <summary>field-content characters: HTAB, SP, VCHAR, obs-text (no other control characters, no DEL).</summary>
    public static bool IsFieldValueChar(byte b) => b == '\t' || (b >= 0x20 && b != 0x7F);

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
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return true;
            if (s[i] == '\r' && (i + 1 == s.Length || s[i + 1] != '\n')) return true;
        }
        return false;
    }

    /// <summary>
    /// Checks one field line (without its CRLF): token name, colon right after it, value of field-content
    /// characters. Returns null when valid, else the reason; <paramref name="name"/> and <paramref name="value"/> (OWS-trimmed) are set when valid.
    /// </summary>
    public static string? CheckFieldLine(ReadOnlySpan<byte> field, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        name = value = default;
        if (field.IsEmpty) return "empty header line";
        if (field[0] is (byte)' ' or (byte)'\t') return "obsolete line folding is not allowed";
        int colon = field.IndexOf((byte)':');
        if (colon <= 0) return "header field without a name";
        name = field[..colon];
        if (!IsToken(name)) return "invalid header field name (whitespace before the colon?)";
        value = TrimOws(field[(colon + 1)..]);
        foreach (byte b in value)
            if (!IsFieldValueChar(b)) return "control character in header value";
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
