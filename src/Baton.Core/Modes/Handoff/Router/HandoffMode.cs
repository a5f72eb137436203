using Baton.Configuration;
using System.Collections.Concurrent;
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
internal sealed class HandoffMode : ITransferMode
{
    private readonly RouterOptions _options;
    private readonly ILogger _log;
    private readonly IFlowSteering _steering;
    private readonly HandoffTransfer _transfer;
    private readonly ConcurrentQueue<HandoffTimings> _timings = new();
    // Every hand-off target made, by destination name (one per name: RouterHost makes a name's target once).
    private readonly ConcurrentDictionary<string, HandoffTarget> _targets = new(StringComparer.Ordinal);

    private HandoffMode(RouterOptions options, ILogger log, IFlowSteering steering)
    {
        _options = options;
        _log = log;
        _steering = steering;
        _transfer = new HandoffTransfer(steering, options.HandoffTimeout, log);
        if (options.TimingsFile is not null) _transfer.OnCycle = _timings.Enqueue;
    }

    /// <summary>Checks the privilege and starts steering on <c>Baton:Interface</c>.</summary>
    public static HandoffMode Start(RouterOptions options, ILogger log)
    {
        TcpRepair.EnsurePrivilege();
        var iface = options.Interface ?? throw new ConfigException("Baton:Interface: missing (handoff clusters steer packets on the router's client-facing interface)");
        return new HandoffMode(options, log, OpenSteering(options, log, iface, InterfaceMac(iface)));
    }

    public ITransferTarget CreateTarget(Cluster cluster, Destination destination) => CreateHandoff(destination);

    internal HandoffTarget CreateHandoff(Destination d)
    {
        var link = new AgentLink(d.Name, d.ControlEndpoint!, _options.Key!, _steering, _log, _options.CloseGrace, Passable);
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
                var bpf = new BpfFlowSteering(iface, options.Listen, mac, options.HoldQueue ? Steering.Hold.HoldLimits.Default : null, options.Xdp);
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

    /// <summary>Removes the steering table: after every target (agent link) is gone.</summary>
    public ValueTask DisposeAsync()
    {
        _steering.Dispose();
        return ValueTask.CompletedTask;
    }
}
