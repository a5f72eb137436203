using Baton.Health;
using Baton.Routing;
using Baton.Routing.LoadBalancing;

namespace Baton.Router;

/// <summary>
/// One cluster as the router runs it, for one configuration: its balancing policy, its
/// destinations' health, and the destinations the policy chooses from. Replaced whole by a reload.
/// </summary>
internal sealed class ClusterState
{
    private readonly DestinationRuntime[] _destinations; // in configuration order, as Health.Destinations
    private DestinationState[] _available = [];

    public ClusterState(Cluster cluster, ILoadBalancingPolicy policy, ClusterHealth health, IReadOnlyList<DestinationRuntime> destinations)
    {
        if (destinations.Count != health.Destinations.Count)
            throw new ArgumentException("one runtime record per destination of the cluster's health", nameof(destinations));
        for (int i = 0; i < destinations.Count; i++)
            if (destinations[i].Name != health.Destinations[i].Name)
                throw new ArgumentException($"destination {i} is '{destinations[i].Name}' here and '{health.Destinations[i].Name}' in the health", nameof(destinations));
        Cluster = cluster;
        Policy = policy;
        Health = health;
        _destinations = [.. destinations];
        _available = Compute();
    }

    public Cluster Cluster { get; }

    public ILoadBalancingPolicy Policy { get; }

    public ClusterHealth Health { get; }

    /// <summary>The runtime record of the cluster's destination <paramref name="name"/>, or null.</summary>
    public DestinationRuntime? this[string name] => Array.Find(_destinations, d => d.Name == name);

    /// <summary>
    /// The destinations the balancer may choose from, in configuration order: those not draining
    /// whose effective state (<see cref="DestinationHealth.Effective"/>) is Healthy or Unknown; under
    /// HealthyOrPanic, every destination not draining when that leaves none.
    /// </summary>
    /// <remarks>
    /// A pick reads each destination's state, as a target's own health (an agent link, a worker, a
    /// relay's connect failures) and a passive deactivation's end are read, not announced. The list
    /// is made again only when that set differs from the last one: a pick in a steady cluster
    /// allocates nothing (before, every pick allocated a list, ClusterHealth.Available).
    /// </remarks>
    public IReadOnlyList<DestinationState> Available()
    {
        var last = Volatile.Read(ref _available);
        if (StillAvailable(last)) return last;
        var now = Compute();
        Volatile.Write(ref _available, now);
        return now;
    }

    /// <summary>Each destination in configuration order, with its state as the balancer sees it now.</summary>
    /// <remarks><c>Available</c>: whether the balancer may choose it (<see cref="IsAvailable"/>, outside panic).</remarks>
    public IEnumerable<(DestinationRuntime Destination, HealthState State, bool Available)> States()
    {
        for (int i = 0; i < _destinations.Length; i++)
            yield return (_destinations[i], Health.Destinations[i].Effective(_destinations[i].Target.IsHealthy), IsAvailable(i));
    }

    private bool IsAvailable(int i) =>
        !_destinations[i].Draining && Health.Destinations[i].Effective(_destinations[i].Target.IsHealthy) != HealthState.Unhealthy;

    // Whether the states now give the same list as last, without making one.
    private bool StillAvailable(DestinationState[] last)
    {
        int matched = 0;
        for (int i = 0; i < _destinations.Length; i++)
        {
            if (!IsAvailable(i)) continue;
            if (matched == last.Length || !ReferenceEquals(last[matched], _destinations[i].Load)) return false;
            matched++;
        }
        // None available: under HealthyOrPanic the list is every destination not draining.
        if (matched == 0 && Health.Panics) return PanicList().SequenceEqual(last);
        return matched == last.Length;
    }

    private DestinationState[] Compute()
    {
        var available = new List<DestinationState>(_destinations.Length);
        for (int i = 0; i < _destinations.Length; i++)
            if (IsAvailable(i)) available.Add(_destinations[i].Load);
        if (available.Count == 0 && Health.Panics) return [.. PanicList()];
        return [.. available];
    }

    // Draining is the operator's word, which panic does not override.
    private IEnumerable<DestinationState> PanicList() => _destinations.Where(d => !d.Draining).Select(d => d.Load);
}
