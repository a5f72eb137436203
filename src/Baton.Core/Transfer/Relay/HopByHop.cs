namespace Baton.Transfer.Relay;

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
    public static HashSet<string>? NamedInConnection(IEnumerable<KeyValuePair<string, string>> headers)
    {
        HashSet<string>? named = null;
        foreach (var (name, value) in headers)
        {
            if (!name.Equals("Connection", StringComparison.OrdinalIgnoreCase)) continue;
            foreach (var token in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                (named ??= new(StringComparer.OrdinalIgnoreCase)).Add(token);
        }
        return named;
    }

    public static bool Is(string name, HashSet<string>? namedInConnection) =>
        Fixed.Contains(name) || (namedInConnection?.Contains(name) ?? false);
}
