using Baton.Modes;

namespace Baton.Routing;

/// <summary>
/// A set of destinations that serve the same content, how requests reach them (<paramref name="Transfer"/>,
/// with that mode's own cluster settings in <paramref name="ModeSettings"/>), how one is chosen
/// (a <see cref="LoadBalancing.LoadBalancingPolicies"/> name; null means the default), and how their
/// health is watched (null means no active or passive checks).
/// </summary>
public sealed record Cluster(string Id, TransferMode Transfer, IReadOnlyList<Destination> Destinations,
    string? LoadBalancingPolicy = null, LoadBalancing.LoadBalancingOptions? LoadBalancing = null,
    Health.HealthCheckOptions? HealthCheck = null, IReadOnlyDictionary<string, string>? Metadata = null,
    object? ModeSettings = null);
