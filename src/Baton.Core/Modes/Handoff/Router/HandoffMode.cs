using Baton.Interop;
using Baton.Configuration;
using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using Baton.Modes.Handoff.Repair;
using Baton.Router;
using Baton.Routing;
using Baton.Steering;
using Baton.Steering.Bpf;
using Microsoft.Extensions.Logging;

namespace Baton.Modes.Handoff.Router;

/// <summary>
/// Hand-off: the connection moves to the agent's kernel. Router-wide it needs the privilege for
/// TCP_REPAIR and the per-connection steering on the client-facing interface, which it starts
/// first and removes last.
/// </summary>
internal sealed class HandoffMode : ITransferMode, IConnectionParking
{
    private readonly RouterOptions _options;
    private readonly ILogger _log;
    private readonly IFlowSteering _steering;
    private readonly HandoffTransfer _transfer;
    private readonly ConcurrentQueue<HandoffTimings> _timings = new();
    // Every hand-off target made, by destination name (one per name: RouterHost makes a name's target once).
    private readonly ConcurrentDictionary<string, HandoffTarget> _targets = new(StringComparer.Ordinal);
    private readonly RouterStopping _stopping;
    private readonly IConnectionAdopter? _adopter;
    // Connections a previous run left forwarded to agents that no agent has announced yet; cleared after AdoptGrace.
    private readonly ConcurrentDictionary<IPEndPoint, byte> _unclaimed = new();
    private readonly Timer? _claimDeadline;
    // Connections this run held itself at a restart's stop, for the next run (ParkedConnections).
    private readonly List<TcpSnapshot> _parked = [];
    private readonly string _parkedFile;
    // Whether the previous run's parked connections were restored here (see TookOver).
    private bool _tookOver;

    /// <summary>
    /// How long connections a previous run left forwarded wait for their agent to announce them
    /// (Held) before their steering entries go: longer than an agent waits for a router to link
    /// again (<see cref="Agent.HeldConnections.RelinkGrace"/>), after which it closes them itself.
    /// </summary>
    internal static readonly TimeSpan AdoptGrace = TimeSpan.FromSeconds(15);

    private HandoffMode(RouterOptions options, ILogger log, IFlowSteering steering, RouterStopping stopping, IConnectionAdopter? adopter)
    {
        _options = options;
        _log = log;
        _steering = steering;
        _stopping = stopping;
        _adopter = adopter;
        _parkedFile = ParkedConnections.FileFor(options.Interface!);
        Unpark(steering);
        if (steering is BpfFlowSteering { Adopted.Count: > 0 } bpf)
        {
            foreach (var (client, _) in bpf.Adopted) _unclaimed[client] = 0;
            HandoffLog.SteeringTakenOver(log, bpf.Adopted.Count);
            _claimDeadline = new Timer(_ => ClearUnclaimed(), null, AdoptGrace, Timeout.InfiniteTimeSpan);
        }
        _transfer = new HandoffTransfer(steering, options.HandoffTimeout, log);
        if (options.TimingsFile is not null) _transfer.OnCycle = _timings.Enqueue;
    }

    /// <summary>
    /// Checks the privilege and starts steering on <c>Baton:Interface</c>, taking over what a
    /// previous run left there (a restart): its connections at agents stay forwarded, and are
    /// adopted through <paramref name="adopter"/> as their agents announce them.
    /// </summary>
    public static HandoffMode Start(RouterOptions options, ILogger log, RouterStopping? stopping = null, IConnectionAdopter? adopter = null)
    {
        TcpRepair.EnsurePrivilege();
        var iface = options.Interface ?? throw new ConfigException("Baton:Interface: missing (handoff clusters steer packets on the router's client-facing interface)");
        return new HandoffMode(options, log, OpenSteering(options, log, iface, InterfaceMac(iface)), stopping ?? new RouterStopping(), adopter);
    }

    // An agent announced a connection an earlier run handed it: the router's record of it is
    // made, and it is away as after a hand-off from here. On the link's receive loop: the session
    // is registered before the agent's next message about it is read.
    private void OnHeld(AgentLink link, ulong id, IPEndPoint client)
    {
        _unclaimed.TryRemove(client, out _);
        var target = _targets[link.Name];
        var adopted = _adopter!.Adopt(target, client);
        var next = adopted.NextRequests is { } router ? (router, (ITransferTarget)target) : ((INextRequestRouter, ITransferTarget)?)null;
        var session = link.Begin(id, client, next);
        session.Ready.TrySetResult(null);
        HandoffLog.Adopted(_log, link.Name, client);
        adopted.Start(_transfer.AdoptAsync(link, session, next, CancellationToken.None));
    }

    /// <inheritdoc />
    public bool TryPark(System.Net.Sockets.Socket socket, ReadOnlySpan<byte> unread)
    {
        if (!_stopping.LeavesConnectionsAway || socket.RemoteEndPoint is not IPEndPoint client) return false;
        try
        {
            _steering.Block(client); // its packets must meet no socket here until the next run has one
            var snapshot = TcpRepair.DumpAndClose(socket).WithUnreadPrefix(unread);
            lock (_parked) _parked.Add(snapshot);
            return true;
        }
        catch (Exception e) when (Faults.IsNotMovable(e) || e is SteeringException)
        {
            try { _steering.Clear(client); } catch (SteeringException) { }
            HandoffLog.ParkFailed(_log, client, e.Message);
            return false;
        }
    }

