using Baton.Http;

namespace Baton.Routing;

/// <summary>
/// A route: which requests (host and path) go to which cluster. Path templates follow YARP's form;
/// a trailing <c>{**catch-all}</c> makes the literal part a prefix, otherwise the path must match exactly.
/// <paramref name="Metadata"/> is kept as configured.
/// </summary>
public sealed record Route(string RouteId, string ClusterId, int Order, IReadOnlyList<string> Hosts, string? Path,
    IReadOnlyList<string>? Methods = null, IReadOnlyList<HeaderCondition>? Headers = null, IReadOnlyList<QueryCondition>? QueryParameters = null,
    IReadOnlyDictionary<string, string>? Metadata = null)
{

    internal string PathLiteral => Path is null ? "/" : CatchAllIndex(Path) is var i and >= 0 ? Path[..i] : Path;
    internal bool IsPrefix => Path is null || CatchAllIndex(Path) >= 0;

    private static int CatchAllIndex(string p) => p.IndexOf("{**", StringComparison.Ordinal);

    // Runs per request: loops and the head's chars rather than LINQ, substrings or the head's strings, so
    // matching allocates nothing (and makes no string the head would keep).
    internal bool Matches(RequestHead head)
    {
        if (Hosts.Count > 0 && !AnyHostMatches(head.HostChars)) return false;
        if (Methods is { Count: > 0 } && !AnyMethodMatches(head.MethodChars)) return false;
        if (Headers is not null)
            for (int i = 0; i < Headers.Count; i++)
                if (!Headers[i].Matches(head)) return false;
        if (QueryParameters is not null)
            for (int i = 0; i < QueryParameters.Count; i++)
                if (!QueryParameters[i].Matches(head)) return false;
        // PathLiteral and IsPrefix, without the substring.
        int catchAll = Path is null ? 0 : CatchAllIndex(Path);
        var literal = Path is null ? "/" : catchAll >= 0 ? Path.AsSpan(0, catchAll) : Path;
        var path = head.PathChars;
        if (catchAll < 0) return path.Equals(literal, StringComparison.OrdinalIgnoreCase);
        return path.StartsWith(literal, StringComparison.OrdinalIgnoreCase)
            || (literal.EndsWith('/') && path.Equals(literal[..^1], StringComparison.OrdinalIgnoreCase));
    }

    private bool AnyHostMatches(ReadOnlySpan<char> host)
    {
        for (int i = 0; i < Hosts.Count; i++)
            if (HostMatches(Hosts[i], host)) return true;
        return false;
    }

    private bool AnyMethodMatches(ReadOnlySpan<char> method)
    {
        for (int i = 0; i < Methods!.Count; i++)
            if (method.Equals(Methods[i], StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    private static bool HostMatches(string configured, ReadOnlySpan<char> host)
    {
        var pattern = configured.AsSpan();
        int colon = pattern.LastIndexOf(':');
        if (colon > 0 && !pattern.EndsWith("]")) pattern = pattern[..colon];
        return pattern.StartsWith("*.")
            ? host.EndsWith(pattern[1..], StringComparison.OrdinalIgnoreCase) && host.Length > pattern.Length - 1
            : host.Equals(pattern, StringComparison.OrdinalIgnoreCase);
    }
}
