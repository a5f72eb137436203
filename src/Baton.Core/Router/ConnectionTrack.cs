using System.Net;

namespace Baton.Router;

/// <summary>
/// Where one client connection is and its last routing decisions, for <see cref="IRouterControl.Connection"/>.
/// A fixed ring of <see cref="Kept"/> hops, written under a lock that only an operator's read
/// contends: no allocation per request.
/// </summary>
internal sealed class ConnectionTrack(IPEndPoint client, MoveFeed moves)
{
    /// <summary>How many of a connection's decisions are kept.</summary>
    public const int Kept = 16;

    private readonly ConnectionHop[] _ring = new ConnectionHop[Kept];
    private readonly DateTime _opened = DateTime.UtcNow;
    private long _requests;
    private string _at = "router";

    public IPEndPoint Client => client;

    /// <summary>A request was routed: to <paramref name="destination"/> (null: the router answered), <paramref name="how"/>.</summary>
    public void Routed(string? cluster, string? destination, string how)
    {
        string from;
        lock (_ring)
        {
            _ring[_requests % Kept] = new ConnectionHop(DateTime.UtcNow, cluster, destination, how);
            _requests++;
            from = _at;
            if (destination is not null) _at = destination;
        }
        if (moves.Watched) moves.Publish(client, from, destination ?? "router", how);
    }

    /// <summary>The connection is back at the router.</summary>
    public void Back()
    {
        string from;
        lock (_ring)
        {
            from = _at;
            _at = "router";
        }
        if (moves.Watched && from != "router") moves.Publish(client, from, "router", "return");
    }

    public ConnectionStatus Snapshot()
    {
        lock (_ring)
        {
            int n = (int)Math.Min(_requests, Kept);
            var hops = new ConnectionHop[n];
            for (int i = 0; i < n; i++) hops[i] = _ring[(_requests - n + i) % Kept];
            return new ConnectionStatus(client.ToString(), _opened, _at, _requests, hops);
        }
    }
}
