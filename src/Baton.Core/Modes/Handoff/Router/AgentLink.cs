using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Baton.Modes.Handoff.Protocol;
using Baton.Metrics;
using Baton.Steering;
using Microsoft.Extensions.Logging;
using Baton.Modes.Handoff.Repair;

namespace Baton.Modes.Handoff.Router;

/// <summary>
/// The router's persistent control link to one agent. It reconnects on its own; while it is down the
/// destination is unhealthy. It answers the agent's ReturnRequest by blocking the connection and
/// sending Freeze right in its receive loop, the shortest path from request to frozen.
/// </summary>
public sealed class AgentLink : IAsyncDisposable
{
    /// <summary>Forward entries of connections whose agent vanished stay this long, so that late
    /// packets meet the agent host's kernel (which resets a dead connection) and not ours.</summary>
    public static readonly TimeSpan OrphanGrace = TimeSpan.FromSeconds(30);

    private readonly ClusterKey _key;
    private readonly IFlowSteering _steering;
    private readonly ILogger _log;
    private readonly TimeSpan _closeGrace;
    // The hand-off target a decision names, when it is one a connection can pass to straight.
    private readonly Func<ITransferTarget, HandoffTarget?> _passable;
    private readonly ConcurrentDictionary<ulong, HandoffSession> _sessions = new();
    private readonly RouterStopping _stopping;
    // Takes over a connection the agent announces it holds since an earlier router run (Held).
    private readonly Action<AgentLink, ulong, IPEndPoint>? _onHeld;
    private readonly CancellationTokenSource _stop = new();
    private volatile ControlLink? _link;
    private Task? _run;

    /// <summary>Creates a link to the agent <paramref name="name"/> at <paramref name="endpoint"/>; call <see cref="Start"/>.</summary>
    internal AgentLink(string name, IPEndPoint endpoint, ClusterKey key, IFlowSteering steering, ILogger log, TimeSpan closeGrace,
        Func<ITransferTarget, HandoffTarget?> passable, RouterStopping? stopping = null, Action<AgentLink, ulong, IPEndPoint>? onHeld = null)
    {
        _passable = passable;
        _stopping = stopping ?? new RouterStopping();
        _onHeld = onHeld;
        Name = name;
        Endpoint = endpoint;
        _key = key;
        _steering = steering;
        _log = log;
        _closeGrace = closeGrace;
    }

    /// <summary>The agent's name.</summary>
    public string Name { get; }

    /// <summary>The agent's control address.</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>
    /// Whether the destination can take hand-offs: the link is up and authenticated, and the agent's
    /// application can serve (an agent forwarding to its origin says when that origin stops answering).
    /// </summary>
    public bool IsHealthy => _link is not null && _applicationServes;

    // What the agent last said of its application (ApplicationHealth); a new link starts as serving.
    private volatile bool _applicationServes = true;

    /// <summary>Connections currently owned by this agent or in transit to it.</summary>
    public int ActiveConnections => _sessions.Count;


    /// <summary>Starts connecting (and reconnecting) in the background.</summary>
    public void Start() => _run = Task.Run(() => RunAsync(_stop.Token));

    internal HandoffSession Begin(ulong id, IPEndPoint client, (INextRequestRouter Router, ITransferTarget Target)? next = null)
    {
        var s = new HandoffSession(id, client) { Next = next };
        _sessions[id] = s;
        return s;
    }

    internal void End(ulong id) => _sessions.TryRemove(id, out _);

    internal ValueTask SendAsync<T>(T message, ulong id) where T : IControlMessage<T>
    {
        var link = _link ?? throw new IOException($"control link to agent {Name} is down");
        return link.SendAsync(message, id);
    }

