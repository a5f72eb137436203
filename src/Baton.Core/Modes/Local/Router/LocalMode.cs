using Baton.Configuration;
using System.Collections.Concurrent;
using Baton.Router;
using Baton.Routing;
using Microsoft.Extensions.Logging;

namespace Baton.Modes.Local.Router;

/// <summary>Local: the connection's socket passes to a worker process. Router-wide it listens on the worker socket.</summary>
internal sealed class LocalMode : ITransferMode
{
    private readonly WorkerRegistry _workers;
    private readonly LocalTransfer _transfer = new();
    private readonly ConcurrentQueue<LocalCycleTimings> _timings = new();
    private readonly bool _timed;

    private LocalMode(WorkerRegistry workers, bool timed)
    {
        _workers = workers;
        _timed = timed;
        if (timed) _transfer.OnCycle = _timings.Enqueue;
    }

    /// <summary>Starts listening for workers on <c>Baton:WorkerSocket</c>.</summary>
    public static LocalMode Start(RouterOptions options, ILoggerFactory loggers)
    {
        var path = options.WorkerSocket ?? throw new ConfigException("Baton:WorkerSocket: missing (local clusters need the Unix socket path workers register on)");
        var registry = new WorkerRegistry(path, loggers.CreateLogger("Baton.Local"), options.WorkerUid, options.WorkerGid);
        registry.Start();
        return new LocalMode(registry, options.TimingsFile is not null);
    }

    public ITransferTarget CreateTarget(Cluster cluster, Destination destination) => new LocalTarget(destination.Name, _workers, _transfer);

    public ModeTimings? Timings => _timed ? new ModeTimings(LocalCycleTimings.CsvHeader, () => _timings.Select(t => t.ToCsv())) : null;

    public ValueTask DisposeAsync() => _workers.DisposeAsync();
}
