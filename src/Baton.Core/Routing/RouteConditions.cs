using Baton.Http;

namespace Baton.Routing;

/// <summary>How a header condition compares values (YARP's <c>HeaderMatchMode</c> names).</summary>
public enum HeaderMatchMode { ExactHeader, HeaderPrefix, Contains, NotContains, Exists, NotExists }

/// <summary>How a query-parameter condition compares values (YARP's <c>QueryParameterMatchMode</c> names).</summary>
public enum QueryParameterMatchMode { Exact, Contains, NotContains, Prefix, Exists }

/// <summary>A route condition on a request header, as YARP's <c>RouteHeader</c>.</summary>
public sealed record HeaderCondition(string Name, IReadOnlyList<string> Values, HeaderMatchMode Mode, bool IsCaseSensitive)
{
    // Runs per request for routes that have it: no LINQ, and only the values of fields with this name become strings.
    internal bool Matches(RequestHead head)
    {
        var cmp = IsCaseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        var headers = head.Headers;
        var fields = headers as HeaderFields;
        for (int i = 0; i < headers.Count; i++)
        {
            bool named = fields is not null ? fields.NameIs(i, Name) : headers[i].Key.Equals(Name, StringComparison.OrdinalIgnoreCase);
            if (!named) continue;
            string v = fields is not null ? fields.Value(i) : headers[i].Value;
            switch (Mode)
            {
                case HeaderMatchMode.Exists: return true;
                case HeaderMatchMode.NotExists: return false;
                case HeaderMatchMode.ExactHeader when AnyValue(v, static (v, x, c) => v.Equals(x, c), cmp):
                case HeaderMatchMode.HeaderPrefix when AnyValue(v, static (v, x, c) => v.StartsWith(x, c), cmp):
                case HeaderMatchMode.Contains when AnyValue(v, static (v, x, c) => v.Contains(x, c), cmp):
                    return true;
                // YARP: NotContains also matches when the header is absent.
                case HeaderMatchMode.NotContains when AnyValue(v, static (v, x, c) => v.Contains(x, c), cmp):
                    return false;
            }
        }
        // No field decided it: absent, or present without a matching value.
        return Mode is HeaderMatchMode.NotExists or HeaderMatchMode.NotContains;
    }

    private bool AnyValue(string value, Func<string, string, StringComparison, bool> test, StringComparison cmp)
    {
        for (int i = 0; i < Values.Count; i++)
            if (test(value, Values[i], cmp)) return true;
        return false;
    }
}

/// <summary>A route condition on a query parameter, as YARP's <c>RouteQueryParameter</c>.</summary>
public sealed record QueryCondition(string Name, IReadOnlyList<string> Values, QueryParameterMatchMode Mode, bool IsCaseSensitive)
{
    internal bool Matches(RequestHead head)
    {
        var values = new List<string>();
        foreach (var part in head.Query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=');
            var key = Uri.UnescapeDataString(eq < 0 ? part : part[..eq]);
            if (key.Equals(Name, StringComparison.OrdinalIgnoreCase))
                values.Add(Uri.UnescapeDataString(eq < 0 ? "" : part[(eq + 1)..].Replace('+', ' ')));
        }
        var cmp = IsCaseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        return Mode switch
        {
            QueryParameterMatchMode.Exists => values.Count > 0,
            QueryParameterMatchMode.Exact => values.Any(v => Values.Any(x => v.Equals(x, cmp))),
            QueryParameterMatchMode.Prefix => values.Any(v => Values.Any(x => v.StartsWith(x, cmp))),
            QueryParameterMatchMode.Contains => values.Any(v => Values.Any(x => v.Contains(x, cmp))),
            QueryParameterMatchMode.NotContains => values.Count > 0 && values.All(v => !Values.Any(x => v.Contains(x, cmp))),
            _ => false,
        };
    }
}
