namespace Baton.Modes;

/// <summary>
/// Routes a client's next request while its connection is still at a destination (the same-target
/// shortcut). The router decides exactly as if the connection had come back first, and returns the
/// decision as data (<see cref="NextHop"/>), which the mode applies; balancing sees each request once.
/// </summary>
public interface INextRequestRouter
{
    /// <summary>
    /// Where the request whose head is <paramref name="head"/> (its bytes, as the destination read
    /// them) goes, the connection being at <paramref name="current"/>. <see cref="NextHopKind.Stay"/>
    /// counts it as routed there. A head that does not parse comes back to be refused. Called on a
    /// control link's receive loop: quick, never blocking.
    /// </summary>
    NextHop Route(ITransferTarget current, ReadOnlySpan<byte> head);

    /// <summary>
    /// The connection went straight to the target of the <see cref="NextHopKind.Elsewhere"/> decision
    /// <see cref="Route"/> returned last, and the request is being served there: the decision is used
    /// up, and the request counts as routed there, as after a stay. A mode that does not move the
    /// connection straight there returns it, and the router applies the decision then.
    /// </summary>
    void PassedTo(ITransferTarget target);
}

/// <summary>What the router decided for a next request that reached a destination.</summary>
public enum NextHopKind : byte
{
    /// <summary>It comes back to the router, which answers it (an invalid head, 404, its own routes, 503).</summary>
    Return,
    /// <summary>It is routed to where the connection is: served there, nothing moves.</summary>
    Stay,
    /// <summary>It is routed to <see cref="NextHop.Target"/>, another destination.</summary>
    Elsewhere,
}

/// <summary>
/// The router's decision for a next request: data the mode reads, never a call back into the router.
/// <see cref="Target"/> is the destination decided (what <see cref="INextRequestRouter.PassedTo"/>
/// takes), <see cref="Via"/> the way it would serve this request (<see cref="ITransferTarget.ServedBy"/>:
/// an adaptive destination's hand-off or relay), which is where a mode can move the connection straight.
/// </summary>
public readonly record struct NextHop(NextHopKind Kind, ITransferTarget? Target = null, ITransferTarget? Via = null)
{
    public static NextHop Return => new(NextHopKind.Return);
    public static NextHop Stay => new(NextHopKind.Stay);
    public static NextHop Elsewhere(ITransferTarget target, ITransferTarget via) => new(NextHopKind.Elsewhere, target, via);
}
