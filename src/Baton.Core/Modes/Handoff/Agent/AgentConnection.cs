using Baton.Interop;
using System.Diagnostics;
using System.Net.Sockets;
using Baton.Modes.Handoff.Protocol;
using Baton.Http;
using Microsoft.Extensions.Logging;
using Baton.Application;
using Baton.Modes.Handoff.Repair;

namespace Baton.Modes.Handoff.Agent;

/// <summary>
/// One connection while this agent owns it: serve one transaction, then hand it back (or close it
/// when the client or the application asked for close). When the client's next request is already
/// here, its head goes to the router with the return request (NextRequest): the router routes it
/// as if the connection had come back, and when it would come straight back here it answers Stay
/// and the connection serves that request here without a return and a new hand-off.
/// </summary>
internal sealed class AgentConnection(ulong id, Socket socket, TimeSpan handoff, AgentLinkSession linkedTo)
    : HeldConnection(id, socket, new HttpInput(socket))
{
    internal static readonly TimeSpan NextRequestWait = TimeSpan.FromMilliseconds(2);
    internal static readonly TimeSpan AckWait = TimeSpan.FromMilliseconds(20);

    private enum Verdict { Stay, Freeze, NoAnswer }

    // The link this connection is given back through: the one it came by, or the one that took it
    // over after that link ended (Rebind).
    private AgentLinkSession _session = linkedTo;
    // Completed by Rebind: set when the connection is orphaned, waited on by GiveBackAsync.
    private TaskCompletionSource _rebound = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The router's id of the connection.</summary>
    public ulong ConnectionId => Id;

    /// <summary>The client's address and port.</summary>
    public System.Net.IPEndPoint Client { get; } = (System.Net.IPEndPoint)socket.RemoteEndPoint!;

    /// <summary>Its link ended: from now on it waits for the next (<see cref="Rebind"/>) when it gives itself back.</summary>
    public void Orphaned() => Volatile.Write(ref _rebound, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>A new link has announced the connection to its router (Held): it gives itself back through that one.</summary>
    public void Rebind(AgentLinkSession session)
    {
        _session = session;
        Volatile.Read(ref _rebound).TrySetResult();
    }

    /// <summary>
    /// Whether a link to a router is there to give the connection back through: its own, or one
    /// that took it over within <see cref="HeldConnections.RelinkGrace"/>. False: the connection
    /// closes here.
    /// </summary>
    private async Task<bool> LinkedAsync()
    {
        var session = _session;
        if (!session.IsClosed) return true;
        var rebound = Volatile.Read(ref _rebound).Task;
        try
        {
            await rebound.WaitAsync(HeldConnections.RelinkGrace, session.Stopping).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // Taken over by a link at the last moment: give it back through that one after all.
            if (!session.Held.Abandon(this)) return true;
            AgentLog.NoRouterCame(session.Log, Id, HeldConnections.RelinkGrace);
            return false;
        }
    }

    // Per return request: the router's answer, or NoAnswer after FreezeTimeout (or at shutdown).
    private TaskCompletionSource<Verdict> _verdict = NewVerdict();
    private TimeSpan _transferTime = handoff;
    private bool _stay;
    // Refilled for each next request's length (NextHeadLengthAsync): no allocation per request.
    private readonly RequestHead _next = new();

    protected override string HostName => _session.Options.Name;
    protected override IBatonApplication Application => _session.Options.Application;
    protected override int HeadLimit => _session.Options.HeadLimit;
    protected override TimeSpan HeadTimeout => TimeSpan.FromSeconds(10);
    // The application stops for the agent's own stop, not for a lost link: the connection outlives that.
    protected override CancellationToken Closing => _session.Stopping;
    protected override ILogger Log => _session.Log;
    // Zero for requests served after a Stay: no hand-off brought them here.
    protected override TimeSpan TransferTime => _transferTime;

    // Continuations run where the verdict is set (no RunContinuationsAsynchronously): Freeze's on
    // the link's receive loop, so the dump and Returned follow at once, without a thread-pool hop
    // (a median 12 µs but a p90 of ~150 µs of the Freeze → Returned round trip in bench/run.sh).
    private static TaskCompletionSource<Verdict> NewVerdict() => new();

    /// <summary>On the link's receive loop: the dump and Returned run inline (short, never blocks).</summary>
    public void OnFreeze() => _verdict.TrySetResult(Verdict.Freeze);

    /// <summary>
    /// The next request is served here: on the thread pool, not on the link's receive loop, which
    /// must not run the application.
    /// </summary>
    public void OnStay() =>
        ThreadPool.UnsafeQueueUserWorkItem(static v => v.TrySetResult(Verdict.Stay), _verdict, preferLocal: false);

    public async Task RunAsync()
    {
        // A loop, not a call from GiveBackAsync: a connection that stays for many requests must not
        // build a chain of awaits, one per request.
        do
        {
            _stay = false;
            await ServeAsync().ConfigureAwait(false);
            _transferTime = TimeSpan.Zero;
        }
        while (_stay);
    }

    protected override async Task GiveBackAsync()
    {
        var log = _session.Log;
        if (!await WaitSentAsync().ConfigureAwait(false))
        {
            AgentLog.DrainTimedOut(log, Id, _session.Options.DrainTimeout);
            await CloseAsync().ConfigureAwait(false);
            return;
        }

        Verdict verdict;
        while (true)
        {
            if (!await LinkedAsync().ConfigureAwait(false))
            {
                await CloseAsync().ConfigureAwait(false);
                return;
            }
            var session = _session;
            _verdict = NewVerdict(); // before the request: the answer may come back at once
            int next = await NextHeadLengthAsync().ConfigureAwait(false);
            try
            {
                if (next > 0)
                    await session.SendAsync(new NextRequest(Input.Unread[..next].ToArray()), Id).ConfigureAwait(false);
                else
                    await session.SendAsync(new ReturnRequest(), Id).ConfigureAwait(false);
            }
            catch (Exception e) when (Faults.IsConnectionLost(e) && session.IsClosed)
            {
                continue; // the link ended as we asked: ask the next router
            }
            using (var noAnswer = CancellationTokenSource.CreateLinkedTokenSource(session.Closing))
            {
                noAnswer.CancelAfter(session.Options.FreezeTimeout);
                // Runs on a timer's pool thread: the close that follows does not hold up the link.
                using var reg = noAnswer.Token.UnsafeRegister(static v => ((TaskCompletionSource<Verdict>)v!).TrySetResult(Verdict.NoAnswer), _verdict);
                verdict = await _verdict.Task.ConfigureAwait(false);
            }
            if (verdict != Verdict.NoAnswer) break;
            if (session.IsClosed) continue; // no answer because the link ended: the next router's
            AgentLog.NotFrozen(log, Id);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        if (verdict == Verdict.Stay)
        {
            _stay = true; // RunAsync serves the next request here
            return;
        }

        // Diagnostics only (AgentOptions.FreezeDelay): the router holds the connection frozen meanwhile.
        if (_session.Options.FreezeDelay > TimeSpan.Zero) await Task.Delay(_session.Options.FreezeDelay).ConfigureAwait(false);
        TcpSnapshot snapshot;
        try
        {
            snapshot = TcpRepair.DumpAndClose(Socket).WithUnreadPrefix(Input.Unread);
        }
        catch (Exception e) when (Faults.IsNotMovable(e))
        {
            // Typically the client closed meanwhile (CLOSE_WAIT): finish the close here, normally.
            AgentLog.ClosesHere(log, Id, e.Message);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        // Closed at once by the dump, in repair mode: nothing is sent and every timer stops. A copy
        // kept open in repair mode still fired its delayed ACK and window updates while the next
        // owner had the connection (OneOwnerTests). The snapshot is parked instead, for a short
        // grace: if the router cannot restore it (ReturnFailed), it is restored here and ends cleanly.
        Input.Dispose();
        _session.Forget(Id);
        _session.Park(Id, snapshot);
        await _session.SendAsync(new Returned(snapshot), Id).ConfigureAwait(false);
    }

    /// <summary>
    /// The length of the next request's head when it is complete in what the client has sent so far
    /// (0 otherwise): the router routes it without the connection. Only bytes already queued are
    /// read, so this never waits; they travel in the snapshot if the connection is returned.
    /// </summary>
    private async ValueTask<int> NextHeadLengthAsync()
    {
        if (Socket.Available > 0 && await Input.FillAsync(_session.Closing).ConfigureAwait(false) == 0) return 0;
        if (Input.Unread.IsEmpty) return 0;
        var r = RequestHeadParser.Parse(Input.Unread, _next, HeadLimit);
        // An invalid head goes back to the router, which refuses it as if it had come back whole.
        return r.Status == ParseStatus.Complete ? _next.Length : 0;
    }

    private async Task<bool> WaitSentAsync()
    {
        if (TcpRepair.Unsent(Socket) > 0) return await _session.Delivery.WaitAsync(Socket, _session.Options.DrainTimeout).ConfigureAwait(false);
        // Sent is not received: a large response is still in flight (up to a congestion window)
        // when the last byte leaves, and the client asks its next question only after the last
        // byte arrives. Wait for the acknowledgment of everything sent (bounded by AckWait), so
        // the next request can still meet the connection here (the same-target shortcut, or the
        // snapshot) and the returned send queue is empty (a restored one is resent only after an
        // RTO, DESIGN.md §6). bench/compare.sh, handoff-same, 1 MiB, 32 connections: router CPU
        // 65–74 µs/request and ~1,200 requests/s with this wait, 181–185 µs and ~640/s without.
        // poll(2), not timers: a 1 ms timer tick alone doubled the median latency. A real poll(2)
        // with a timeout, not Socket.Poll: that takes microseconds and passes them on as
        // microseconds / 1000 ms, so the 250 µs slices used before were poll(0), a spin on the
        // cores the router and the client share. bench/run.sh, agents' CPU per request: 2355 µs
        // with the spin, 1105 µs with poll(2); requests/s 662 → 981 (2026-12-01, one quiet host).
        // Then wait briefly for the client's next request before asking for the return. A client
        // that sends it right after reading the response would otherwise often hit the router's
        // block (resent only after a >= 200 ms RTO without the hold queue: ~1 request in 15 in
        // bench/run.sh); waiting, the request travels with the connection instead. Bounded: a
        // client with think time costs at most NextRequestWait per request.
        // All of it, the wait for the send queue to empty included, runs on the agent's one
        // DeliveryWatch thread: a thread-pool thread held in poll(2) per waiting connection starved
        // the pool with a few dozen connections. The client's next request already here: no wait.
        if (Socket.Available == 0) await _session.Delivery.WaitAsync(Socket).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Ends the connection here. The router is told first so its steering sends the close handshake
    /// here (and removes the entry after a grace period).
    /// </summary>
    protected override async Task CloseAsync()
    {
        _session.Forget(Id);
        try { await _session.SendAsync(new Closed(), Id).ConfigureAwait(false); }
        catch (Exception e) when (Faults.IsConnectionLost(e)) { }
        await GracefulClose.CloseAsync(Socket).ConfigureAwait(false);
        Input.Dispose();
    }
}
