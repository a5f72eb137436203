using System.Collections.Concurrent;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Baton.Http;
using Baton.Routing;
using Baton.Routing.LoadBalancing;
using Baton.Steering;
using Baton.Transfer;
using Baton.Transfer.Handoff;
using Microsoft.Extensions.Logging;

namespace Baton.Router;

/// <summary>
/// The routing node: accepts client connections on the VIP, reads each request head, picks a
/// route and a destination, and moves the connection there for the transaction.
/// </summary>
public sealed class RouterHost(RouterOptions options, ILoggerFactory loggers)
{
    private readonly ILogger _log = loggers.CreateLogger("Baton.Router");
    private readonly ConcurrentDictionary<string, AgentLink> _links = new(StringComparer.Ordinal);
    // Load belongs to the back-end, not the cluster: one state per destination, shared by clusters.
    private readonly ConcurrentDictionary<string, DestinationState> _load = new(StringComparer.Ordinal);
    private readonly object _reloadGate = new();
    private volatile RoutingState _routing = null!;
    private IFlowSteering _steering = null!;
    private readonly ConcurrentQueue<HandoffTimings> _timings = new();

    internal RouterOptions Options => options;

    /// <summary>The routes in force; a reload swaps the whole snapshot at once.</summary>
    internal RouteTable Routes => _routing.Table;

    /// <summary>Routes with a balancing policy instance per cluster: swapped whole, never edited.</summary>
    private sealed record RoutingState(RouteTable Table, IReadOnlyDictionary<string, ILoadBalancingPolicy> Policies);
    internal ILogger Log => _log;
    internal HandoffTransfer Handoff { get; private set; } = null!;


    /// <summary>Runs until <paramref name="ct"/> is cancelled; removes its steering table on the way out.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        if (HandoffDestinations(options.Routes).Any()) TcpRepair.EnsurePrivilege();

        using var steering = new NftFlowSteering(options.Interface, options.Listen, InterfaceMac(options.Interface));
        _steering = steering;
        Handoff = new HandoffTransfer(steering, options.HandoffTimeout, _log);
        if (options.TimingsFile is not null) Handoff.OnCycle = _timings.Enqueue;
        Apply(options.Routes);
        using var watcher = WatchConfig();

        using var listener = new Socket(options.Listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(options.Listen);
        listener.Listen(1024);
        RouterLog.Listening(_log, options.Listen, options.Routes.Routes.Count, _links.Count);
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
            foreach (var l in _links.Values) await l.DisposeAsync().ConfigureAwait(false);
            WriteTimings();
        }
    }

    /// <summary>
    /// Picks a healthy destination of <paramref name="cluster"/> with the cluster's policy, or null
    /// (503). The caller holds the returned lease while the connection is away at that destination.
    /// </summary>
    internal (AgentLink Link, DestinationLease Lease)? PickDestination(Cluster cluster, RequestHead request, System.Net.IPEndPoint client)
    {
        var routing = _routing;
        var healthy = new List<DestinationState>(cluster.Destinations.Count);
        foreach (var d in cluster.Destinations)
            if (_links[d.Name].IsHealthy) healthy.Add(_load[d.Name]);
        if (!routing.Policies.TryGetValue(cluster.Id, out var policy)) return null; // cluster removed by a reload meanwhile
        var picked = policy.Pick(new BalancingContext(request, client), healthy);
        return picked is null ? null : (_links[picked.Name], picked.Acquire());
    }

    /// <summary>
    /// Puts <paramref name="table"/> in force: links to destinations it adds are started, a policy is
    /// made per cluster, and the whole snapshot is swapped at once. Connections mid-request keep the
    /// cluster they were given. Links to destinations a reload removes stay until stop.
    /// </summary>
    private void Apply(RouteTable table)
    {
        lock (_reloadGate)
        {
            foreach (var d in HandoffDestinations(table))
            {
                if (_links.TryGetValue(d.Name, out var existing))
                {
                    if (!existing.Endpoint.Equals(d.ControlEndpoint))
                        throw new ConfigException($"ReverseProxy:Clusters: destination '{d.Name}' moved from {existing.Endpoint} to {d.ControlEndpoint}; restart the router to move it");
                    continue;
                }
                var link = new AgentLink(d.Name, d.ControlEndpoint, options.Key, _steering, _log, options.CloseGrace);
                _links[d.Name] = link;
                _load[d.Name] = new DestinationState(d.Name);
                link.Start();
            }
            var policies = table.Clusters.Values
                .Where(c => c.Transfer == TransferMode.Handoff)
                .ToDictionary(c => c.Id, c => LoadBalancingPolicies.Create(c.LoadBalancingPolicy, c.LoadBalancing ?? LoadBalancingOptions.Default), StringComparer.OrdinalIgnoreCase);
            _routing = new RoutingState(table, policies);
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
            if (!loaded.Listen.Equals(options.Listen) || loaded.Interface != options.Interface)
                RouterLog.ReloadPartial(_log, "Baton:Listen and Baton:Interface changes need a restart");
            Apply(loaded.Routes);
            RouterLog.Reloaded(_log, file, loaded.Routes.Routes.Count);
        }
        catch (Exception e) when (e is ConfigException or IOException or ArgumentException)
        {
            RouterLog.ReloadRejected(_log, file, e.Message);
        }
    }

    private static IEnumerable<Destination> HandoffDestinations(RouteTable table) =>
        table.Clusters.Values.Where(c => c.Transfer == TransferMode.Handoff).SelectMany(c => c.Destinations).DistinctBy(d => d.Name);

    private void WriteTimings()
    {
        if (options.TimingsFile is null) return;
        using var w = new StreamWriter(options.TimingsFile);
        w.WriteLine(HandoffTimings.CsvHeader);
        foreach (var t in _timings) w.WriteLine(t.ToCsv());
    }

    private static PhysicalAddress InterfaceMac(string name)
    {
        var nic = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == name)
            ?? throw new ConfigException($"Baton:Interface: no interface named '{name}' in this network namespace");
        return nic.GetPhysicalAddress();
    }
}
