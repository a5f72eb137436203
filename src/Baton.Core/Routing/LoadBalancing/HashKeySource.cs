using System.Net;

namespace Baton.Routing.LoadBalancing;

/// <summary>Where <see cref="ConsistentHashPolicy"/> takes its key from.</summary>
public enum HashKeyKind
{
    /// <summary>The request path (without the query).</summary>
    Path,
    /// <summary>The first value of a request header.</summary>
    Header,
    /// <summary>The value of a cookie in the Cookie header.</summary>
    Cookie,
    /// <summary>The client's IP address (without the port).</summary>
    ClientAddress,
}

/// <summary>A parsed hash key setting: <c>Path</c>, <c>Header:&lt;name&gt;</c>, <c>Cookie:&lt;name&gt;</c> or <c>ClientAddress</c>.</summary>
/// <param name="Kind">Where the key comes from.</param>
/// <param name="Name">The header or cookie name; null for the other kinds.</param>
public readonly record struct HashKeySource(HashKeyKind Kind, string? Name)
{
    /// <summary>Parses a setting; the kind is case-insensitive, a cookie name is kept as written.</summary>
    /// <exception cref="ArgumentException">The setting is not one of the accepted forms.</exception>
    public static HashKeySource Parse(string? value)
    {
        string v = value?.Trim() ?? "";
        int colon = v.IndexOf(':');
        string kind = colon < 0 ? v : v[..colon].Trim();
        string name = colon < 0 ? "" : v[(colon + 1)..].Trim();
        if (colon < 0 && kind.Equals("Path", StringComparison.OrdinalIgnoreCase)) return new(HashKeyKind.Path, null);
        if (colon < 0 && kind.Equals("ClientAddress", StringComparison.OrdinalIgnoreCase)) return new(HashKeyKind.ClientAddress, null);
        if (colon >= 0 && name.Length > 0 && kind.Equals("Header", StringComparison.OrdinalIgnoreCase)) return new(HashKeyKind.Header, name);
        if (colon >= 0 && name.Length > 0 && kind.Equals("Cookie", StringComparison.OrdinalIgnoreCase)) return new(HashKeyKind.Cookie, name);
        throw new ArgumentException(
            $"LoadBalancing: HashKey '{value}' is not valid; expected Path, ClientAddress, Header:<name> or Cookie:<name>");
    }

    /// <summary>
    /// The key's hash for a request. A missing or empty header or cookie falls back to the client address,
    /// so that a client without the session cookie yet still sticks to one destination.
    /// </summary>
    internal ulong Hash(in BalancingContext context)
    {
        // Path and header keys are hashed from the head's chars and bytes: no string per request.
        switch (Kind)
        {
            case HashKeyKind.Path when !context.Request.PathChars.IsEmpty:
                return StableHash.Of(context.Request.PathChars);
            case HashKeyKind.Header when FirstValue(context.Request.Fields, Name!) is var value && !value.IsEmpty:
                return StableHash.OfLatin1(value);
            case HashKeyKind.Cookie when FindCookie(context.Request.Headers, Name!) is { Length: > 0 } cookie:
                return StableHash.Of(cookie);
        }
        return HashAddress(context.Client.Address);
    }

    private static ReadOnlySpan<byte> FirstValue(Http.HeaderFields fields, string name)
    {
        for (int i = 0; i < fields.Count; i++)
            if (fields.NameIs(i, name)) return fields.ValueBytes(i);
        return default;
    }

    private static ulong HashAddress(IPAddress address)
    {
        // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; hash them as the IPv4 address they are.
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        return address.TryWriteBytes(bytes, out int n) ? StableHash.Of(bytes[..n]) : StableHash.Of(address.ToString());
    }

    /// <summary>The value of cookie <paramref name="name"/> (case-sensitive, RFC 6265) in any Cookie header.</summary>
    internal static string? FindCookie(IReadOnlyList<KeyValuePair<string, string>> headers, string name)
    {
        var fields = headers as Http.HeaderFields; // names compared as bytes: other fields stay unread
        for (int i = 0; i < headers.Count; i++)
        {
            if (!(fields?.NameIs(i, "Cookie") ?? headers[i].Key.Equals("Cookie", StringComparison.OrdinalIgnoreCase))) continue;
            string cookies = fields?.Value(i) ?? headers[i].Value;
            foreach (var range in cookies.AsSpan().Split(';'))
            {
                var pair = cookies.AsSpan()[range].Trim();
                int eq = pair.IndexOf('=');
                if (eq <= 0 || !pair[..eq].Trim().SequenceEqual(name)) continue;
                var value = pair[(eq + 1)..].Trim();
                if (value.Length >= 2 && value[0] == '"' && value[^1] == '"') value = value[1..^1];
                return value.ToString();
            }
        }
        return null;
    }
}