    /// <summary>
    /// The router could not restore connection <paramref name="id"/> after Returned: asks the
    /// agent to restore it from the snapshot it parked (ReturnFailed), and once it has (Ready)
    /// steers the packets, held meanwhile, there; the agent closes it normally and the entry goes
    /// after the close grace, as for Closed. Until the agent's Ready no packet may reach its host,
    /// which has no socket for the connection then and would answer with a reset. False when the
    /// link is down, the agent has nothing to restore or does not answer within
    /// <paramref name="timeout"/>, or steering fails: the connection is lost and the caller clears.
    /// </summary>
    internal async ValueTask<bool> ReturnFailedAsync(ulong id, IPEndPoint client, TimeSpan timeout)
    {
        var link = _link;
        if (link is null) return false;
        var session = Begin(id, client);
        try
        {
            await link.SendAsync(new ReturnFailed(), id).ConfigureAwait(false);
            if (await session.Ready.Task.WaitAsync(timeout).ConfigureAwait(false) is not null) return false;
            _steering.Forward(client, Name);
        }
        catch (Exception e) when (Faults.IsConnectionLost(e) || e is TimeoutException or SteeringException)
        {
            return false;
        }
        finally
        {
            End(id);
        }
        ScheduleClear(client, _closeGrace);
        return true;
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        bool warned = false;
        while (!ct.IsCancellationRequested)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            ControlLink? link = null;
            try
            {
                using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    connectTimeout.CancelAfter(TimeSpan.FromSeconds(2));
                    await socket.ConnectAsync(Endpoint, connectTimeout.Token).ConfigureAwait(false);
                    link = await ControlLink.EstablishAsync(new NetworkStream(socket, ownsSocket: true), _key, isRouter: true, connectTimeout.Token).ConfigureAwait(false);
                    var first = await link.ReceiveAsync(connectTimeout.Token).ConfigureAwait(false);
                    if (first is not { Type: ControlMessageType.Welcome } w) throw new ControlProtocolException("agent did not send Welcome");
                    var welcome = w.Read<Welcome>();
                    if (welcome.Name != Name)
                        throw new ControlProtocolException($"agent at {Endpoint} calls itself '{welcome.Name}', the configuration says '{Name}'");
                    _steering.AddBackend(Name, welcome.Mac);
                }
                _applicationServes = true;
                _link = link;
                warned = false;
                backoff = TimeSpan.FromMilliseconds(100);
                HandoffLog.AgentConnected(_log, Name, Endpoint);
                await ReceiveLoopAsync(link, ct).ConfigureAwait(false);
                HandoffLog.AgentClosed(_log, Name);
            }
            catch (Exception e) when (Faults.IsLinkFailure(e) || e is SteeringException)
            {
                if (ct.IsCancellationRequested) break;
                if (_link is not null || !warned)
                    HandoffLog.AgentUnavailable(_log, Name, Endpoint, e.Message);
                warned = true;
            }
            finally
            {
                _link = null;
                if (link is not null) await link.DisposeAsync().ConfigureAwait(false);
                else socket.Dispose();
                FailSessions();
            }
            try { await Task.Delay(backoff, ct).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
            backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 1000));
        }
    }

    private async Task ReceiveLoopAsync(ControlLink link, CancellationToken ct)
    {
        while (await link.ReceiveAsync(ct).ConfigureAwait(false) is { } m)
        {
            if (m.Type == ControlMessageType.ApplicationHealth)
            {
                OnApplicationHealth(m.Read<ApplicationHealth>());
                continue;
            }
            if (m.Type == ControlMessageType.Held)
            {
                if (!Held.TryRead(m.Payload, out var held)) throw new ControlProtocolException($"bad Held from agent {Name}");
                if (_sessions.ContainsKey(m.ConnectionId)) throw new ControlProtocolException($"agent {Name} announced connection {m.ConnectionId}, which is already known");
                if (_onHeld is null) throw new ControlProtocolException($"agent {Name} announced a held connection, which this router cannot take over");
                _onHeld(this, m.ConnectionId, held.Client);
                continue;
            }
            if (!_sessions.TryGetValue(m.ConnectionId, out var s))
            {
                HandoffLog.UnknownConnection(_log, Name, m.Type, m.ConnectionId);
                continue;
            }
            switch (m.Type)
            {
                case ControlMessageType.Ready:
                    s.Ready.TrySetResult(null);
                    break;
                case ControlMessageType.Refused:
                    s.Ready.TrySetResult(new(TransferError.Refused, m.Read<Refused>().Reason));
                    break;
                case ControlMessageType.NextRequest:
                case ControlMessageType.ReturnRequest:
                    var hop = m.Type == ControlMessageType.NextRequest && s.Next is { } next
                        ? next.Router.Route(next.Target, m.Read<NextRequest>().Head.Span)
                        : NextHop.Return;
                    if (hop.Kind == NextHopKind.Stay)
                    {
                        // The client's next request is routed to this agent again: it stays there.
                        s.Stays++;
                        BatonMetrics.Stays.Add(1);
                        await link.SendAsync(new Stay(), m.ConnectionId, ct).ConfigureAwait(false);
                        break;
                    }
                    // Routed to another agent: the snapshot goes there straight from Returned,
                    // without a restore here (HandoffTransfer); anything else comes back first.
                    // An adaptive destination passes too when it would hand this request off.
                    if (hop is { Kind: NextHopKind.Elsewhere, Target: { } decided, Via: { } via } && _passable(via) is { } to && to.Link != this && to.IsHealthy)
                        s.Pass = (to, decided);
                    long t0 = Stopwatch.GetTimestamp();
                    // Block before Freeze: the agent's dump must not race the client's next packets
                    // (held where steering can, replayed to our stack after the restore).
                    _steering.Hold(s.Client);
                    s.Timings.ReturnBlock = Stopwatch.GetTimestamp() - t0;
                    s.Timings.FreezeSentAt = Stopwatch.GetTimestamp();
                    await link.SendAsync(new Freeze(), m.ConnectionId, ct).ConfigureAwait(false);
                    break;
                case ControlMessageType.Returned:
                    s.Timings.ReturnRtt = Stopwatch.GetTimestamp() - s.Timings.FreezeSentAt;
                    _sessions.TryRemove(m.ConnectionId, out _);
                    if (Returned.TryRead(m.Payload, out var returned)) s.Back.TrySetResult(returned.Snapshot);
                    else s.Back.TrySetException(new ControlProtocolException($"bad snapshot from agent {Name}"));
                    break;
                case ControlMessageType.Closed:
                    _sessions.TryRemove(m.ConnectionId, out _);
                    // The agent closes normally: its FIN and the client's last ACK must travel, so
                    // forward (the entry may be blocked if we had asked for a return), then clear later.
                    if (s.Ready.Task.IsCompleted) _steering.Forward(s.Client, Name);
                    ScheduleClear(s.Client, _closeGrace);
                    s.Ready.TrySetResult(new(TransferError.DestinationClosed, "agent closed the connection"));
                    s.Back.TrySetResult(null);
                    break;
                default:
                    throw new ControlProtocolException($"unexpected {m.Type} from agent {Name}");
            }
        }
    }

    private void OnApplicationHealth(ApplicationHealth health)
    {
        if (health.CanServe == _applicationServes) return;
        _applicationServes = health.CanServe;
        if (health.CanServe) HandoffLog.ApplicationUp(_log, Name);
        else HandoffLog.ApplicationDown(_log, Name, health.Reason);
    }

    private void FailSessions()
    {
        foreach (var id in _sessions.Keys)
        {
            if (!_sessions.TryRemove(id, out var s)) continue;
            if (s.Ready.TrySetResult(new(TransferError.LinkDown, $"control link to agent {Name} lost"))) continue; // not moved: caller restores it
            // A restart leaves the connection where it is, steered there, for the next run to adopt.
            if (!_stopping.LeavesConnectionsAway) ScheduleClear(s.Client, OrphanGrace);
            s.Back.TrySetResult(null);
        }
    }

    private void ScheduleClear(IPEndPoint client, TimeSpan after)
    {
        _ = Task.Delay(after).ContinueWith(_ =>
        {
            try { _steering.Clear(client); }
            catch (Exception e) when (e is SteeringException or ObjectDisposedException) { }
        }, TaskScheduler.Default);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        var link = _link;
        if (link is not null) await link.DisposeAsync().ConfigureAwait(false);
        if (_run is not null) await _run.ConfigureAwait(false);
    }
}

