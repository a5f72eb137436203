using Baton.Configuration;
using System.Collections.Concurrent;
using Baton.Routing;

namespace Baton.Router;

/// <summary>
/// The router's back-ends by name, one <see cref="DestinationRuntime"/> each, made when a
/// configuration first names them. One a reload removes retires: a connection still away at it
/// comes back through its target, and the destination goes when nothing is left at it.
/// </summary>
internal sealed class DestinationRegistry : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, DestinationRuntime> _byName = new(StringComparer.Ordinal);

    private int _disposed;

    public int Count => _byName.Count;

    public DestinationRuntime this[string name] => _byName[name];

    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out DestinationRuntime destination) =>
        _byName.TryGetValue(name, out destination);

    /// <summary>
    /// Makes the destinations <paramref name="table"/> adds, through the mode of the cluster that
    /// first lists each. Checks everything before making anything: a table that moves a known name
    /// to another mode or address is refused whole (<see cref="ConfigException"/>), with no trace.
    /// </summary>
    public void Add(RouteTable table, ModeRegistry modes)
    {
        var added = new List<(Modes.ITransferMode Mode, Cluster Cluster, Destination Destination)>();
        foreach (var c in table.Clusters.Values.Where(c => !c.Transfer.ServedByTheRouter))
        {
            var mode = modes.For(c);
            foreach (var d in c.Destinations)
            {
                if (_byName.TryGetValue(d.Name, out var known))
                {
                    if (known.Mode != c.Transfer || known.Address != d.Address)
                        throw new ConfigException($"ReverseProxy:Clusters: destination '{d.Name}' changed to {c.Transfer} {d.Address}; restart the router to change it");
                }
                else if (!added.Any(a => a.Destination.Name == d.Name)) added.Add((mode, c, d));
            }
        }
        foreach (var (mode, c, d) in added)
            _byName[d.Name] = new DestinationRuntime(d.Name, c.Transfer, d.Address, mode.CreateTarget(c, d));
    }

    /// <summary>
    /// Marks the destinations <paramref name="table"/> no longer names as retiring, and those it
    /// names (again) as not. Under the router's reload lock, after <see cref="Add"/>.
    /// </summary>
    public void Retire(RouteTable table)
    {
        var named = table.Clusters.Values.SelectMany(c => c.Destinations).Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var d in _byName.Values) d.Retiring = !named.Contains(d.Name);
    }

    /// <summary>
    /// Takes out the retiring destinations that nothing is at any more, and returns them for the
    /// caller to stop (outside its lock). Under the router's reload lock: a reload naming one again
    /// meanwhile keeps it.
    /// </summary>
    public List<DestinationRuntime> RemoveRetired()
    {
        var gone = new List<DestinationRuntime>();
        foreach (var d in _byName.Values)
            if (d.Retiring && d.Idle && _byName.TryRemove(KeyValuePair.Create(d.Name, d))) gone.Add(d);
        return gone;
    }

    /// <summary>Stops one destination's target (its agent link, its relay pool).</summary>
    public static async ValueTask StopAsync(DestinationRuntime d)
    {
        if (d.Target is IAsyncDisposable target) await target.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Stops every target (agent links, relay pools), after the connections have ended.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var d in _byName.Values)
            if (d.Target is IAsyncDisposable target) await target.DisposeAsync().ConfigureAwait(false);
    }
}
