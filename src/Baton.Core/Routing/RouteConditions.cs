using Baton.Http;

namespace Baton.Routing;

/// <summary>How a header condition compares values (YARP's <c>HeaderMatchMode</c> names).</summary>
public enum HeaderMatchMode { ExactHeader, HeaderPrefix, Contains, NotContains, Exists, NotExists }

/// <summary>How a query-parameter condition compares values (YARP's <c>QueryParameterMatchMode</c> names).</summary>
public enum QueryParameterMatchMode { Exact, Contains, NotContains, Prefix, Exists }

/// <summary>A route condition on a request header, as YARP's <c>RouteHeader</c>.</summary>
public sealed record HeaderCondition(string Name, IReadOnlyList<string> Values, HeaderMatchMode Mode, bool IsCaseSensitive)
{
    // Longest value decoded on the stack; longer ones borrow a pooled array.
    private const int StackChars = 256;

    // Runs per request for routes that have it: names compared as bytes, values decoded into a scratch buffer,
    // so a match makes no string (no LINQ, no closures either).
    internal bool Matches(RequestHead head)
    {
        var fields = head.Fields;
        for (int i = 0; i < fields.Count; i++)
        {
            if (!fields.NameIs(i, Name)) continue;
            switch (Mode)
            {
                case HeaderMatchMode.Exists: return true;
                case HeaderMatchMode.NotExists: return false;
                case HeaderMatchMode.ExactHeader or HeaderMatchMode.HeaderPrefix or HeaderMatchMode.Contains
                    when AnyValue(fields.ValueBytes(i)):
                    return true;
                // YARP: NotContains also matches when the header is absent.
                case HeaderMatchMode.NotContains when AnyValue(fields.ValueBytes(i)):
                    return false;
            }
        }
        // No field decided it: absent, or present without a matching value.
        return Mode is HeaderMatchMode.NotExists or HeaderMatchMode.NotContains;
    }

    // Whether the field value (Latin-1, as strings of it were) matches a configured value the way Mode compares them.
    private bool AnyValue(ReadOnlySpan<byte> latin1)
    {
        char[]? rented = latin1.Length > StackChars ? System.Buffers.ArrayPool<char>.Shared.Rent(latin1.Length) : null;
        Span<char> value = (rented ?? stackalloc char[StackChars])[..latin1.Length];
        try
        {
            System.Text.Encoding.Latin1.GetChars(latin1, value);
            return AnyValue(value, IsCaseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<char>.Shared.Return(rented);
        }
    }

    private bool AnyValue(ReadOnlySpan<char> value, StringComparison cmp) => ValueTest.Any(value, Values, Mode switch
    {
        HeaderMatchMode.ExactHeader => ValueTest.Kind.Equal,
        HeaderMatchMode.HeaderPrefix => ValueTest.Kind.Prefix,
        _ => ValueTest.Kind.Contains,
    }, cmp);
}

/// <summary>A route condition on a query parameter, as YARP's <c>RouteQueryParameter</c>.</summary>
public sealed record QueryCondition(string Name, IReadOnlyList<string> Values, QueryParameterMatchMode Mode, bool IsCaseSensitive)
{
    // Longest parameter name or value decoded on the stack; longer ones borrow pooled arrays.
    private const int StackChars = 256;

    // Runs per request for routes that have it: the query is walked as the head's chars and each parameter
    // unescaped into a scratch buffer (not Split, List and LINQ), so matching makes no string.
    internal bool Matches(RequestHead head)
    {
        var query = head.QueryChars;
        char[]? rented = query.Length > StackChars ? System.Buffers.ArrayPool<char>.Shared.Rent(2 * query.Length) : null;
        Span<char> scratch = rented ?? stackalloc char[2 * StackChars];
        try
        {
            return Matches(query, scratch[..query.Length], scratch[query.Length..(2 * query.Length)]);
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<char>.Shared.Return(rented);
        }
    }

    // As YARP reads a query: '&'-separated, empty parts skipped, key and value unescaped, '+' in a value is a space.
    private bool Matches(ReadOnlySpan<char> query, Span<char> raw, Span<char> decoded)
    {
        var cmp = IsCaseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        bool found = false;
        foreach (var range in query.Split('&'))
        {
            var part = query[range];
            if (part.IsEmpty) continue;
            int eq = part.IndexOf('=');
            if (!Uri.TryUnescapeDataString(eq < 0 ? part : part[..eq], decoded, out int keyLength)) return false; // cannot happen: unescaping never lengthens
            if (!decoded[..keyLength].Equals(Name, StringComparison.OrdinalIgnoreCase)) continue;
            found = true;
            if (Mode == QueryParameterMatchMode.Exists) return true;
            var rawValue = raw[..(eq < 0 ? 0 : part.Length - eq - 1)];
            if (eq >= 0) part[(eq + 1)..].CopyTo(rawValue);
            rawValue.Replace('+', ' ');
            if (!Uri.TryUnescapeDataString(rawValue, decoded, out int valueLength)) return false;
            bool hit = AnyValue(decoded[..valueLength], cmp);
            if (Mode == QueryParameterMatchMode.NotContains) { if (hit) return false; }
            else if (hit) return true;
        }
        return Mode == QueryParameterMatchMode.NotContains && found;
    }

    private bool AnyValue(ReadOnlySpan<char> value, StringComparison cmp) => Mode switch
    {
        QueryParameterMatchMode.Exact => ValueTest.Any(value, Values, ValueTest.Kind.Equal, cmp),
        QueryParameterMatchMode.Prefix => ValueTest.Any(value, Values, ValueTest.Kind.Prefix, cmp),
        QueryParameterMatchMode.Contains or QueryParameterMatchMode.NotContains => ValueTest.Any(value, Values, ValueTest.Kind.Contains, cmp),
        _ => false,
    };
}

/// <summary>The value comparison header and query conditions share: any of the configured values, as spans.</summary>
internal static class ValueTest
{
    public enum Kind { Equal, Prefix, Contains }

    public static bool Any(ReadOnlySpan<char> value, IReadOnlyList<string> values, Kind kind, StringComparison cmp)
    {
        for (int i = 0; i < values.Count; i++)
        {
            var x = values[i].AsSpan();
            bool hit = kind switch
            {
                Kind.Equal => value.Equals(x, cmp),
                Kind.Prefix => value.StartsWith(x, cmp),
                _ => value.Contains(x, cmp),
            };
            if (hit) return true;
        }
        return false;
    }
}
