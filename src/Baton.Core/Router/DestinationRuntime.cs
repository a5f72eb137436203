using Baton.Modes;
using Baton.Routing;
using Baton.Routing.LoadBalancing;

namespace Baton.Router;

/// <summary>
/// One back-end as the router runs it: the target that reaches it and its load, made when a
/// configuration first names it and kept until the router stops. Load belongs to the back-end, not
/// to a cluster: every cluster that lists the name shares this record. Health is per cluster
/// (<see cref="ClusterState"/>), as each cluster has its own checks.
/// </summary>
internal sealed class DestinationRuntime(string name, TransferMode mode, string address, ITransferTarget target)
{
    public string Name => name;

    /// <summary>The mode and address the target was made for: a reload may not move the name elsewhere.</summary>
    public TransferMode Mode => mode;

    /// <inheritdoc cref="DestinationRuntime.Mode"/>
    public string Address => address;

    public ITransferTarget Target => target;

    public DestinationState Load { get; } = new(name);

    private volatile bool _draining;

    /// <summary>
    /// The configuration in force no longer names it: it takes no new transaction, and goes once
    /// the last connection at it has finished (<see cref="DestinationRegistry.RemoveRetired"/>).
    /// </summary>
    public bool Retiring { get; set; }

    /// <summary>Whether nothing is at the destination: no transaction, no connection away there.</summary>
    public bool Idle => Load.ActiveRequests == 0 && Target.ConnectionsAway == 0;

    /// <summary>
    /// Set by an operator (admin API, <c>baton ctl drain</c>): the balancer chooses the destination
    /// for no new transaction in any cluster, and a connection at it moves on with its next request.
    /// Kept across reloads, as the back-end is the same.
    /// </summary>
    public bool Draining
    {
        get => _draining;
        set => _draining = value;
    }
}
