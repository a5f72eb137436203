namespace Baton.Routing.LoadBalancing;

/// <summary>
/// Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, SODA'18): each destination
/// owns <see cref="LoadBalancingOptions.HashVirtualNodes"/> points on a 64-bit ring; a request's key hashes to
/// a point and goes to the owner of the next point clockwise whose load is below
/// ceil(factor · (total load + 1) / n). Keys move only when the set of destinations changes (removing one
/// moves only its keys; adding one takes about 1/n of the keys), or while their home is over the bound.
/// </summary>
public sealed class ConsistentHashPolicy : ILoadBalancingPolicy
{
    private readonly HashKeySource _key;
    private readonly double? _factor;
    private readonly int _virtualNodes;

    // The ring for the last seen set of available destinations. Health changes are rare, so the ring is
    // rebuilt only when the set differs; it is immutable, so concurrent picks share it without locking.
    private volatile Ring? _ring;

    /// <summary>Creates the policy from the Hash* settings of <paramref name="options"/>.</summary>
    public ConsistentHashPolicy(LoadBalancingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _key = HashKeySource.Parse(options.HashKey);
        _factor = options.HashLoadFactor;
        _virtualNodes = options.HashVirtualNodes;
    }

    /// <inheritdoc />
    public string Name => LoadBalancingPolicies.ConsistentHash;

    /// <inheritdoc />
    public DestinationState? Pick(in BalancingContext context, IReadOnlyList<DestinationState> available)
    {
        int n = available.Count;
        if (n == 0) return null;
        if (n == 1) return available[0];

        var ring = _ring;
        if (ring is null || !ring.IsFor(available)) _ring = ring = new Ring(available, _virtualNodes);

        int capacity = int.MaxValue;
        if (_factor is { } factor)
        {
            long total = 0;
            for (int i = 0; i < n; i++) total += available[i].ActiveRequests;
            capacity = (int)Math.Min(int.MaxValue, Math.Ceiling(factor * (total + 1) / n));
        }

        int start = ring.Find(_key.Hash(context));
        for (int k = 0; k < ring.Owners.Length; k++)
        {
            var d = available[ring.Owners[(start + k) % ring.Owners.Length]];
            // "Below capacity" rather than "at most": taking this request must not push it over the bound.
            // With factor >= 1 some destination is always below it (the loads sum to less than n · capacity).
            if (d.ActiveRequests < capacity) return d;
        }
        // Only reachable when loads changed while we walked the ring; any answer is acceptable then.
        return LeastRequestsPolicy.LeastLoaded(available);
    }

    /// <summary>Sorted ring points and the index (into the available list) of each point's owner.</summary>
    private sealed class Ring
    {
        private readonly string[] _names;
        private readonly ulong[] _points;
        internal readonly int[] Owners;

        internal Ring(IReadOnlyList<DestinationState> available, int virtualNodes)
        {
            _names = new string[available.Count];
            var entries = new (ulong Point, string Name, int Owner)[available.Count * virtualNodes];
            for (int i = 0; i < available.Count; i++)
            {
                _names[i] = available[i].Name;
                // Points depend on the name only, never on the position in the list, so a destination's
                // points stay put when others come and go or the configuration is reordered.
                for (int v = 0; v < virtualNodes; v++)
                    entries[i * virtualNodes + v] = (StableHash.Of($"{_names[i]}#{v}"), _names[i], i);
            }
            // Ties (a 64-bit collision) are broken by name so the ring does not depend on list order either.
            Array.Sort(entries, static (a, b) =>
                a.Point != b.Point ? a.Point.CompareTo(b.Point) : string.CompareOrdinal(a.Name, b.Name));
            _points = new ulong[entries.Length];
            Owners = new int[entries.Length];
            for (int j = 0; j < entries.Length; j++) (_points[j], Owners[j]) = (entries[j].Point, entries[j].Owner);
        }

        internal bool IsFor(IReadOnlyList<DestinationState> available)
        {
            if (available.Count != _names.Length) return false;
            for (int i = 0; i < _names.Length; i++)
                if (!string.Equals(available[i].Name, _names[i], StringComparison.Ordinal)) return false;
            return true;
        }

        /// <summary>Index of the first point at or after <paramref name="hash"/>, wrapping to 0.</summary>
        internal int Find(ulong hash)
        {
            int i = Array.BinarySearch(_points, hash);
            if (i < 0) i = ~i;
            return i == _points.Length ? 0 : i;
        }
    }
}
