using System.Net;

namespace Baton.Modes;

/// <summary>
/// How a router stops: by default it takes its connections back (or lets them end) and removes its
/// steering; a restart (<see cref="LeavesConnectionsAway"/>) leaves the connections that are away
/// at destinations where they are, steered there, for the next run to adopt.
/// </summary>
internal sealed class RouterStopping
{
    private volatile bool _leaves;

    /// <summary>Whether this stop leaves connections away where they are (a restart or upgrade).</summary>
    public bool LeavesConnectionsAway
    {
        get => _leaves;
        set => _leaves = value;
    }
}

/// <summary>
/// The router's side of a connection a mode finds away at a destination that an earlier run of
/// the router moved there (after a restart): the router makes its record of it, routes its next
/// requests, and takes it back as its own when the mode brings it back.
/// </summary>
internal interface IConnectionAdopter
{
    /// <summary>The router's new record of the connection from <paramref name="client"/>, which is at <paramref name="target"/> now.</summary>
    AdoptedConnection Adopt(ITransferTarget target, IPEndPoint client);

    /// <summary>A connection the previous run held itself when it stopped, restored here, live: served as one just accepted.</summary>
    void AdoptParked(System.Net.Sockets.Socket socket);
}

/// <summary>Keeps a connection the router holds itself across a restart; what a mode that can offers the router.</summary>
internal interface IConnectionParking
{
    /// <summary>
    /// Parks the connection on <paramref name="socket"/>, with <paramref name="unread"/> read from it
    /// but not consumed, for the next run; false when it cannot (not a restart, or not movable),
    /// and then the connection is as it was.
    /// </summary>
    bool TryPark(System.Net.Sockets.Socket socket, ReadOnlySpan<byte> unread);

    /// <summary>Whether this run took over connections a previous run left (parked here, or away at agents).</summary>
    bool TookOver { get; }
}

/// <summary>
/// What <see cref="IConnectionAdopter.Adopt"/> gives the mode: who routes the connection's next
/// requests while it is away (null: every request comes back), and how to start the record with the
/// transfer that ends when the connection is back at the router or ended.
/// </summary>
internal sealed record AdoptedConnection(INextRequestRouter? NextRequests, Action<Task<TransferOutcome>> Start);
