namespace Baton.Modes.Handoff.Protocol;

/// <summary>Messages between the router (R) and a back-end agent (A); see DESIGN.md §3.</summary>
public enum ControlMessageType : byte
{
    /// <summary>Both ways, first and unauthenticated: protocol version and a fresh nonce.</summary>
    Hello = 1,
    /// <summary>A → R, first authenticated message: the agent's name and MAC address.</summary>
    Welcome = 2,

    /// <summary>R → A: restore this connection (snapshot) in repair mode, silent.</summary>
    HandoffRequest = 10,
    /// <summary>A → R: restored and waiting; steer the packets here.</summary>
    Ready = 11,
    /// <summary>A → R: could not restore (reason); the router takes the connection back.</summary>
    Refused = 12,
    /// <summary>R → A: packets are steered to you: go live and serve (router's hand-off time, µs).</summary>
    Go = 13,

    /// <summary>A → R: the transaction is complete and nothing is unsent; take the connection back.</summary>
    ReturnRequest = 20,
    /// <summary>R → A: the connection's packets are blocked; dump it.</summary>
    Freeze = 21,
    /// <summary>A → R: the dumped connection (snapshot); A has closed its copy (silently) and keeps the snapshot for a short grace, in case of <see cref="ReturnFailed"/>.</summary>
    Returned = 22,
    /// <summary>A → R: the connection ends at A (client closed, or Connection: close); A closes it normally.</summary>
    Closed = 23,
    /// <summary>
    /// R → A: the connection A returned could not be restored at R. A restores it from the snapshot
    /// it parked and answers <see cref="Ready"/> (or <see cref="Refused"/>: nothing parked), R then
    /// steers its packets back to A, and A closes it gracefully, so the client sees a clean end of
    /// stream instead of a reset.
    /// </summary>
    ReturnFailed = 24,
    /// <summary>
    /// A → R: as <see cref="ReturnRequest"/>, with the head of the client's next request, which is
    /// already at A. R routes it; when it would go to A again R answers <see cref="Stay"/>,
    /// otherwise it blocks and sends <see cref="Freeze"/> as for a return request.
    /// </summary>
    NextRequest = 25,
    /// <summary>R → A: the next request is routed to you: serve it here, the connection does not come back now.</summary>
    Stay = 26,
}
