using Baton.Health;
using Baton.Routing;
using Baton.Routing.LoadBalancing;

namespace Baton.Router;

/// <summary>
/// What one configuration puts in force: its routes, and per cluster a <see cref="ClusterState"/>.
/// Built whole and swapped at once by a reload; never edited. Connections mid-request keep the
/// cluster they were given.
/// </summary>
internal sealed class RoutingState
{
    private readonly Dictionary<string, ClusterState> _clusters;

    private RoutingState(RouteTable table, Dictionary<string, ClusterState> clusters) => (Table, _clusters) = (table, clusters);

    public RouteTable Table { get; }

    /// <summary>The state of cluster <paramref name="id"/>, or null when this configuration has no such cluster.</summary>
    public ClusterState? this[string id] => _clusters.GetValueOrDefault(id);

    public IEnumerable<ClusterHealth> Health => _clusters.Values.Select(c => c.Health);

    /// <summary>The clusters of this configuration that destinations serve (not the router's own).</summary>
    public IEnumerable<ClusterState> Clusters => _clusters.Values;

    /// <summary>
    /// The state of <paramref name="table"/>, whose destinations <paramref name="destinations"/>
    /// already holds: a policy per cluster, and each destination's health, kept from
    /// <paramref name="previous"/> unless its probe address or thresholds changed.
    /// </summary>
    public static RoutingState Build(RouteTable table, DestinationRegistry destinations, RoutingState? previous, TimeProvider time)
    {
        var clusters = new Dictionary<string, ClusterState>(StringComparer.OrdinalIgnoreCase);
        foreach (var c in table.Clusters.Values.Where(c => !c.Transfer.ServedByTheRouter))
        {
            var policy = LoadBalancingPolicies.Create(c.LoadBalancingPolicy, c.LoadBalancing ?? LoadBalancingOptions.Default);
            var health = ClusterHealth.For(c, previous?[c.Id]?.Health, time);
            clusters[c.Id] = new ClusterState(c, policy, health, [.. c.Destinations.Select(d => destinations[d.Name])]);
        }
        return new RoutingState(table, clusters);
    }
}