/// <summary>Router-side state of one connection while it is away at an agent.</summary>
internal sealed class HandoffSession(ulong id, IPEndPoint client)
{
    public ulong Id { get; } = id;
    public IPEndPoint Client { get; } = client;
    // Continuations run inline, on the link's receive loop: the hand-off continues (steer, Go,
    // close) and the return completes (restore, clear) without another thread-pool hop, each a few
    // tens of µs on a busy 2-core host. Both paths are short and never block.
    /// <summary>null when the agent is Ready; otherwise why it is not.</summary>
    public TaskCompletionSource<TransferFailure?> Ready { get; } = new();
    /// <summary>The returned connection's snapshot, or null when it ended at the agent.</summary>
    public TaskCompletionSource<TcpSnapshot?> Back { get; } = new();
    public HandoffTimings Timings { get; } = new();
    /// <summary>
    /// Who routes the head of the client's next request (NextRequest) while the connection is at the
    /// agent, and the destination the agent is to the router: when the request goes there again the
    /// agent serves it and nothing moves. Asked on the link's receive loop.
    /// </summary>
    public (INextRequestRouter Router, ITransferTarget Target)? Next { get; init; }
    /// <summary>Requests served at the agent after a Stay, since the hand-off.</summary>
    public int Stays { get; set; }
    /// <summary>
    /// Where the connection goes straight from Returned (its next request is routed to that agent),
    /// if anywhere, and the destination the router decided: the same target, or the adaptive
    /// destination whose hand-off it is.
    /// </summary>
    public (HandoffTarget To, ITransferTarget Decided)? Pass { get; set; }
}
