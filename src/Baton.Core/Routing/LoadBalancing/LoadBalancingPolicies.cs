namespace Baton.Routing.LoadBalancing;

/// <summary>Policy names (spelled as in YARP) and the factory that makes a policy instance for a cluster.</summary>
public static class LoadBalancingPolicies
{
    /// <summary>Two random destinations, the less loaded wins. The default.</summary>
    public const string PowerOfTwoChoices = nameof(PowerOfTwoChoices);

    /// <summary>Each destination in turn, in configuration order.</summary>
    public const string RoundRobin = nameof(RoundRobin);

    /// <summary>A uniformly random destination.</summary>
    public const string Random = nameof(Random);

    /// <summary>The least loaded destination; ties go to the first in configuration order.</summary>
    public const string LeastRequests = nameof(LeastRequests);

    /// <summary>The first destination by name, whatever the load (active/standby).</summary>
    public const string FirstAlphabetical = nameof(FirstAlphabetical);

    /// <summary>A hash ring on a request key, with bounded loads.</summary>
    public const string ConsistentHash = nameof(ConsistentHash);

    /// <summary>Locality-aware request distribution (Pai et al., ASPLOS'98), basic LARD.</summary>
    public const string Lard = nameof(Lard);

    /// <summary>The policy used when a cluster names none.</summary>
    public const string Default = PowerOfTwoChoices;

    /// <summary>All policy names, for help text and error messages.</summary>
    public static IReadOnlyList<string> Names { get; } =
        [PowerOfTwoChoices, RoundRobin, Random, LeastRequests, FirstAlphabetical, ConsistentHash, Lard];

    /// <summary>
    /// Makes a new policy instance (one per cluster; policies may hold state). Names match case-insensitively;
    /// null or empty means <see cref="Default"/>.
    /// </summary>
    /// <param name="name">A policy name, one of <see cref="Names"/>.</param>
    /// <param name="options">Policy settings; validated here.</param>
    /// <param name="time">Clock for time-based policies; no built-in policy reads it yet. Defaults to the system clock.</param>
    /// <param name="random">
    /// Random source: given n &gt; 0, returns an integer in [0, n). Must be thread-safe. Defaults to
    /// <see cref="System.Random.Shared"/>; tests pass a scripted one.
    /// </param>
    /// <exception cref="ArgumentException">The name is unknown or the options are invalid.</exception>
    public static ILoadBalancingPolicy Create(
        string? name, LoadBalancingOptions options, TimeProvider? time = null, Func<int, int>? random = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _ = time ?? TimeProvider.System; // accepted now so that wiring does not change when a time-based policy arrives
        random ??= System.Random.Shared.Next;
        if (string.IsNullOrWhiteSpace(name)) name = Default;
        return name.Trim().ToLowerInvariant() switch
        {
            "poweroftwochoices" => new PowerOfTwoChoicesPolicy(random),
            "roundrobin" => new RoundRobinPolicy(),
            "random" => new RandomPolicy(random),
            "leastrequests" => new LeastRequestsPolicy(),
            "firstalphabetical" => new FirstAlphabeticalPolicy(),
            "consistenthash" => new ConsistentHashPolicy(options),
            "lard" => new LardPolicy(options),
            _ => throw new ArgumentException(
                $"LoadBalancingPolicy: unknown policy '{name}'; expected one of {string.Join(", ", Names)}", nameof(name)),
        };
    }
}
