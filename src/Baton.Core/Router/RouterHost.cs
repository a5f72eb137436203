using System.Collections.Concurrent;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Baton.Health;
using Baton.Http;
using Baton.Routing;
using Baton.Routing.LoadBalancing;
using Baton.Steering;
using Baton.Steering.Bpf;
using Microsoft.Extensions.Logging;
using Baton.Modes;
using Baton.Modes.Adaptive;
using Baton.Modes.Handoff.Repair;
using Baton.Modes.Handoff.Router;
using Baton.Modes.Local.Router;
using Baton.Modes.Relay;

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
    private IFlowSteering? _steering;
    private WorkerRegistry? _workers;
    private readonly LocalTransfer _local = new();
    // One table for the whole router: a URL's response size does not depend on who serves it.
    private readonly ResponseSizeHints _sizeHints = new();
    private readonly ConcurrentQueue<HandoffTimings> _timings = new();
    private readonly ConcurrentQueue<LocalCycleTimings> _localTimings = new();
    private ActiveHealthProber? _prober;

    internal RouterOptions Options => options;

    /// <summary>The routes in force; a reload swaps the whole snapshot at once.</summary>
    internal RouteTable Routes => _routing.Table;

    /// <summary>Routes with a balancing policy instance and the health per cluster: swapped whole, never edited.</summary>
    private sealed record RoutingState(RouteTable Table, IReadOnlyDictionary<string, ILoadBalancingPolicy> Policies,
        IReadOnlyDictionary<string, ClusterHealth> Health);
    internal ILogger Log => _log;
    private HandoffTransfer? _handoff;


    /// <summary>Runs until <paramref name="ct"/> is cancelled; removes its steering table on the way out.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        // Each mechanism's machinery starts only when a cluster uses it: a router with local and
        // relay clusters only needs no privilege, no steering table and no key.
        using var steering = options.Routes.Clusters.Values.Any(c => c.Transfer.HandsOff()) ? StartSteering() : null;
        await using var workers = Uses(options.Routes, TransferMode.Local) ? StartWorkers() : null;
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
            WriteTimings();
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
            var added = new List<(Cluster Cluster, Destination Destination)>();
            foreach (var c in table.Clusters.Values.Where(c => c.Transfer != TransferMode.Router))
            {
                if (c.Transfer.HandsOff() && _handoff is null)
                    throw new ConfigException($"ReverseProxy:Clusters:{c.Id}: handoff clusters added by a reload need a restart (the router started without steering)");
                if (c.Transfer == TransferMode.Local && _workers is null)
                    throw new ConfigException($"ReverseProxy:Clusters:{c.Id}: local clusters added by a reload need a restart (the router started without a worker socket)");
                foreach (var d in c.Destinations)
                {
                    if (_targets.TryGetValue(d.Name, out var existing))
                    {
                        if (Describe(existing) != (c.Transfer, d.Address))
                            throw new ConfigException($"ReverseProxy:Clusters: destination '{d.Name}' changed to {c.Transfer.ToString().ToLowerInvariant()} {d.Address}; restart the router to change it");
                    }
                    else if (!added.Any(a => a.Destination.Name == d.Name)) added.Add((c, d));
                }
            }
            foreach (var (c, d) in added)
            {
                _targets[d.Name] = MakeTarget(c, d);
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

    private ITransferTarget MakeTarget(Cluster c, Destination d)
    {
        switch (c.Transfer)
        {
            case TransferMode.Handoff:
                return MakeHandoff(d);
            case TransferMode.Local:
                return new LocalTarget(d.Name, _workers!, _local);
            case TransferMode.Relay:
                return MakeRelay(c, d);
            case TransferMode.Adaptive:
                // A destination listed by several adaptive clusters takes the first one's threshold
                // (a name is one back-end, reached one way: RouterConfig checks the addresses agree).
                return new AdaptiveTarget(MakeRelay(c, d), MakeHandoff(d), _sizeHints, c.Adaptive ?? AdaptiveOptions.Default);
            default:
                throw new ArgumentOutOfRangeException(nameof(c), c.Transfer, "the router serves these itself");
        }
    }

    private HandoffTarget MakeHandoff(Destination d)
    {
        var link = new AgentLink(d.Name, d.ControlEndpoint!, options.Key!, _steering!, _log, options.CloseGrace);
        link.Start();
        return new HandoffTarget(link, _handoff!);
    }

    private RelayTarget MakeRelay(Cluster c, Destination d)
    {
        // YARP's ReactivationPeriod, when the cluster gives one, is also how long relay's own
        // connect-failure health keeps the origin out.
        var relay = c.HealthCheck?.Passive is { Enabled: true, ReactivationPeriod: { } period }
            ? options.Relay with { UnhealthyCooldown = period }
            : options.Relay;
        return new RelayTarget(d.Name, d.Url!, relay, loggers.CreateLogger("Baton.Relay"));
    }

    private static (TransferMode, string) Describe(ITransferTarget t) => t switch
    {
        HandoffTarget h => (TransferMode.Handoff, h.Link.Endpoint.ToString()),
        LocalTarget => (TransferMode.Local, new Destination(t.Name).Address),
        RelayTarget r => (TransferMode.Relay, r.Origin.ToString()),
        AdaptiveTarget a => (TransferMode.Adaptive, ((HandoffTarget)a.Handoff).Link.Endpoint.ToString()),
        _ => throw new InvalidOperationException(t.GetType().Name),
    };

    private IFlowSteering StartSteering()
    {
        TcpRepair.EnsurePrivilege();
        var iface = options.Interface ?? throw new ConfigException("Baton:Interface: missing (handoff clusters steer packets on the router's client-facing interface)");
        var steering = OpenSteering(iface, InterfaceMac(iface));
        _steering = steering;
        _handoff = new HandoffTransfer(steering, options.HandoffTimeout, _log);
        if (options.TimingsFile is not null) _handoff.OnCycle = _timings.Enqueue;
        return steering;
    }

    // The one place that knows there are two implementations. A crashed run of the other kind may
    // have left its state on the interface: removed too, or its stale entries would still act.
    private IFlowSteering OpenSteering(string iface, PhysicalAddress mac)
    {
        if (options.Steering != SteeringKind.NfTables)
        {
            try
            {
                var bpf = new BpfFlowSteering(iface, options.Listen, mac, options.HoldQueue ? Steering.Hold.HoldLimits.Default : null);
                NftFlowSteering.RemoveStale();
                if (bpf.HoldUnavailable is { } why) RouterLog.HoldQueueUnavailable(_log, why);
                return bpf;
            }
            catch (SteeringException e) when (options.Steering == SteeringKind.Auto)
            {
                RouterLog.SteeringFallback(_log, e.Message);
            }
        }
        BpfFlowSteering.RemoveStale(iface);
        if (options.HoldQueue) RouterLog.HoldQueueUnavailable(_log, "nftables steering has none");
        return new NftFlowSteering(iface, options.Listen, mac);
    }

    private WorkerRegistry StartWorkers()
    {
        var path = options.WorkerSocket ?? throw new ConfigException("Baton:WorkerSocket: missing (local clusters need the Unix socket path workers register on)");
        var registry = new WorkerRegistry(path, loggers.CreateLogger("Baton.Local"), options.WorkerUid, options.WorkerGid);
        registry.Start();
        _workers = registry;
        if (options.TimingsFile is not null) _local.OnCycle = _localTimings.Enqueue;
        return registry;
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

    private static bool Uses(RouteTable table, TransferMode mode) => table.Clusters.Values.Any(c => c.Transfer == mode);

    private void WriteTimings()
    {
        if (options.TimingsFile is not { } file) return;
        if (_workers is not null)
        {
            // Local clusters only: the file holds the local cycles. With hand-off clusters too, the
            // hand-off timings keep the file (Baton.Bench reads it) and the local ones go next to it.
            using var lw = new StreamWriter(_handoff is null ? file : LocalTimingsFile(file));
            lw.WriteLine(LocalCycleTimings.CsvHeader);
            foreach (var t in _localTimings) lw.WriteLine(t.ToCsv());
            if (_handoff is null) return;
        }
        using var w = new StreamWriter(file);
        w.WriteLine(HandoffTimings.CsvHeader);
        foreach (var t in _timings) w.WriteLine(t.ToCsv());
    }

    /// <summary>Where a router with both hand-off and local clusters writes its local cycle timings.</summary>
    public static string LocalTimingsFile(string timingsFile) => timingsFile + ".local.csv";

    private static PhysicalAddress InterfaceMac(string name)
    {
        var nic = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == name)
            ?? throw new ConfigException($"Baton:Interface: no interface named '{name}' in this network namespace");
        return nic.GetPhysicalAddress();
    }
}
