namespace Baton.Http;

/// <summary>
/// Protocol upgrade (RFC 9110 §7.8), e.g. WebSocket. After a 101 response the connection carries
/// another protocol: Baton never takes such a connection back, whichever mode moved it.
/// </summary>
public static class HttpUpgrade
{
    /// <summary>
    /// The protocol(s) <paramref name="head"/> asks to switch to (its Upgrade field) when the request
    /// may upgrade: HTTP/1.1 and "upgrade" among the Connection options. Otherwise null: an Upgrade
    /// field that Connection does not name is not meant for this hop.
    /// </summary>
    public static string? Requested(RequestHead head)
    {
        if (head.VersionMinor < 1 || head["Upgrade"] is not { Length: > 0 } protocol) return null;
        foreach (var (name, value) in head.Headers)
        {
            if (!name.Equals("Connection", StringComparison.OrdinalIgnoreCase)) continue;
            foreach (var token in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                if (token.Equals("upgrade", StringComparison.OrdinalIgnoreCase)) return protocol;
        }
        return null;
    }
}
