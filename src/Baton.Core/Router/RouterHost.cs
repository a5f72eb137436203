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
    private readonly Dictionary<string, AgentLink> _links = new(StringComparer.Ordinal);
    // Load belongs to the back-end, not the cluster: one state per destination, shared by clusters.
    private readonly Dictionary<string, DestinationState> _load = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ILoadBalancingPolicy> _policies = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentQueue<HandoffTimings> _timings = new();

    internal RouterOptions Options => options;
    internal ILogger Log => _log;
    internal HandoffTransfer Handoff { get; private set; } = null!;

    /// <summary>Completes when every agent link has connected once (the demo and tests wait on it).</summary>
    public Task AllAgentsConnected => Task.WhenAll(_links.Values.Select(l => l.Connected));

    /// <summary>Runs until <paramref name="ct"/> is cancelled; removes its steering table on the way out.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var destinations = options.Routes.Clusters.Values
            .Where(c => c.Transfer == TransferMode.Handoff)
            .SelectMany(c => c.Destinations)
            .DistinctBy(d => d.Name)
            .ToList();
        if (destinations.Count > 0) TcpRepair.EnsurePrivilege();

        using var steering = new NftFlowSteering(options.Interface, options.Listen, InterfaceMac(options.Interface));
        Handoff = new HandoffTransfer(steering, options.HandoffTimeout, _log);
        if (options.TimingsFile is not null) Handoff.OnCycle = _timings.Enqueue;
        foreach (var d in destinations)
        {
            var link = new AgentLink(d.Name, d.ControlEndpoint, options.Key, steering, _log, options.CloseGrace);
            _links[d.Name] = link;
            _load[d.Name] = new DestinationState(d.Name);
            link.Start();
        }
        foreach (var c in options.Routes.Clusters.Values.Where(c => c.Transfer == TransferMode.Handoff))
            _policies[c.Id] = LoadBalancingPolicies.Create(c.LoadBalancingPolicy, c.LoadBalancing ?? LoadBalancingOptions.Default);

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
        var healthy = new List<DestinationState>(cluster.Destinations.Count);
        foreach (var d in cluster.Destinations)
            if (_links[d.Name].IsHealthy) healthy.Add(_load[d.Name]);
        var picked = _policies[cluster.Id].Pick(new BalancingContext(request, client), healthy);
        return picked is null ? null : (_links[picked.Name], picked.Acquire());
    }

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
