using System.Net;

namespace Baton.Router;

/// <summary>
/// One client connection going somewhere: to a destination (handoff, pass, stay, relay, local),
/// back to the router (return), or answered by the router itself.
/// </summary>
/// <param name="From">"router" or the destination it was at.</param>
/// <param name="To">"router" or the destination it goes to.</param>
public readonly record struct ConnectionMove(DateTime At, string Client, string From, string To, string How);

/// <summary>
/// The router's moves as they happen, for whoever watches (the live view). Nothing is made while
/// nobody does: a connection only reads one field per routing decision.
/// </summary>
public sealed class MoveFeed
{
    private volatile Action<ConnectionMove>? _watchers;
    private readonly object _gate = new();

    /// <summary>Whether anyone watches now.</summary>
    public bool Watched => _watchers is not null;

    /// <summary>Calls <paramref name="watcher"/> for every move (on the connection's thread: keep it short) until the returned handle is disposed.</summary>
    public IDisposable Watch(Action<ConnectionMove> watcher)
    {
        lock (_gate) _watchers += watcher;
        return new Unwatch(this, watcher);
    }

    internal void Publish(IPEndPoint client, string from, string to, string how)
    {
        if (_watchers is { } w) w(new ConnectionMove(DateTime.UtcNow, client.ToString(), from, to, how));
    }

    private sealed class Unwatch(MoveFeed feed, Action<ConnectionMove> watcher) : IDisposable
    {
        public void Dispose()
        {
            lock (feed._gate) feed._watchers -= watcher;
        }
    }
}
