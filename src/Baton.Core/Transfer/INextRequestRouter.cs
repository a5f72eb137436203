namespace Baton.Transfer;

/// <summary>
/// Routes a client's next request while its connection is still at a destination (the same-target
/// shortcut). The router decides exactly as if the connection had come back first: when the
/// request goes to <c>current</c> again it stays there; otherwise the decision is kept and applied
/// to that request once the connection is back, so balancing sees each request once.
/// </summary>
public interface INextRequestRouter
{
    /// <summary>
    /// True when the request whose head is <paramref name="head"/> (its bytes, as the destination
    /// read them) is routed to <paramref name="current"/> (counted as routed there). A head that does
    /// not parse comes back to be refused. Called on a control link's receive loop: quick, never blocking.
    /// </summary>
    bool StaysAt(ITransferTarget current, ReadOnlySpan<byte> head);
}
