namespace Baton.Modes.Relay;

/// <summary>
/// Header fields that describe one connection, not the message (RFC 9110 §7.6.1): a proxy must not
/// forward them, nor any field the Connection header names.
/// </summary>
internal static class HopByHop
{
    private static readonly HashSet<string> Fixed = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
        "Proxy-Authenticate", "Proxy-Authorization",
    };

    /// <summary>The field names listed in the Connection header(s), or null when there are none besides close/keep-alive.</summary>
    public static HashSet<string>? NamedInConnection(IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        HashSet<string>? named = null;
        for (int i = 0; i < headers.Count; i++) // not foreach: no enumerator per relayed request
        {
            var (name, value) = headers[i];
            if (!name.Equals("Connection", StringComparison.OrdinalIgnoreCase)) continue;
            foreach (var token in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                (named ??= new(StringComparer.OrdinalIgnoreCase)).Add(token);
        }
        return named;
    }

    /// <summary><see cref="NamedInConnection(IReadOnlyList{KeyValuePair{string, string}})"/> of a request: only Connection values become strings.</summary>
    public static HashSet<string>? NamedInConnection(Http.HeaderFields fields)
    {
        HashSet<string>? named = null;
        for (int i = 0; i < fields.Count; i++)
        {
            if (!fields.NameIs(i, "Connection")) continue;
            foreach (var token in fields.Value(i).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                (named ??= new(StringComparer.OrdinalIgnoreCase)).Add(token);
        }
        return named;
    }

    public static bool Is(string name, HashSet<string>? namedInConnection) =>
        Fixed.Contains(name) || (namedInConnection?.Contains(name) ?? false);
}
