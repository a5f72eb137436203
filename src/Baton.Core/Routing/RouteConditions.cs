using Baton.Http;

namespace Baton.Routing;

/// <summary>How a header condition compares values (YARP's <c>HeaderMatchMode</c> names).</summary>
public enum HeaderMatchMode { ExactHeader, HeaderPrefix, Contains, NotContains, Exists, NotExists }

/// <summary>How a query-parameter condition compares values (YARP's <c>QueryParameterMatchMode</c> names).</summary>
public enum QueryParameterMatchMode { Exact, Contains, NotContains, Prefix, Exists }

/// <summary>A route condition on a request header, as YARP's <c>RouteHeader</c>.</summary>
public sealed record HeaderCondition(string Name, IReadOnlyList<string> Values, HeaderMatchMode Mode, bool IsCaseSensitive)
{
    internal bool Matches(RequestHead head)
    {
        var present = head.Headers.Where(h => h.Key.Equals(Name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).ToList();
        var cmp = IsCaseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        return Mode switch
        {
            HeaderMatchMode.Exists => present.Count > 0,
            HeaderMatchMode.NotExists => present.Count == 0,
            HeaderMatchMode.ExactHeader => present.Any(v => Values.Any(x => v.Equals(x, cmp))),
            HeaderMatchMode.HeaderPrefix => present.Any(v => Values.Any(x => v.StartsWith(x, cmp))),
            HeaderMatchMode.Contains => present.Any(v => Values.Any(x => v.Contains(x, cmp))),
            // YARP: NotContains also matches when the header is absent.
            HeaderMatchMode.NotContains => present.All(v => !Values.Any(x => v.Contains(x, cmp))),
            _ => false,
        };
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
