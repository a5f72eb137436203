using System.Collections.Concurrent;
using System.Net.Sockets;
using Baton.Health;
using Baton.Http;
using Baton.Routing;
using Baton.Routing.LoadBalancing;
using Microsoft.Extensions.Logging;
using Baton.Modes;

namespace Baton.Router;

/// <summary>
/// The routing node: accepts client connections on the VIP, reads each request head, picks a
/// route and a destination, and moves the connection there for the transaction.
/// </summary>
public sealed class RouterHost(RouterOptions options, ILoggerFactory loggers)
{
    private readonly ILogger _log = loggers.CreateLogger("Baton.Router");
    // One target per destination name, whatever its mechanism; made when a configuration first names it.
    private readonly ConcurrentDictionary<string, ITransferTarget> _targets = new(StringComparer.Ordinal);
    // Load belongs to the back-end, not the cluster: one state per destination, shared by clusters.
    private readonly ConcurrentDictionary<string, DestinationState> _load = new(StringComparer.Ordinal);
    private readonly object _reloadGate = new();
    private volatile RoutingState _routing = null!;
    // What a destination's target was made for: a reload may not move the name elsewhere.
    private readonly ConcurrentDictionary<string, (TransferMode Mode, string Address)> _bound = new(StringComparer.Ordinal);
    private ModeRegistry _modes = null!;
    private ActiveHealthProber? _prober;

    internal RouterOptions Options => options;

    /// <summary>The routes in force; a reload swaps the whole snapshot at once.</summary>
    internal RouteTable Routes => _routing.Table;

    /// <summary>Routes with a balancing policy instance and the health per cluster: swapped whole, never edited.</summary>
    private sealed record RoutingState(RouteTable Table, IReadOnlyDictionary<string, ILoadBalancingPolicy> Policies,
        IReadOnlyDictionary<string, ClusterHealth> Health);
    internal ILogger Log => _log;


    /// <summary>Runs until <paramref name="ct"/> is cancelled; removes its steering table on the way out.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        // Each mode's machinery starts only when a cluster uses it: a router with local and relay
        // clusters only needs no privilege, no steering table and no key. Stopped last.
        await using var modes = _modes = new ModeRegistry(options, loggers, _log);
        modes.StartFor(options.Routes);
        await using var prober = _prober = new ActiveHealthProber(TimeProvider.System, loggers.CreateLogger("Baton.Health"));
        foreach (var w in options.Warnings) RouterLog.ConfigWarning(_log, w);
        Apply(options.Routes);
        using var watcher = WatchConfig();

