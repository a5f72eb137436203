using System.Net;

namespace Baton.Router;

/// <summary>
/// What an operator may see and change in a running router (the admin API and <c>baton ctl</c>
/// drive it): its destinations, drain, a reload of its configuration file, one connection's path.
/// </summary>
public interface IRouterControl
{
    /// <summary>Every destination of every cluster in force, in configuration order.</summary>
    IReadOnlyList<DestinationStatus> Destinations();

    /// <summary>
    /// Drains (<paramref name="draining"/> true) or restores destination <paramref name="name"/>
    /// in every cluster that lists it; false when the router knows no such destination.
    /// </summary>
    bool SetDraining(string name, bool draining);

    /// <summary>Reads the configuration file again and puts it in force, or refuses it whole.</summary>
    ReloadResult Reload();

    /// <summary>The client connection from <paramref name="client"/>, or null when there is none now.</summary>
    ConnectionStatus? Connection(IPEndPoint client);

    /// <summary>How many client connections the router holds or has away now.</summary>
    int ConnectionCount { get; }

    /// <summary>Every move of every connection, as it happens, for a watcher (the live view).</summary>
    MoveFeed Moves { get; }
}

/// <summary>One destination of one cluster, as the balancer sees it now.</summary>
/// <param name="Health">What the probes say: unknown, healthy or unhealthy (a link or worker down counts as unhealthy).</param>
/// <param name="Available">Whether the balancer may choose it: not draining, and not unhealthy.</param>
/// <param name="Active">Transactions at it now, from any cluster: the load the balancer sees.</param>
/// <param name="Connections">Client connections its agent owns or is being handed (hand-off); 0 for other transfers.</param>
public sealed record DestinationStatus(string Cluster, string Name, string Transfer, string Address, string Health, bool Available, bool Draining, int Active, int Connections)
{
    /// <summary>Whether nothing is left at the destination: no transaction and no connection.</summary>
    public bool Idle => Active == 0 && Connections == 0;
}

/// <summary>What a reload did: <paramref name="Message"/> says what was applied, or every reason it was refused.</summary>
public sealed record ReloadResult(bool Applied, string Message);

/// <summary>One client connection: where it is now and the last moves it made.</summary>
/// <param name="At">"router" while the router holds it, else the destination that has it.</param>
/// <param name="Requests">Requests routed on it so far.</param>
/// <param name="Hops">The last <see cref="ConnectionTrack.Kept"/> routing decisions, oldest first.</param>
public sealed record ConnectionStatus(string Client, DateTime Opened, string At, long Requests, IReadOnlyList<ConnectionHop> Hops);

/// <summary>
/// One routing decision on a connection: at <paramref name="At"/> (UTC) its request went to
/// <paramref name="Destination"/> of <paramref name="Cluster"/>, <paramref name="How"/>: handoff,
/// pass (straight from the previous agent), stay (served where it was), relay, local, router (the
/// router answered), or the status the router answered with.
/// </summary>
public readonly record struct ConnectionHop(DateTime At, string? Cluster, string? Destination, string How);