    // The connections the previous run parked at its stop: restored, their packets let in again
    // (the client's resends then reach them), and served as just accepted. Blocked entries that
    // were not parked here (frozen in transit at that stop) are removed: those connections are lost.
    private void Unpark(IFlowSteering steering)
    {
        List<TcpSnapshot> parked;
        try { parked = ParkedConnections.Take(_parkedFile); }
        catch (Exception e) when (Faults.IsFileUnavailable(e))
        {
            HandoffLog.UnparkFailed(_log, _parkedFile, e.Message);
            parked = [];
        }
        int restored = 0;
        foreach (var snapshot in parked)
        {
            try
            {
                var repaired = TcpRepair.Restore(snapshot);
                steering.Clear(snapshot.Remote);
                var socket = repaired.Activate();
                if (_adopter is null) socket.Dispose();
                else _adopter.AdoptParked(socket);
                restored++;
            }
            catch (Exception e) when (Faults.IsNotMovable(e) || e is SteeringException)
            {
                HandoffLog.UnparkFailed(_log, snapshot.Remote.ToString(), e.Message);
            }
        }
        if (steering is BpfFlowSteering bpf)
            foreach (var client in bpf.AdoptedBlocked)
                try { steering.Clear(client); } catch (SteeringException) { }
        if (parked.Count > 0) HandoffLog.Unparked(_log, restored, parked.Count);
        _tookOver |= restored > 0;
    }

    /// <inheritdoc />
    public bool TookOver => _tookOver || _claimDeadline is not null;

    private void ClearUnclaimed()
    {
        int n = 0;
        foreach (var client in _unclaimed.Keys)
        {
            if (!_unclaimed.TryRemove(client, out _)) continue;
            try { _steering.Clear(client); n++; }
            catch (Exception e) when (e is SteeringException or ObjectDisposedException) { }
        }
        if (n > 0) HandoffLog.UnclaimedCleared(_log, n, AdoptGrace);
    }

    public ITransferTarget CreateTarget(Cluster cluster, Destination destination) => CreateHandoff(destination);

    internal HandoffTarget CreateHandoff(Destination d)
    {
        var link = new AgentLink(d.Name, d.ControlEndpoint!, _options.Key!, _steering, _log, _options.CloseGrace, Passable, _stopping,
            _adopter is null ? null : OnHeld);
        link.Start();
        var target = new HandoffTarget(link, _transfer);
        _targets[d.Name] = target;
        return target;
    }

    /// <summary>
    /// The hand-off target a routing decision's way (<see cref="NextHop.Via"/>) is, looked up by the
    /// destination's name: a connection can pass straight from one agent to another only to one of
    /// these (an adaptive destination's way is one when it would hand the request off).
    /// </summary>
    private HandoffTarget? Passable(ITransferTarget decided) =>
        _targets.TryGetValue(decided.Name, out var target) && ReferenceEquals(target, decided) ? target : null;

    public ModeTimings? Timings => _options.TimingsFile is null ? null
        : new ModeTimings(HandoffTimings.CsvHeader, () => _timings.Select(t => t.ToCsv()));

    // The one place that knows there are two implementations. A crashed run of the other kind may
    // have left its state on the interface: removed too, or its stale entries would still act.
    private static IFlowSteering OpenSteering(RouterOptions options, ILogger log, string iface, PhysicalAddress mac)
    {
        if (options.Steering != SteeringKind.NfTables)
        {
            try
            {
                var bpf = new BpfFlowSteering(iface, options.Listen, mac, options.HoldQueue ? Steering.Hold.HoldLimits.Default : null, options.Xdp, adopt: true);
                if (bpf.AdoptUnavailable is { } notAdopted) HandoffLog.SteeringNotTakenOver(log, notAdopted);
                NftFlowSteering.RemoveStale();
                if (bpf.HoldUnavailable is { } why) RouterLog.HoldQueueUnavailable(log, why);
                if (bpf.XdpUnavailable is { } noXdp) RouterLog.XdpUnavailable(log, noXdp);
                return bpf;
            }
            catch (SteeringException e) when (options.Steering == SteeringKind.Auto)
            {
                RouterLog.SteeringFallback(log, e.Message);
            }
        }
        BpfFlowSteering.RemoveStale(iface);
        if (options.HoldQueue) RouterLog.HoldQueueUnavailable(log, "nftables steering has none");
        return new NftFlowSteering(iface, options.Listen, mac);
    }

    private static PhysicalAddress InterfaceMac(string name)
    {
        var nic = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == name)
            ?? throw new ConfigException($"Baton:Interface: no interface named '{name}' in this network namespace");
        return nic.GetPhysicalAddress();
    }

    /// <summary>
    /// Removes the steering table: after every target (agent link) is gone. A restart leaves the
    /// entries of connections away at agents in force instead, for the next run to take over.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        _claimDeadline?.Dispose();
        if (_stopping.LeavesConnectionsAway)
        {
            lock (_parked)
                if (_parked.Count > 0)
                {
                    try
                    {
                        ParkedConnections.Write(_parkedFile, _parked);
                        HandoffLog.Parked(_log, _parked.Count, _parkedFile);
                    }
                    catch (Exception e) when (Faults.IsFileUnavailable(e))
                    {
                        HandoffLog.UnparkFailed(_log, _parkedFile, e.Message);
                    }
                }
            _steering.Leave(); // disposes where the steering cannot stay (nftables)
        }
        else _steering.Dispose();
        return ValueTask.CompletedTask;
    }
}
