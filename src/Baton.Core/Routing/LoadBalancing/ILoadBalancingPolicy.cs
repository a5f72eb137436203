namespace Baton.Routing.LoadBalancing;

/// <summary>
/// Chooses one destination of a cluster for a request. Instances are per cluster and may hold state
/// (a round-robin counter, a hash ring, a target map); <see cref="Pick"/> is called concurrently from
/// many connections and must be thread-safe.
/// </summary>
public interface ILoadBalancingPolicy
{
    /// <summary>The policy's name, one of the <see cref="LoadBalancingPolicies"/> constants.</summary>
    string Name { get; }

    /// <summary>
    /// Chooses a destination from <paramref name="available"/>: the healthy destinations of the cluster,
    /// in configuration order. Returns null only when <paramref name="available"/> is empty. The policy
    /// does not change any load counter; the caller enters the chosen destination when it commits to it.
    /// </summary>
    DestinationState? Pick(in BalancingContext context, IReadOnlyList<DestinationState> available);
}