        using var listener = new Socket(options.Listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(options.Listen);
        listener.Listen(1024);
        RouterLog.Listening(_log, options.Listen, options.Routes.Routes.Count, _targets.Count);
        var connections = new ConcurrentDictionary<Task, byte>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                Socket client;
                try { client = await listener.AcceptAsync(ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                client.NoDelay = true;
                var task = Task.Run(() => new RouterConnection(this, client).RunAsync(ct));
                connections[task] = 0;
                _ = task.ContinueWith(t => connections.TryRemove(t, out _), TaskScheduler.Default);
            }
        }
        finally
        {
            listener.Dispose();
            try { await Task.WhenAll(connections.Keys).WaitAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false); }
            catch (Exception) { }
            foreach (var t in _targets.Values)
                if (t is IAsyncDisposable d) await d.DisposeAsync().ConfigureAwait(false);
            if (options.TimingsFile is { } file) _modes.WriteTimings(file);
        }
    }

    /// <summary>
    /// Picks a healthy destination of <paramref name="cluster"/> with the cluster's policy, or null
    /// (503). The caller holds the returned lease while the connection is away at that destination.
    /// </summary>
    /// <remarks><paramref name="exclude"/>: destinations already tried for this request (a retry).</remarks>
    internal (ITransferTarget Target, DestinationLease Lease)? PickDestination(Cluster cluster, RequestHead request, System.Net.IPEndPoint client,
        IReadOnlyCollection<string>? exclude = null)
    {
        var routing = _routing;
        // The cluster may have been removed by a reload meanwhile.
        if (!routing.Policies.TryGetValue(cluster.Id, out var policy) || !routing.Health.TryGetValue(cluster.Id, out var health)) return null;
        var available = health.Available(_targets, _load);
        if (exclude is { Count: > 0 }) available.RemoveAll(d => exclude.Contains(d.Name));
        var picked = policy.Pick(new BalancingContext(request, client), available);
        return picked is null ? null : (_targets[picked.Name], picked.Acquire());
    }

    /// <summary>
    /// Counts a transaction's result towards the passive health of <paramref name="destination"/> in
    /// <paramref name="cluster"/>: <paramref name="served"/> false (the router answered 5xx for it) is a failure.
    /// </summary>
    internal void Report(Cluster cluster, string destination, bool served)
    {
        if (_routing.Health.GetValueOrDefault(cluster.Id)?[destination] is not { } health) return;
        if (served) health.RecordSuccess();
        else if (health.RecordFailure())
            HealthLog.Deactivated(_log, cluster.Id, destination,
                health.PassiveOptions.ReactivationPeriod ?? PassiveHealthCheckOptions.DefaultReactivationPeriod, health.PassiveOptions.Fall);
    }

    /// <summary>
    /// Puts <paramref name="table"/> in force: targets for destinations it adds are made (agent
    /// links start connecting), a policy is made per cluster, and the whole snapshot is swapped at
    /// once. Connections mid-request keep the cluster they were given. Targets of destinations a
    /// reload removes stay until stop.
    /// </summary>
    private void Apply(RouteTable table)
    {
        lock (_reloadGate)
        {
            // Check everything before changing anything: a rejected reload leaves no trace.
            var added = new List<(ITransferMode Mode, Cluster Cluster, Destination Destination)>();
            foreach (var c in table.Clusters.Values.Where(c => c.Transfer != TransferMode.Router))
            {
                var mode = _modes.For(c);
                foreach (var d in c.Destinations)
                {
                    if (_bound.TryGetValue(d.Name, out var bound))
                    {
                        if (bound != (c.Transfer, d.Address))
                            throw new ConfigException($"ReverseProxy:Clusters: destination '{d.Name}' changed to {c.Transfer.ToString().ToLowerInvariant()} {d.Address}; restart the router to change it");
                    }
                    else if (!added.Any(a => a.Destination.Name == d.Name)) added.Add((mode, c, d));
                }
            }
            foreach (var (mode, c, d) in added)
            {
                _targets[d.Name] = mode.CreateTarget(c, d);
                _bound[d.Name] = (c.Transfer, d.Address);
                _load[d.Name] = new DestinationState(d.Name);
            }
            var policies = table.Clusters.Values
                .Where(c => c.Transfer != TransferMode.Router)
                .ToDictionary(c => c.Id, c => LoadBalancingPolicies.Create(c.LoadBalancingPolicy, c.LoadBalancing ?? LoadBalancingOptions.Default), StringComparer.OrdinalIgnoreCase);
            // A destination keeps its health across a reload unless its probe address or thresholds changed.
            var previous = ((RoutingState?)_routing)?.Health;
            var health = table.Clusters.Values
                .Where(c => c.Transfer != TransferMode.Router)
                .ToDictionary(c => c.Id, c => ClusterHealth.For(c, previous?.GetValueOrDefault(c.Id), TimeProvider.System), StringComparer.OrdinalIgnoreCase);
            _routing = new RoutingState(table, policies, health);
            _prober?.Apply(health.Values);
        }
    }

    /// <summary>Watches the configuration file; a valid new version is applied whole, an invalid one is logged and ignored.</summary>
    private IDisposable? WatchConfig()
    {
        if (options.ConfigFile is not { } file) return null;
        var full = Path.GetFullPath(file);
        var watcher = new FileSystemWatcher(Path.GetDirectoryName(full)!, Path.GetFileName(full))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size,
        };
        Timer? debounce = null;
        void Changed(object? _, FileSystemEventArgs __)
        {
            // Editors write in several steps: act once the file has been quiet for a moment.
            debounce?.Dispose();
            debounce = new Timer(_ => Reload(full), null, TimeSpan.FromMilliseconds(300), Timeout.InfiniteTimeSpan);
        }
        watcher.Changed += Changed;
        watcher.Created += Changed;
        watcher.Renamed += (s, e) => Changed(s, e);
        watcher.EnableRaisingEvents = true;
        return watcher;
    }

    private void Reload(string file)
    {
        try
        {
            var loaded = RouterConfig.Load(file);
            if (!loaded.Listen.Equals(options.Listen) || loaded.Interface != options.Interface || loaded.WorkerSocket != options.WorkerSocket
                || loaded.Steering != options.Steering || loaded.HoldQueue != options.HoldQueue)
                RouterLog.ReloadPartial(_log, "Baton:Listen, Baton:Interface, Baton:Steering, Baton:HoldQueue and Baton:WorkerSocket changes need a restart");
            Apply(loaded.Routes);
            RouterLog.Reloaded(_log, file, loaded.Routes.Routes.Count);
            foreach (var w in loaded.Warnings) RouterLog.ConfigWarning(_log, w);
        }
        catch (Exception e) when (e is ConfigException or IOException or ArgumentException)
        {
            RouterLog.ReloadRejected(_log, file, e.Message);
        }
    }

}
