using Baton.Http;

namespace Baton.Routing;

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
