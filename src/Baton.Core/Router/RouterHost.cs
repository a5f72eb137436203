using System.Net.Sockets;
using Baton.Configuration;
using System.Net;
using Baton.Health;
using Baton.Http;
using Baton.Modes;
using Baton.Routing;
using Baton.Routing.LoadBalancing;
using Microsoft.Extensions.Logging;

namespace Baton.Router;

/// <summary>
/// The routing node: accepts client connections on the VIP (<see cref="ConnectionListener"/>), reads
/// each request head, picks a route and a destination, and moves the connection there for the
/// transaction. It holds what a configuration puts in force (<see cref="RoutingState"/>) and the
/// back-ends (<see cref="DestinationRegistry"/>); the modes start in <see cref="ModeRegistry"/>,
/// and a saved configuration reaches it through <see cref="ConfigWatcher"/>.
/// </summary>
public sealed class RouterHost(RouterOptions options, ILoggerFactory loggers) : IRouterControl, IConnectionAdopter
{
    private readonly RouterStopping _stopping = new();
    // Connections adopted from an earlier run (after a restart), running until they end.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Task, byte> _adopted = new();
    private CancellationToken _stopToken;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<IPEndPoint, ConnectionTrack> _connections = new();
    private readonly ILogger _log = loggers.CreateLogger("Baton.Router");
    private readonly object _reloadGate = new();
    private readonly DestinationRegistry _destinations = new();
    private volatile RoutingState _routing = null!;
    private ModeRegistry _modes = null!;
    private ActiveHealthProber? _prober;
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Completes once the router has started its modes and bound its listener: what needs privilege
    /// or a key has succeeded. Never completes when <see cref="RunAsync"/> fails first.
    /// </summary>
    public Task Listening => _listening.Task;

    internal RouterOptions Options => options;

    /// <summary>The routes in force; a reload swaps the whole snapshot at once.</summary>
    internal RouteTable Routes => _routing.Table;

    internal ILogger Log => _log;

