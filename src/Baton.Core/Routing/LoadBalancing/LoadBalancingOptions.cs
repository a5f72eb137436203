namespace Baton.Routing.LoadBalancing;

/// <summary>
/// Settings of the policies that have any. Init-only properties, so the configuration binder and
/// <c>with</c> expressions both work; <see cref="Validate"/> checks them (the factory calls it).
/// </summary>
public sealed record LoadBalancingOptions
{
    /// <summary>The default options.</summary>
    public static LoadBalancingOptions Default { get; } = new();

    /// <summary>
    /// What <see cref="LoadBalancingPolicies.ConsistentHash"/> hashes: <c>Path</c>, <c>Header:&lt;name&gt;</c>,
    /// <c>Cookie:&lt;name&gt;</c> or <c>ClientAddress</c>. When the header or cookie is absent the client's
    /// address is hashed instead, so one client still lands on one destination.
    /// </summary>
    public string HashKey { get; init; } = "Path";

    /// <summary>
    /// Bounded-load factor c of consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam):
    /// no destination takes a request while its load is at or above ceil(c · (total load + 1) / n).
    /// Must be at least 1; null disables the bound (plain consistent hashing).
    /// </summary>
    public double? HashLoadFactor { get; init; } = 1.25;

    /// <summary>Points per destination on the hash ring; more points spread keys more evenly.</summary>
    public int HashVirtualNodes { get; init; } = 160;

    /// <summary>LARD's T_high: a target leaves a server whose load is above this if some server is below <see cref="LardLow"/>.</summary>
    public int LardHigh { get; init; } = 8;

    /// <summary>LARD's T_low: a server below this load is considered idle enough to take over a target.</summary>
    public int LardLow { get; init; } = 2;

    /// <summary>
    /// How much of the path makes a LARD target: 0 for the whole path, k for its first k segments
    /// (with 1, <c>/img/a.png</c> and <c>/img/b.png</c> are the same target <c>/img</c>).
    /// </summary>
    public int LardPathDepth { get; init; }

    /// <summary>
    /// Most targets LARD remembers. Clients choose paths, so the map must be bounded; when it is full it
    /// is cleared and targets are re-bound as they are requested again.
    /// </summary>
    public int LardMaxTargets { get; init; } = 65536;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        _ = HashKeySource.Parse(HashKey);
        if (HashLoadFactor is { } f && !(f >= 1))
            throw new ArgumentException($"LoadBalancing: HashLoadFactor must be at least 1 (or unset to disable the bound), not {f}");
        if (HashVirtualNodes < 1)
            throw new ArgumentException($"LoadBalancing: HashVirtualNodes must be at least 1, not {HashVirtualNodes}");
        if (LardLow < 0 || LardHigh < LardLow)
            throw new ArgumentException($"LoadBalancing: LARD thresholds need 0 <= LardLow <= LardHigh, not LardLow={LardLow}, LardHigh={LardHigh}");
        if (LardPathDepth < 0)
            throw new ArgumentException($"LoadBalancing: LardPathDepth must be 0 (whole path) or more, not {LardPathDepth}");
        if (LardMaxTargets < 1)
            throw new ArgumentException($"LoadBalancing: LardMaxTargets must be at least 1, not {LardMaxTargets}");
    }
}
