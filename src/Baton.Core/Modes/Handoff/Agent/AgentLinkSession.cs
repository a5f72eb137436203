using Baton.Metrics;
using Baton.Interop;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Baton.Modes.Handoff.Protocol;
using Baton.Application;
using Baton.Http;
using Microsoft.Extensions.Logging;
using Baton.Modes.Handoff.Repair;

namespace Baton.Modes.Handoff.Agent;

/// <summary>
/// The agent's side of one control link: restores what the router hands over, activates it on Go,
/// and carries each connection's return.
/// </summary>
internal sealed class AgentLinkSession(ControlLink link, System.Net.Sockets.Socket socket, AgentOptions options, DeliveryWatch delivery, ILogger log,
    HeldConnections held, CancellationToken stopping)
{
    private readonly ConcurrentDictionary<ulong, (RepairedSocket Socket, long Started)> _restored = new();
    private readonly ConcurrentDictionary<ulong, AgentConnection> _live = new();
    private readonly ConcurrentDictionary<ulong, Parked> _parked = new();
    // The same parked snapshots by 4-tuple: a hand-off looks its tuple up here on every restore, where
    // a scan of _parked (a second's worth of returns) cost ~13 µs per hand-off in bench/run.sh.
    private readonly ConcurrentDictionary<(IPEndPoint Local, IPEndPoint Remote), Parked> _parkedFlows = new();
    private readonly CancellationTokenSource _closing = new();
    // Expires restored copies without Go and parked copies, every SweepInterval: one timer per
    // link, not two per hand-off and return (each a pending timer for 1–10 s at thousands a second).
    private Timer? _sweep;
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMilliseconds(250);

    internal AgentOptions Options => options;
    internal DeliveryWatch Delivery => delivery;
    internal ILogger Log => log;
    internal CancellationToken Closing => _closing.Token;

    /// <summary>Whether this link has ended.</summary>
    internal bool IsClosed => _closing.IsCancellationRequested;

    /// <summary>The agent's own stop: what ends the application's work, unlike the end of a link.</summary>
    internal CancellationToken Stopping => stopping;

    /// <summary>Where this agent keeps connections across links.</summary>
    internal HeldConnections Held => held;

    public async Task RunAsync(CancellationToken ct)
    {
        _sweep = new Timer(static s => ((AgentLinkSession)s!).Sweep(), this, SweepInterval, SweepInterval);
        await link.SendAsync(new Welcome(options.Name, options.Mac), 0, ct).ConfigureAwait(false);
        // Connections an earlier link left here: announced before anything else, so the router
        // knows each before it hears of it again (its return, its next request).
        foreach (var c in held.TakeAll())
        {
            _live[c.ConnectionId] = c;
            await link.SendAsync(new Held(c.Client), c.ConnectionId, ct).ConfigureAwait(false);
            c.Rebind(this);
            AgentLog.Reannounced(log, c.ConnectionId, c.Client);
        }
        var health = options.Application as IApplicationHealth;
        if (health is not null)
        {
            health.HealthChanged += TellHealth;
            await SendHealthAsync(health).ConfigureAwait(false);
        }
        try
        {
            // Handoff (restore, Ready) and Freeze (dump, Returned) run on the link's thread to the end,
            // its answers sent synchronously (ControlLink.Send): nothing there blocks on an async call.
            // Go and Stay hand the connection to the pool, which runs the application.
            await LinkReceiveThread.RunAsync(link, socket, "baton link", OnMessage, ct).ConfigureAwait(false);
        }
        finally
        {
            if (health is not null) health.HealthChanged -= TellHealth;
        }
    }

    private readonly SemaphoreSlim _healthGate = new(1, 1);

    private void TellHealth() => _ = SendHealthAsync((IApplicationHealth)options.Application);

    // The state is read under the gate: of two changes in quick succession the router hears the later one last.
    private async Task SendHealthAsync(IApplicationHealth health)
    {
        await _healthGate.WaitAsync().ConfigureAwait(false);
        try
        {
            var (canServe, reason) = health.Health;
            await link.SendAsync(new ApplicationHealth(canServe, reason), 0).ConfigureAwait(false);
        }
        catch (Exception e) when (Faults.IsConnectionLost(e)) { } // the link is gone: the next one is told afresh
        finally
        {
            _healthGate.Release();
        }
    }

    private void OnMessage(ControlMessage m)
    {
        switch (m.Type)
        {
            case ControlMessageType.HandoffRequest:
                OnHandoff(m);
                break;
            case ControlMessageType.Go:
                OnGo(m);
                break;
            case ControlMessageType.Freeze:
                if (_live.TryGetValue(m.ConnectionId, out var conn)) conn.OnFreeze();
                break;
            case ControlMessageType.Stay:
                if (_live.TryGetValue(m.ConnectionId, out var staying)) staying.OnStay();
                break;
            case ControlMessageType.ReturnFailed:
                OnReturnFailed(m.ConnectionId);
                break;
            default:
                throw new ControlProtocolException($"unexpected {m.Type} from the router");
        }
    }

    // Restores the connection and answers, on the link's thread: the router waits for this answer
    // before it sends anything more about the connection.
    private void OnHandoff(ControlMessage m)
    {
        long t0 = Stopwatch.GetTimestamp();
        try
        {
            // A payload that is not a snapshot is refused like one that cannot be restored: the router keeps the connection.
            if (!HandoffRequest.TryRead(m.Payload, out var handoff)) throw new FormatException("malformed snapshot");
            var snapshot = handoff.Snapshot;
            // The router restored a connection we returned and hands it here again.
            DropParked(snapshot.Local, snapshot.Remote);
            var repaired = TcpRepair.Restore(snapshot);
            _restored[m.ConnectionId] = (repaired, t0);
        }
        catch (Exception e) when (Faults.IsNotMovable(e) || e is FormatException or ArgumentException)
        {
            AgentLog.HandoffRefused(log, m.ConnectionId, e.Message);
            BatonMetrics.AgentHandoffs.Add(1, new KeyValuePair<string, object?>("result", "refused"));
            link.Send(new Refused(e.Message), m.ConnectionId);
            return;
        }
        // Diagnostics only (AgentOptions.FreezeDelay); the link's other messages wait meanwhile.
        if (options.FreezeDelay > TimeSpan.Zero) Thread.Sleep(options.FreezeDelay);
        link.Send(new Ready(), m.ConnectionId);
    }

    private void OnGo(ControlMessage m)
    {
        if (!_restored.TryRemove(m.ConnectionId, out var r))
            throw new ControlProtocolException($"Go for unknown connection {m.ConnectionId}");
        var handoff = m.Read<Go>().HandoffTime;
        System.Net.Sockets.Socket socket;
        try
        {
            socket = r.Socket.Activate();
        }
        catch (NativeCallException e)
        {
            // Repair could not be left: the socket is gone, so is the connection. Tell the router to clean up.
            AgentLog.ActivateFailed(log, m.ConnectionId, e.Message);
            link.Send(new Closed(), m.ConnectionId);
            return;
        }
        var conn = new AgentConnection(m.ConnectionId, socket, handoff, this);
        _live[m.ConnectionId] = conn;
        BatonMetrics.AgentHandoffs.Add(1, new KeyValuePair<string, object?>("result", "taken"));
        BatonMetrics.AgentConnectionsHeld.Add(1);
        _ = Task.Run(async () =>
        {
            try { await conn.RunAsync().ConfigureAwait(false); }
            catch (Exception e)
            {
                AgentLog.ConnectionFailed(log, e, m.ConnectionId);
                socket.Dispose();
                Forget(m.ConnectionId);
            }
        });
    }

    /// <summary>
    /// A restored connection the router never sends Go for (its steering failed after Ready) is
    /// dropped silently: the router kept the connection, so this copy must never go live.
    /// </summary>
    internal static readonly TimeSpan GoTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Drops what outlived its wait: restored copies without Go, parked copies past their grace.</summary>
    private void Sweep()
    {
        long now = Stopwatch.GetTimestamp();
        foreach (var (id, r) in _restored)
            if (Stopwatch.GetElapsedTime(r.Started, now) >= GoTimeout && _restored.TryRemove(KeyValuePair.Create(id, r)))
                r.Socket.Dispose();
        foreach (var (_, p) in _parked)
            if (Stopwatch.GetElapsedTime(p.Since, now) >= ParkGrace) Unpark(p);
    }

    /// <summary>
    /// How long a returned connection's snapshot stays parked. The router answers Returned with
    /// ReturnFailed within microseconds of its failed restore, so this only has to outlast a slow
    /// control link; after it the snapshot is dropped (the router has the connection, or lost it).
    /// Swept every <see cref="SweepInterval"/>, so a snapshot goes between 1 and 1.25 s after parking.
    /// </summary>
    internal static readonly TimeSpan ParkGrace = TimeSpan.FromSeconds(1);

    private sealed record Parked(ulong Id, TcpSnapshot Snapshot, long Since);

    /// <summary>
    /// Keeps a returned connection's snapshot (its socket is already closed, silently) until the
    /// router either fails to restore it (ReturnFailed), hands the same connection here again, or
    /// <see cref="ParkGrace"/> passes.
    /// </summary>
    internal void Park(ulong id, TcpSnapshot snapshot)
    {
        var parked = new Parked(id, snapshot, Stopwatch.GetTimestamp());
        _parked[id] = parked;
        _parkedFlows[(snapshot.Local, snapshot.Remote)] = parked;
        // Abandon may have run meanwhile: then nobody else will drop it.
        if (_closing.IsCancellationRequested) Unpark(parked);
    }

    /// <summary>Takes the parked snapshot out of both maps; false when someone else took it first.</summary>
    private bool Unpark(Parked parked)
    {
        _parkedFlows.TryRemove(KeyValuePair.Create((parked.Snapshot.Local, parked.Snapshot.Remote), parked));
        return _parked.TryRemove(KeyValuePair.Create(parked.Id, parked));
    }

    /// <summary>The same connection is handed here again: its parked snapshot is out of date.</summary>
    private void DropParked(IPEndPoint local, IPEndPoint remote)
    {
        if (_parkedFlows.TryGetValue((local, remote), out var p)) Unpark(p);
    }

    /// <summary>
    /// The router could not restore the connection we returned: it is restored here from the
    /// parked snapshot and goes live (the router still holds the client's packets), the router is
    /// told (Ready) and steers the packets here, and the connection ends with a FIN after whatever
    /// is still in its send queue: the client reads the whole response and then a clean end of
    /// stream. Refused when there is nothing to restore, so the router stops waiting at once.
    /// </summary>
    private void OnReturnFailed(ulong id)
    {
        if (!_parked.TryGetValue(id, out var p) || !Unpark(p))
        {
            AgentLog.ReturnFailedUnknown(log, id);
            link.Send(new Refused("not parked here"), id);
            return;
        }
        System.Net.Sockets.Socket socket;
        try
        {
            socket = TcpRepair.Restore(p.Snapshot).Activate();
        }
        catch (NativeCallException e)
        {
            AgentLog.ResumeFailed(log, id, e.Message);
            link.Send(new Refused(e.Message), id);
            return;
        }
        AgentLog.ReturnFailed(log, id);
        link.Send(new Ready(), id);
        _ = GracefulClose.CloseAsync(socket);
    }

    internal ValueTask SendAsync<T>(T message, ulong id) where T : IControlMessage<T> =>
        link.SendAsync(message, id);

    internal void Forget(ulong id)
    {
        if (_live.TryRemove(id, out _)) BatonMetrics.AgentConnectionsHeld.Add(-1);
    }

    /// <summary>
    /// The link is gone: drop restored-but-not-live sockets silently and parked snapshots; live ones
    /// finish their transaction and wait for the next link (<see cref="HeldConnections"/>), unless
    /// the agent itself is stopping.
    /// </summary>
    internal void Abandon()
    {
        if (!stopping.IsCancellationRequested)
            foreach (var c in _live.Values)
            {
                c.Orphaned();
                held.Orphan(c);
            }
        _closing.Cancel();
        _sweep?.Dispose();
        foreach (var id in _restored.Keys)
            if (_restored.TryRemove(id, out var r)) r.Socket.Dispose();
        foreach (var (_, p) in _parked) Unpark(p);
    }
}