    /// <summary>Runs until <paramref name="ct"/> is cancelled; removes its steering table on the way out.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        // Each mode's machinery starts only when a cluster uses it: a router with local and relay
        // clusters only needs no privilege, no steering table and no key. Stopped last.
        _stopToken = ct;
        await using var modes = _modes = new ModeRegistry(options, loggers, _log, _stopping, this);
        modes.StartFor(options.Routes);
        await using var prober = _prober = new ActiveHealthProber(TimeProvider.System, loggers.CreateLogger("Baton.Health"));
        using var gauges = new RouterGauges(() => _routing);
        try
        {
            foreach (var w in options.Warnings) RouterLog.ConfigWarning(_log, w);
            Apply(options.Routes);
            using var watcher = options.ConfigFile is { } file ? new ConfigWatcher(file, Reload, _log) : null;
            // Destinations a reload removed go once their last connection has finished.
            using var retire = new Timer(_ => _ = RemoveRetiredAsync(), null, RetireCheck, RetireCheck);
            var listener = new ConnectionListener(options.Listen, (client, token) => new RouterConnection(this, client).RunAsync(token));
            var socket = listener.Bind();
            RouterLog.Listening(_log, options.Listen, options.Routes.Routes.Count, _destinations.Count);
            _listening.TrySetResult();
            // Taking over from a previous run: its connections' next requests wait (new ones in the
            // listen backlog) until the agent links are up, rather than meet a 503 for want of them.
            if (_modes.Parking?.TookOver == true) await LinksUpAsync(TakeOverWait, ct).ConfigureAwait(false);
            _serving = true;
            ServeUnparked();
            // A restart closes the agent links first: the connections away end here at once (left
            // where they are), and none comes back only to be closed by the stop.
            await listener.RunAsync(socket, ct, () => _stopping.LeavesConnectionsAway ? _destinations.DisposeAsync().AsTask() : Task.CompletedTask).ConfigureAwait(false);
        }
        finally
        {
            // Targets stop once their connections are back or given up, and before the timings are
            // written: a link's last cycles end as it closes.
            await _destinations.DisposeAsync().ConfigureAwait(false);
            try { await Task.WhenAll(_adopted.Keys).WaitAsync(ConnectionListener.StopGrace).ConfigureAwait(false); }
            catch (Exception) { } // each logs its own end
            if (options.TimingsFile is { } timings) _modes.WriteTimings(timings);
        }
    }

    /// <summary>
    /// Picks a healthy destination of <paramref name="cluster"/> with the cluster's policy, or null
    /// (503). The caller holds the returned lease while the connection is away at that destination.
    /// </summary>
    /// <remarks><paramref name="exclude"/>: destinations already tried for this request (a retry).</remarks>
    internal (ITransferTarget Target, DestinationLease Lease)? PickDestination(Cluster cluster, RequestHead request, IPEndPoint client,
        IReadOnlyCollection<string>? exclude = null)
    {
        // The cluster may have been removed by a reload meanwhile.
        if (_routing[cluster.Id] is not { } state) return null;
        var available = state.Available();
        if (exclude is { Count: > 0 }) available = [.. available.Where(d => !exclude.Contains(d.Name))];
        var picked = state.Policy.Pick(new BalancingContext(request, client), available);
        return picked is null ? null : (_destinations[picked.Name].Target, picked.Acquire());
    }

    /// <summary>
    /// Counts a transaction's result towards the passive health of <paramref name="destination"/> in
    /// <paramref name="cluster"/>: <paramref name="served"/> false (the router answered 5xx for it) is a failure.
    /// </summary>
    internal void Report(Cluster cluster, string destination, bool served)
    {
        if (_routing[cluster.Id]?.Health[destination] is not { } health) return;
        if (served) health.RecordSuccess();
        else if (health.RecordFailure())
            HealthLog.Deactivated(_log, cluster.Id, destination,
                health.PassiveOptions.ReactivationPeriod ?? PassiveHealthCheckOptions.DefaultReactivationPeriod, health.PassiveOptions.Fall);
    }

    /// <summary>
    /// Puts <paramref name="table"/> in force: the destinations it adds are made (agent links start
    /// connecting), then its routing state is built and swapped in at once. A table that cannot be
    /// put in force throws <see cref="ConfigException"/> and leaves no trace.
    /// </summary>
    private void Apply(RouteTable table)
    {
        lock (_reloadGate)
        {
            _destinations.Add(table, _modes);
            _routing = RoutingState.Build(table, _destinations, (RoutingState?)_routing, TimeProvider.System);
            _destinations.Retire(table);
            _prober?.Apply(_routing.Health);
        }
    }

    /// <summary>How often destinations a reload removed are checked for their last connection.</summary>
    internal static readonly TimeSpan RetireCheck = TimeSpan.FromSeconds(1);

    private async Task RemoveRetiredAsync()
    {
        List<DestinationRuntime> gone;
        lock (_reloadGate) gone = _destinations.RemoveRetired();
        foreach (var d in gone)
        {
            await DestinationRegistry.StopAsync(d).ConfigureAwait(false);
            RouterLog.DestinationRemoved(_log, d.Name);
        }
    }

    /// <summary>
    /// Makes this run's stop a restart's: connections away at agents stay there, their steering in
    /// place, for the next run to adopt (an agent waits for it, <c>HeldConnections.RelinkGrace</c>).
    /// </summary>
    public void LeaveConnectionsAwayOnStop()
    {
        _stopping.LeavesConnectionsAway = true;
        RouterLog.Restarting(_log);
    }

    AdoptedConnection IConnectionAdopter.Adopt(ITransferTarget target, IPEndPoint client)
    {
        var connection = new RouterConnection(this, null);
        return new AdoptedConnection(options.SameTargetShortcut ? connection : null, away =>
        {
            var task = Task.Run(() => connection.RunAdoptedAsync(target, away, client, _stopToken));
            _adopted[task] = 0;
            _ = task.ContinueWith(t => _adopted.TryRemove(t, out _), TaskScheduler.Default);
        });
    }

    /// <summary>How long a run that took over a previous one's connections waits for its agent links before it serves.</summary>
    internal static readonly TimeSpan TakeOverWait = TimeSpan.FromSeconds(5);

    private async Task LinksUpAsync(TimeSpan atMost, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + atMost;
        while (DateTime.UtcNow < deadline && !ct.IsCancellationRequested && Destinations().Any(d => d.Health == "unhealthy"))
            await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);
    }

    // Connections the previous run parked, restored before this run's routes are in force: served once they are.
    private readonly System.Collections.Concurrent.ConcurrentQueue<Socket> _unparked = new();
    private volatile bool _serving;

    void IConnectionAdopter.AdoptParked(Socket socket)
    {
        _unparked.Enqueue(socket);
        if (_serving) ServeUnparked();
    }

    private void ServeUnparked()
    {
        while (_unparked.TryDequeue(out var socket))
        {
            var task = Task.Run(() => new RouterConnection(this, socket).RunAsync(_stopToken));
            _adopted[task] = 0;
            _ = task.ContinueWith(t => _adopted.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    /// <summary>
    /// At a restart's stop, keeps <paramref name="connection"/>, which this router holds between
    /// requests, for the next run (the hand-off mode parks it); false otherwise: close it as usual.
    /// </summary>
    internal bool TryPark(ClientConnection connection) =>
        _stopping.LeavesConnectionsAway && _modes.Parking?.TryPark(connection.Socket, connection.Input.Unread) == true;

    /// <summary>The load of destination <paramref name="name"/>, or null when the router does not know it.</summary>
    internal Baton.Routing.LoadBalancing.DestinationState? LoadOf(string name) => _destinations.TryGet(name, out var d) ? d.Load : null;

    /// <summary>Counts <paramref name="track"/>'s connection as the router's until the returned handle is disposed.</summary>
    internal IDisposable Track(ConnectionTrack track)
    {
        _connections[track.Client] = track;
        return new Untrack(_connections, track);
    }

    private sealed class Untrack(System.Collections.Concurrent.ConcurrentDictionary<IPEndPoint, ConnectionTrack> all, ConnectionTrack track) : IDisposable
    {
        public void Dispose() => all.TryRemove(KeyValuePair.Create(track.Client, track));
    }

    /// <inheritdoc />
    public int ConnectionCount => _connections.Count;

    /// <inheritdoc />
    public MoveFeed Moves { get; } = new();

    /// <inheritdoc />
    public ConnectionStatus? Connection(IPEndPoint client) => _connections.TryGetValue(client, out var t) ? t.Snapshot() : null;

    /// <inheritdoc />
    public IReadOnlyList<DestinationStatus> Destinations()
    {
        if (_routing is not { } routing) return [];
        var all = new List<DestinationStatus>();
        foreach (var c in routing.Clusters)
            foreach (var (d, state, available) in c.States())
                all.Add(new DestinationStatus(c.Cluster.Id, d.Name, d.Mode.Name, d.Address, state.ToString().ToLowerInvariant(),
                    available, d.Draining, d.Load.ActiveRequests, d.Target.ConnectionsAway));
        return all;
    }

    /// <inheritdoc />
    public bool SetDraining(string name, bool draining)
    {
        if (!_destinations.TryGet(name, out var d)) return false;
        if (d.Draining != draining) RouterLog.Draining(_log, name, draining ? "draining: no new transactions" : "undrained: takes transactions again");
        d.Draining = draining;
        return true;
    }

    /// <inheritdoc />
    public ReloadResult Reload()
    {
        if (options.ConfigFile is not { } file) return new ReloadResult(false, "the router was not started from a configuration file");
        return ConfigWatcher.Apply(file, () => RouterConfig.Load(file), Reload, _log);
    }

    private void Reload(RouterOptions loaded)
    {
        if (!loaded.Listen.Equals(options.Listen) || loaded.Interface != options.Interface || loaded.WorkerSocket != options.WorkerSocket
            || loaded.Steering != options.Steering || loaded.HoldQueue != options.HoldQueue || loaded.Metrics != options.Metrics || loaded.Admin != options.Admin)
            RouterLog.ReloadPartial(_log, "Baton:Listen, Baton:Interface, Baton:Steering, Baton:HoldQueue, Baton:WorkerSocket, Baton:Metrics and Baton:Admin changes need a restart");
        Apply(loaded.Routes);
    }
}
