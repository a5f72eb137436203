using Baton.Http;

namespace Baton.Routing;

/// <summary>How a cluster's connections are served.</summary>
public enum TransferMode
{
    /// <summary>The live TCP connection moves to the destination host (TCP_REPAIR + steering).</summary>
    Handoff,
    /// <summary>The router answers itself with its built-in application.</summary>
    Router,
    /// <summary>The socket's descriptor moves to a worker process on the router's host (SCM_RIGHTS).</summary>
    Local,
    /// <summary>The router proxies the request to an ordinary HTTP/1.1 server and relays the response.</summary>
    Relay,
    /// <summary>
    /// Per request, relay or hand-off, whichever costs the router less for the response size
    /// learned from earlier responses (<see cref="Modes.Adaptive.AdaptiveTarget"/>). Each
    /// destination is both an HTTP origin (Address) and an agent (Agent).
    /// </summary>
    Adaptive,
}

/// <summary>What each transfer mode needs, asked in one place rather than by listing modes at each use.</summary>
public static class TransferModes
{
    /// <summary>Whether the mode moves live connections to agents (TCP_REPAIR, steering, the cluster key).</summary>
    public static bool HandsOff(this TransferMode mode) => mode is TransferMode.Handoff or TransferMode.Adaptive;

    /// <summary>Whether the mode's destinations are HTTP origins (a URL the router can relay to and probe).</summary>
    public static bool HasOrigin(this TransferMode mode) => mode is TransferMode.Relay or TransferMode.Adaptive;
}

/// <summary>
/// A back-end destination by name. A handoff destination is an agent at <paramref name="ControlEndpoint"/>;
/// a relay destination an HTTP server at <paramref name="Url"/>; a local one a worker process that
/// registers under the name, so it needs neither. <paramref name="Health"/> is YARP's separate health
/// address, where active probes go; <paramref name="Metadata"/> is kept as configured.
/// </summary>
public sealed record Destination(string Name, System.Net.IPEndPoint? ControlEndpoint = null, Uri? Url = null,
    Uri? Health = null, IReadOnlyDictionary<string, string>? Metadata = null)
{
    /// <summary>The address as configured, for messages.</summary>
    public string Address => ControlEndpoint?.ToString() ?? Url?.ToString() ?? "(worker)";

    /// <summary>Whether <paramref name="other"/> reaches the same back-end the same way (metadata aside).</summary>
    public bool SameBackend(Destination other) =>
        Name == other.Name && Equals(ControlEndpoint, other.ControlEndpoint) && Url == other.Url && Health == other.Health;
}

/// <summary>
/// A set of destinations that serve the same content, how requests reach them, how one is chosen
/// (a <see cref="LoadBalancing.LoadBalancingPolicies"/> name; null means the default), and how their
/// health is watched (null means no active or passive checks).
/// </summary>
public sealed record Cluster(string Id, TransferMode Transfer, IReadOnlyList<Destination> Destinations,
    string? LoadBalancingPolicy = null, LoadBalancing.LoadBalancingOptions? LoadBalancing = null,
    Health.HealthCheckOptions? HealthCheck = null, IReadOnlyDictionary<string, string>? Metadata = null,
    Modes.Adaptive.AdaptiveOptions? Adaptive = null);

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

/// <summary>
/// An immutable set of routes and clusters. Routes are tried in YARP's order: <see cref="Route.Order"/>
/// first, then the more specific path, then methods, hosts, headers and query conditions.
/// </summary>
public sealed class RouteTable
{
    private readonly Route[] _routes;

    /// <summary>Builds the table; the routes must reference existing clusters.</summary>
    public RouteTable(IEnumerable<Route> routes, IEnumerable<Cluster> clusters)
    {
        Clusters = clusters.ToDictionary(c => c.Id, StringComparer.OrdinalIgnoreCase);
        // ASP.NET Core endpoint ordering, as YARP gets it: Order, then path precedence, then the
        // matcher policies in their own order: methods, host, headers, query parameters.
        _routes = routes
            .OrderBy(r => r.Order)
            .ThenBy(r => r.IsPrefix ? 1 : 0)
            .ThenByDescending(r => r.PathLiteral.Length)
            .ThenBy(r => r.Methods is { Count: > 0 } ? 0 : 1)
            .ThenBy(r => r.Hosts.Count == 0 ? 1 : 0)
            .ThenByDescending(r => r.Headers?.Count ?? 0)
            .ThenByDescending(r => r.QueryParameters?.Count ?? 0)
            .ToArray();
        foreach (var r in _routes)
            if (!Clusters.ContainsKey(r.ClusterId))
                throw new ArgumentException($"ReverseProxy:Routes:{r.RouteId}:ClusterId: cluster '{r.ClusterId}' does not exist");
    }

    /// <summary>The clusters by id.</summary>
    public IReadOnlyDictionary<string, Cluster> Clusters { get; }

    /// <summary>The routes in matching order.</summary>
    public IReadOnlyList<Route> Routes => _routes;

    /// <summary>The first matching route and its cluster, or null (404). Allocates nothing.</summary>
    public (Route Route, Cluster Cluster)? Match(RequestHead head)
    {
        foreach (var r in _routes)
            if (r.Matches(head)) return (r, Clusters[r.ClusterId]);
        return null;
    }
}
