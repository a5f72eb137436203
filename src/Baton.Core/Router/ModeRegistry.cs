using Baton.Configuration;
using Baton.Modes;
using Baton.Modes.Adaptive;
using Baton.Modes.Handoff.Router;
using Baton.Modes.Local.Router;
using Baton.Modes.Relay;
using Baton.Routing;
using Microsoft.Extensions.Logging;

namespace Baton.Router;

/// <summary>
/// The transfer modes a router runs: each is started when a cluster first uses it, and stopped in
/// the reverse order at the end. The one place that names every mode: adding one is a line in
/// <see cref="Registrations"/>.
/// </summary>
internal sealed class ModeRegistry(RouterOptions options, ILoggerFactory loggers, ILogger log) : IAsyncDisposable
{
    private RouterOptions Options => options;
    private ILoggerFactory Loggers => loggers;
    private ILogger Log => log;

    /// <summary>
    /// How to start a mode, and what it needs that only a restart can give (null: it starts at any
    /// time, also when a reload first names it).
    /// </summary>
    private sealed record Registration(TransferMode Mode, Func<ModeRegistry, ITransferMode> Start, string? StartsOnlyWithTheRouter);

    // In this order a mode's timings claim Baton:TimingsFile (the first) or go next to it.
    private static readonly Registration[] Registrations =
    [
        new(TransferMode.Handoff, r => HandoffMode.Start(r.Options, r.Log), "the router started without steering"),
        new(TransferMode.Local, r => LocalMode.Start(r.Options, r.Loggers), "the router started without a worker socket"),
        new(TransferMode.Relay, r => new RelayMode(r.Options.Relay, r.Loggers), null),
        new(TransferMode.Adaptive, r => new AdaptiveMode(r.Get<HandoffMode>(TransferMode.Handoff), r.Get<RelayMode>(TransferMode.Relay)), null),
    ];

    private readonly Dictionary<TransferMode, ITransferMode> _started = [];
    private readonly List<ITransferMode> _startOrder = [];
    private readonly object _gate = new();
    private bool _routerStarted;

    /// <summary>Starts every mode <paramref name="table"/>, the router's first configuration, uses (and what those are made of).</summary>
    public void StartFor(RouteTable table)
    {
        foreach (var c in table.Clusters.Values)
            if (c.Transfer != TransferMode.Router) Get<ITransferMode>(c.Transfer);
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
            throw new ConfigException($"ReverseProxy:Clusters:{cluster.Id}: {Name(cluster.Transfer)} clusters added by a reload need a restart ({e.Message})");
        }
    }

    private sealed class NeedsRestartException(string why) : Exception(why);

    private T Get<T>(TransferMode mode) where T : ITransferMode
    {
        lock (_gate)
        {
            if (!_started.TryGetValue(mode, out var m))
            {
                var registration = Find(mode);
                if (_routerStarted && registration.StartsOnlyWithTheRouter is { } why) throw new NeedsRestartException(why);
                m = registration.Start(this);
                _started[mode] = m;
                _startOrder.Add(m);
            }
            return (T)m;
        }
    }

    private static Registration Find(TransferMode mode) =>
        Registrations.FirstOrDefault(r => r.Mode == mode) ?? throw new ArgumentOutOfRangeException(nameof(mode), mode, "the router serves these itself");

    private static string Name(TransferMode mode) => mode.ToString().ToLowerInvariant();

    /// <summary>
    /// Writes each running mode's timings: the first (in <see cref="Registrations"/> order) to
    /// <paramref name="file"/>, which <c>Baton.Bench</c> reads, any other next to it (<see cref="TimingsFileOf"/>).
    /// </summary>
    public void WriteTimings(string file)
    {
        bool first = true;
        foreach (var r in Registrations)
        {
            if (!_started.TryGetValue(r.Mode, out var mode) || mode.Timings is not { } timings) continue;
            using var w = new StreamWriter(first ? file : TimingsFileOf(file, r.Mode));
            w.WriteLine(timings.Header);
            foreach (var row in timings.Rows()) w.WriteLine(row);
            first = false;
        }
    }

    /// <summary>Where <paramref name="mode"/>'s timings go when another mode's have <paramref name="timingsFile"/>.</summary>
    public static string TimingsFileOf(string timingsFile, TransferMode mode) => $"{timingsFile}.{Name(mode)}.csv";

    /// <summary>Stops the modes, the last started first (adaptive before the hand-off it is made of).</summary>
    public async ValueTask DisposeAsync()
    {
        for (int i = _startOrder.Count - 1; i >= 0; i--) await _startOrder[i].DisposeAsync().ConfigureAwait(false);
    }
}
