namespace Baton.Routing.LoadBalancing;

/// <summary>
/// Basic locality-aware request distribution (LARD; Pai et al., ASPLOS'98). Each target (the request path,
/// or its first <see cref="LoadBalancingOptions.LardPathDepth"/> segments) is bound to one destination so
/// that destination's cache holds it; the binding moves to the least loaded destination only when
/// <list type="bullet">
/// <item>the target is unbound (or its destination is not available), or</item>
/// <item>its destination's load is above T_high while some destination is below T_low, or</item>
/// <item>its destination's load is at least 2·T_high (move even if nobody is idle).</item>
/// </list>
/// Load is <see cref="DestinationState.ActiveRequests"/>, which in hand-off mode includes connections away
/// at the back-end, i.e. what the back-end is actually serving.
/// </summary>
public sealed class LardPolicy : ILoadBalancingPolicy
{
    private readonly int _high;
    private readonly int _low;
    private readonly int _depth;
    private readonly int _maxTargets;
    private readonly Dictionary<string, string> _targets = new(StringComparer.Ordinal);

    // One lock around read-decide-rebind: the decision is a few comparisons, and without it two
    // concurrent first requests for a target could bind it to two different destinations in turn.
    private readonly Lock _gate = new();

    /// <summary>Creates the policy from the Lard* settings of <paramref name="options"/>.</summary>
    public LardPolicy(LoadBalancingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        (_high, _low, _depth, _maxTargets) = (options.LardHigh, options.LardLow, options.LardPathDepth, options.LardMaxTargets);
    }

    /// <inheritdoc />
    public string Name => LoadBalancingPolicies.Lard;

    /// <summary>Number of targets currently bound (for metrics and tests).</summary>
    public int TargetCount
    {
        get { lock (_gate) return _targets.Count; }
    }

    /// <inheritdoc />
    public DestinationState? Pick(in BalancingContext context, IReadOnlyList<DestinationState> available)
    {
        if (available.Count == 0) return null;
        string target = Target(context.Request.Path, _depth);
        lock (_gate)
        {
            DestinationState? bound = null;
            if (_targets.TryGetValue(target, out var name))
                for (int i = 0; i < available.Count && bound is null; i++)
                    if (string.Equals(available[i].Name, name, StringComparison.Ordinal)) bound = available[i];

            if (bound is not null && !ShouldMove(bound.ActiveRequests, available)) return bound;

            var chosen = LeastRequestsPolicy.LeastLoaded(available)!;
            // Clients choose paths, so the map is bounded; clearing loses locality briefly but costs nothing
            // per request, and targets still requested are re-bound on their next request.
            if (bound is null && _targets.Count >= _maxTargets) _targets.Clear();
            _targets[target] = chosen.Name;
            return chosen;
        }
    }

    private bool ShouldMove(int load, IReadOnlyList<DestinationState> available)
    {
        if (load >= 2 * _high) return true;
        if (load <= _high) return false;
        for (int i = 0; i < available.Count; i++)
            if (available[i].ActiveRequests < _low) return true;
        return false;
    }

    /// <summary>The path, or its first <paramref name="depth"/> segments (<c>/a/b/c</c>, 2 → <c>/a/b</c>); 0 is the whole path.</summary>
    internal static string Target(string path, int depth)
    {
        if (depth <= 0) return path;
        int seen = 0;
        for (int i = 1; i < path.Length; i++)
            if (path[i] == '/' && ++seen == depth) return path[..i];
        return path;
    }
}
