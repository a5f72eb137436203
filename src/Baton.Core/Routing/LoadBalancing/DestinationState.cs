namespace Baton.Routing.LoadBalancing;

/// <summary>
/// The load a policy sees for one destination: how many connections or requests are currently assigned
/// to it, including connections away at the back-end in hand-off mode (the router enters when it hands a
/// connection off and leaves when the connection returns or ends).
/// </summary>
/// <remarks>
/// Keep one instance per destination name for the whole router, shared by every cluster that lists the
/// destination: the load is a property of the back-end, not of the cluster that sent the work there.
/// All members are thread-safe.
/// </remarks>
public sealed class DestinationState
{
    private int _active;

    /// <summary>Creates the state of the destination called <paramref name="name"/>, with no load.</summary>
    public DestinationState(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
    }

    /// <summary>The destination's name, as in the cluster configuration.</summary>
    public string Name { get; }

    /// <summary>Connections or requests currently assigned to this destination.</summary>
    public int ActiveRequests => Volatile.Read(ref _active);

    /// <summary>Counts one more connection or request as assigned to this destination.</summary>
    public void Enter() => Interlocked.Increment(ref _active);

    /// <summary>Counts one connection or request as no longer assigned to this destination.</summary>
    /// <exception cref="InvalidOperationException">More leaves than enters: a caller's bookkeeping bug.</exception>
    public void Leave()
    {
        if (Interlocked.Decrement(ref _active) < 0)
        {
            // Undo before throwing so one bug does not leave the counter negative (which would attract
            // all traffic to this destination under least-load policies).
            Interlocked.Increment(ref _active);
            throw new InvalidOperationException($"DestinationState '{Name}': Leave without a matching Enter");
        }
    }

    /// <summary>
    /// Enters and returns a lease whose <see cref="IDisposable.Dispose"/> leaves exactly once, for callers
    /// that prefer <c>using</c> or that may end a connection on more than one path.
    /// </summary>
    public DestinationLease Acquire()
    {
        Enter();
        return new DestinationLease(this);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({ActiveRequests} active)";
}

/// <summary>
/// One unit of load on a <see cref="DestinationState"/>, released by <see cref="Dispose"/>. Disposing twice
/// releases once, so a connection that ends on two paths (returned, then closed) cannot undercount.
/// </summary>
public sealed class DestinationLease : IDisposable
{
    private DestinationState? _destination;

    internal DestinationLease(DestinationState destination) => _destination = destination;

    /// <summary>The destination this lease counts against.</summary>
    public DestinationState? Destination => Volatile.Read(ref _destination);

    /// <summary>Leaves the destination, the first time only.</summary>
    public void Dispose() => Interlocked.Exchange(ref _destination, null)?.Leave();
}
