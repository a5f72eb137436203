using Baton.Configuration;
using Baton.Modes;
using Baton.Routing;
using Microsoft.Extensions.Logging;

namespace Baton.Router;

/// <summary>
/// The transfer modes a router runs: each is started when a cluster first uses it, and stopped in
/// the reverse order at the end. Which modes exist is <see cref="ModeCatalog"/>'s; this starts them.
/// </summary>
internal sealed class ModeRegistry : IAsyncDisposable
{
    private readonly ModeStart _start;
    private readonly Dictionary<TransferMode, ITransferMode> _started = [];
    private readonly List<ITransferMode> _startOrder = [];
    private readonly object _gate = new();
    private bool _routerStarted;

    public ModeRegistry(RouterOptions options, ILoggerFactory loggers, ILogger log, RouterStopping? stopping = null, IConnectionAdopter? adopter = null) =>
        _start = new ModeStart(options, loggers, log, Get<ITransferMode>, stopping, adopter);

    /// <summary>Starts every mode <paramref name="table"/>, the router's first configuration, uses (and what those are made of).</summary>
    public void StartFor(RouteTable table)
    {
        foreach (var c in table.Clusters.Values)
            if (!c.Transfer.ServedByTheRouter) Get<ITransferMode>(c.Transfer);
        _routerStarted = true;
    }

    /// <summary>
    /// The mode that makes <paramref name="cluster"/>'s targets. Once the router runs, a mode that
    /// is not running yet starts only if neither it nor a mode it is made of needs the router's start.
    /// </summary>
    public ITransferMode For(Cluster cluster)
    {
        try
        {
            return Get<ITransferMode>(cluster.Transfer);
        }
        catch (NeedsRestartException e)
        {
            throw new ConfigException($"ReverseProxy:Clusters:{cluster.Id}: {cluster.Transfer} clusters added by a reload need a restart ({e.Message})");
        }
    }

    private sealed class NeedsRestartException(string why) : Exception(why);

    private T Get<T>(TransferMode mode) where T : ITransferMode
    {
        lock (_gate)
        {
            if (!_started.TryGetValue(mode, out var m))
            {
                if (_routerStarted && mode.StartsOnlyWithTheRouter is { } why) throw new NeedsRestartException(why);
                m = mode.Start(_start);
                _started[mode] = m;
                _startOrder.Add(m);
            }
            return (T)m;
        }
    }

    /// <summary>The running mode that can keep the router's own connections across a restart, if any.</summary>
    public IConnectionParking? Parking
    {
        get { lock (_gate) return _startOrder.OfType<IConnectionParking>().FirstOrDefault(); }
    }

    /// <summary>
    /// Writes each running mode's timings: the first (in <see cref="ModeCatalog.All"/> order) to
    /// <paramref name="file"/>, which <c>Baton.Bench</c> reads, any other next to it (<see cref="TimingsFileOf"/>).
    /// </summary>
    public void WriteTimings(string file)
    {
        bool first = true;
        foreach (var kind in ModeCatalog.All)
        {
            if (!_started.TryGetValue(kind, out var mode) || mode.Timings is not { } timings) continue;
            using var w = new StreamWriter(first ? file : TimingsFileOf(file, kind));
            w.WriteLine(timings.Header);
            foreach (var row in timings.Rows()) w.WriteLine(row);
            first = false;
        }
    }

    /// <summary>Where <paramref name="mode"/>'s timings go when another mode's have <paramref name="timingsFile"/>.</summary>
    public static string TimingsFileOf(string timingsFile, TransferMode mode) => $"{timingsFile}.{mode.Name}.csv";

    /// <summary>Stops the modes, the last started first (adaptive before the hand-off it is made of).</summary>
    public async ValueTask DisposeAsync()
    {
        for (int i = _startOrder.Count - 1; i >= 0; i--) await _startOrder[i].DisposeAsync().ConfigureAwait(false);
    }
}
