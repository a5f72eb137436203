namespace Baton.Routing.LoadBalancing;

/// <summary>
/// Power of two choices (Mitzenmacher): pick two distinct destinations at random and take the less loaded.
/// Nearly as even as least-requests but without every request piling onto the same momentarily idle
/// destination, which is what happens when many routers (or many connections at once) read the same loads.
/// </summary>
public sealed class PowerOfTwoChoicesPolicy : ILoadBalancingPolicy
{
    private readonly Func<int, int> _random;

    /// <summary>Creates the policy with a random source returning an integer in [0, n).</summary>
    public PowerOfTwoChoicesPolicy(Func<int, int>? random = null) => _random = random ?? Random.Shared.Next;

    /// <inheritdoc />
    public string Name => LoadBalancingPolicies.PowerOfTwoChoices;

    /// <inheritdoc />
    public DestinationState? Pick(in BalancingContext context, IReadOnlyList<DestinationState> available)
    {
        int n = available.Count;
        if (n == 0) return null;
        if (n == 1) return available[0];
        int first = _random(n);
        // Draw the second from the other n-1 so the two choices are always distinct (no wasted draw).
        int second = _random(n - 1);
        if (second >= first) second++;
        var a = available[first];
        var b = available[second];
        return b.ActiveRequests < a.ActiveRequests ? b : a;
    }
}

/// <summary>Each destination in turn, in configuration order, starting with the first.</summary>
public sealed class RoundRobinPolicy : ILoadBalancingPolicy
{
    private int _next = -1;

    /// <inheritdoc />
    public string Name => LoadBalancingPolicies.RoundRobin;

    /// <inheritdoc />
    public DestinationState? Pick(in BalancingContext context, IReadOnlyList<DestinationState> available)
    {
        int n = available.Count;
        if (n == 0) return null;
        // Unsigned modulo so the counter can wrap past int.MaxValue without a negative index.
        uint i = (uint)Interlocked.Increment(ref _next);
        return available[(int)(i % (uint)n)];
    }
}

/// <summary>A uniformly random destination.</summary>
public sealed class RandomPolicy : ILoadBalancingPolicy
{
    private readonly Func<int, int> _random;

    /// <summary>Creates the policy with a random source returning an integer in [0, n).</summary>
    public RandomPolicy(Func<int, int>? random = null) => _random = random ?? Random.Shared.Next;

    /// <inheritdoc />
    public string Name => LoadBalancingPolicies.Random;

    /// <inheritdoc />
    public DestinationState? Pick(in BalancingContext context, IReadOnlyList<DestinationState> available) =>
        available.Count == 0 ? null : available[_random(available.Count)];
}

/// <summary>The destination with the fewest active requests; ties go to the first in configuration order.</summary>
public sealed class LeastRequestsPolicy : ILoadBalancingPolicy
{
    /// <inheritdoc />
    public string Name => LoadBalancingPolicies.LeastRequests;

    /// <inheritdoc />
    public DestinationState? Pick(in BalancingContext context, IReadOnlyList<DestinationState> available) =>
        LeastLoaded(available);

    /// <summary>The least loaded destination, first in order on ties; null if none.</summary>
    internal static DestinationState? LeastLoaded(IReadOnlyList<DestinationState> available)
    {
        DestinationState? best = null;
        int bestLoad = int.MaxValue;
        for (int i = 0; i < available.Count; i++)
        {
            // Read each counter once: it may change between a comparison and the assignment.
            int load = available[i].ActiveRequests;
            if (best is null || load < bestLoad) (best, bestLoad) = (available[i], load);
        }
        return best;
    }
}

/// <summary>
/// The first destination by name (ordinal, ignoring case), whatever the load: an active/standby setup
/// where the standby only takes traffic while the first is unhealthy.
/// </summary>
public sealed class FirstAlphabeticalPolicy : ILoadBalancingPolicy
{
    /// <inheritdoc />
    public string Name => LoadBalancingPolicies.FirstAlphabetical;

    /// <inheritdoc />
    public DestinationState? Pick(in BalancingContext context, IReadOnlyList<DestinationState> available)
    {
        DestinationState? best = null;
        foreach (var d in available)
            if (best is null || Compare(d.Name, best.Name) < 0) best = d;
        return best;
    }

    // Case-insensitive as YARP, then ordinal so names differing only in case still order deterministically.
    private static int Compare(string a, string b)
    {
        int c = string.Compare(a, b, StringComparison.OrdinalIgnoreCase);
        return c != 0 ? c : string.CompareOrdinal(a, b);
    }
}
