namespace Baton.Modes;

/// <summary>
/// Routes a client's next request while its connection is still at a destination (the same-target
/// shortcut). The router decides exactly as if the connection had come back first: when the
/// request goes to <c>current</c> again it stays there; otherwise the decision is kept and applied
/// to that request once the connection is back (or where the connection goes straight from one
/// destination to the next, <see cref="PassedTo"/>), so balancing sees each request once.
/// </summary>
public interface INextRequestRouter
{
    /// <summary>
    /// True when the request whose head is <paramref name="head"/> (its bytes, as the destination
    /// read them) is routed to <paramref name="current"/> (counted as routed there). A head that does
    /// not parse comes back to be refused. Called on a control link's receive loop: quick, never blocking.
    /// </summary>
    bool StaysAt(ITransferTarget current, ReadOnlySpan<byte> head);

    /// <summary>
    /// The destination decided for the request <see cref="StaysAt"/> last turned away (null when it
    /// comes back to be answered by the router). A mechanism that can move the connection there
    /// straight from where it is (one agent to another) may do so and then calls
    /// <see cref="PassedTo"/>; otherwise the decision is applied once the connection is back.
    /// </summary>
    ITransferTarget? Decided { get; }

    /// <summary>
    /// The connection went straight to <see cref="Decided"/> and the request is being served there:
    /// the decision is used up, and the request counts as routed there, as after a stay.
    /// </summary>
    void PassedTo(ITransferTarget target);
}
