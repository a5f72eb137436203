namespace Baton.Modes.Handoff.Protocol;

/// <summary>
/// The frame types between the router (R) and a back-end agent (A); see DESIGN.md §3. Each names
/// the message struct that is its payload (ControlMessages.cs), where its direction and meaning
/// are written once.
/// </summary>
public enum ControlMessageType : byte
{
    /// <summary><see cref="Protocol.Hello"/>, the only unauthenticated frame.</summary>
    Hello = 1,
    /// <summary><see cref="Protocol.Welcome"/>.</summary>
    Welcome = 2,
    /// <summary><see cref="Protocol.ApplicationHealth"/>.</summary>
    ApplicationHealth = 3,
    /// <summary><see cref="Protocol.Held"/>.</summary>
    Held = 4,

    /// <summary><see cref="Protocol.HandoffRequest"/>.</summary>
    HandoffRequest = 10,
    /// <summary><see cref="Protocol.Ready"/>.</summary>
    Ready = 11,
    /// <summary><see cref="Protocol.Refused"/>.</summary>
    Refused = 12,
    /// <summary><see cref="Protocol.Go"/>.</summary>
    Go = 13,

    /// <summary><see cref="Protocol.ReturnRequest"/>.</summary>
    ReturnRequest = 20,
    /// <summary><see cref="Protocol.Freeze"/>.</summary>
    Freeze = 21,
    /// <summary><see cref="Protocol.Returned"/>.</summary>
    Returned = 22,
    /// <summary><see cref="Protocol.Closed"/>.</summary>
    Closed = 23,
    /// <summary><see cref="Protocol.ReturnFailed"/>.</summary>
    ReturnFailed = 24,
    /// <summary><see cref="Protocol.NextRequest"/>.</summary>
    NextRequest = 25,
    /// <summary><see cref="Protocol.Stay"/>.</summary>
    Stay = 26,
}
