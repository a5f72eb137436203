namespace Baton.Modes;

/// <summary>Why a transfer left the connection where it was (anchor: YARP's <c>ForwarderError</c>).</summary>
public enum TransferError
{
    /// <summary>Steering could not hold or forward the client's packets.</summary>
    Steering,
    /// <summary>The connection could not be dumped or passed here (its state, data that kept arriving, no privilege).</summary>
    NotMovable,
    /// <summary>The destination refused it (the agent could not restore it).</summary>
    Refused,
    /// <summary>The destination did not answer in time.</summary>
    Timeout,
    /// <summary>The link to the destination is down, or failed while the transfer used it.</summary>
    LinkDown,
    /// <summary>The destination closed the connection before it went live there.</summary>
    DestinationClosed,
    /// <summary>The router is stopping.</summary>
    Cancelled,
}

/// <summary>
/// A transfer that did not move the connection: what kind of failure, and the detail for the log
/// (it may carry internal text, so it never goes to the client).
/// </summary>
public sealed record TransferFailure(TransferError Error, string Detail)
{
    /// <inheritdoc />
    public override string ToString() => Detail;
}
