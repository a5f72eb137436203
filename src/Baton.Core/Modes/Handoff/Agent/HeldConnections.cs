namespace Baton.Modes.Handoff.Agent;

/// <summary>
/// The connections an agent holds across the loss of its router link. When a link ends (the
/// router stopped, restarted or was upgraded), its live connections are not cut: each finishes its
/// transaction and waits up to <see cref="RelinkGrace"/> for a router to link again; the next link
/// takes them all over (<see cref="TakeAll"/>) and announces each (Held) before anything else, and
/// each gives itself back through it. One that waits in vain closes normally, here.
/// </summary>
internal sealed class HeldConnections
{
    /// <summary>How long a connection waits for a router after its link ended.</summary>
    public static readonly TimeSpan RelinkGrace = TimeSpan.FromSeconds(10);

    private readonly object _gate = new();
    private readonly Dictionary<ulong, AgentConnection> _orphans = new();

    /// <summary>Keeps <paramref name="connection"/>, whose link ended, for the next link.</summary>
    public void Orphan(AgentConnection connection)
    {
        lock (_gate) _orphans[connection.ConnectionId] = connection;
    }

    /// <summary>Every connection waiting for a link, now the new link's to announce.</summary>
    public List<AgentConnection> TakeAll()
    {
        lock (_gate)
        {
            var all = _orphans.Values.ToList();
            _orphans.Clear();
            return all;
        }
    }

    /// <summary>Gives up waiting for <paramref name="connection"/>; false when a link took it meanwhile.</summary>
    public bool Abandon(AgentConnection connection)
    {
        lock (_gate) return _orphans.Remove(connection.ConnectionId);
    }

    /// <summary>How many connections wait for a link now.</summary>
    public int Count
    {
        get { lock (_gate) return _orphans.Count; }
    }
}
