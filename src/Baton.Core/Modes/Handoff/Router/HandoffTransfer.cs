using Baton.Interop;
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
/// Moves a live connection to an agent's host and takes it back after the transaction, following
/// DESIGN.md §3. The rule behind every step: no host may see a packet of the connection while it
/// has no socket for it, or its kernel answers with a reset.
/// </summary>
public sealed class HandoffTransfer(IFlowSteering steering, TimeSpan readyTimeout, ILogger log)
{
    // Connection ids start at a random point per run: a router started after another (a restart)
    // adopts that run's connections from the agents under their old ids (Held), and must not give
    // its own new ones the same ids.
    private long _nextId = Random.Shared.NextInt64(1, long.MaxValue / 2);

    /// <summary>Per-cycle timings, when a collector is attached (the bench does).</summary>
    public Action<HandoffTimings>? OnCycle { get; set; }

    /// <summary>
    /// Hands <paramref name="socket"/> (with <paramref name="unread"/>, the bytes the router already
    /// read from it) to <paramref name="agent"/>, and waits for it to come back.
    /// <paramref name="next"/> routes a next request the agent reports while it holds the
    /// connection, as if it were the target <paramref name="next"/> names (see
    /// <see cref="HandoffSession.Next"/>); null: every request comes back.
    /// </summary>
    public async Task<TransferOutcome> TransferAsync(Socket socket, ReadOnlyMemory<byte> unread, AgentLink agent, CancellationToken ct,
        (INextRequestRouter Router, ITransferTarget Target)? next = null)
    {
        var client = (IPEndPoint)socket.RemoteEndPoint!;
        ulong id = (ulong)Interlocked.Increment(ref _nextId);
        var session = agent.Begin(id, client, next);
        var t = session.Timings;
        long mark = Stopwatch.GetTimestamp();

        // 1. Block: TCP_REPAIR does not freeze input, so packets must stop before the dump (held,
        // where steering can, and replayed once the connection is forwarded or cleared).
        try
        {
            steering.Hold(client);
        }
        catch (SteeringException e)
        {
            agent.End(id);
            return new TransferOutcome.NotMoved(new TransferFailure(TransferError.Steering, e.Message));
        }
        t.Block = Lap(ref mark);

        // 2. Dump, and close our copy at once. A socket in repair mode keeps its timers: a delayed
        // ACK due from the request just read fired up to tens of ms later, while the agent
        // already owned the connection, with a newer TSval than the agent's first segments, which
        // the client then dropped (PAWS) until an RTO. The close in repair mode sends nothing and
        // stops every timer (tcp_disconnect); if the agent does not take the connection, it is
        // restored here from the snapshot instead (OneOwnerTests: 161 stray segments of dumped
        // copies in 1,200 requests before).
        TcpSnapshot dumped;
        try
        {
            dumped = TcpRepair.DumpAndClose(socket);
        }
        catch (Exception e) when (Faults.IsNotMovable(e))
        {
            agent.End(id);
            steering.Clear(client); // Dump left the socket live
            return new TransferOutcome.NotMoved(new TransferFailure(TransferError.NotMovable, e.Message));
        }
        t.Dump = Lap(ref mark); // the close included
        var snapshot = dumped.WithUnreadPrefix(unread.Span);

        // 3.–4. Handoff → Ready, steer to the agent.
        if (await MoveAsync(snapshot, agent, session, ct).ConfigureAwait(false) is { } failure)
            return TakeBack(dumped, client, failure);

        // 5. Go.
        await GoAsync(agent, session).ConfigureAwait(false);
        BatonMetrics.HandoffDuration.Record(t.Handoff.TotalMicroseconds);
        return await AwayAsync(agent, session, client, snapshot.SendSeq, next, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Takes over a connection an earlier router run handed to <paramref name="agent"/>, which the
    /// agent announced (Held) as session <paramref name="session"/>: it is away as after Go, and
    /// comes back (or passes on) as any other.
    /// </summary>
    internal Task<TransferOutcome> AdoptAsync(AgentLink agent, HandoffSession session, (INextRequestRouter Router, ITransferTarget Target)? next, CancellationToken ct)
    {
        try
        {
            steering.Forward(session.Client, agent.Name); // the previous run's entry, taken over (or made anew)
        }
        catch (SteeringException e)
        {
            HandoffLog.AdoptSteeringFailed(log, session.Client, agent.Name, e.Message);
        }
        return AwayAsync(agent, session, session.Client, sentFrom: null, next, ct);
    }

    // From Go (or adoption) until the connection is back at the router, restored and live, or ended.
    // sentFrom: the send sequence at the hand-off, to tell the response's size; null when unknown.
    private async Task<TransferOutcome> AwayAsync(AgentLink agent, HandoffSession session, IPEndPoint client, uint? sentFrom,
        (INextRequestRouter Router, ITransferTarget Target)? next, CancellationToken ct)
    {
        var t = session.Timings;
        long mark;
        BatonMetrics.ConnectionsAway.Add(1);

        // The agent owns the connection for as long as the transaction takes, and the ones after it
        // that stay there. When the next request is routed to another agent, the snapshot goes
        // there straight (a pass): no restore, read, dump and close here, and no socket. A pass the
        // next agent does not take ends like a return, and the router applies its decision then.
        var at = agent;
        TcpSnapshot? back;
        while (true)
        {
            back = await session.Back.Task.ConfigureAwait(false);
            if (back is null || session.Pass is not ({ } to, { } decided) || next is not { } n) break;
            var onward = to.Link.Begin((ulong)Interlocked.Increment(ref _nextId), client, (n.Router, to));
            onward.Timings.PassedIn = true;
            if (await MoveAsync(back, to.Link, onward, ct).ConfigureAwait(false) is { } notTaken)
            {
                HandoffLog.PassFailed(log, client, at.Name, to.Name, notTaken.Detail);
                break;
            }
            // Counted before Go: once live, the new agent may report the request after it
            // (NextRequest), and the router must route that one with this one's decision used up.
            n.Router.PassedTo(decided);
            await GoAsync(to.Link, onward).ConfigureAwait(false);
            BatonMetrics.HandoffDuration.Record(onward.Timings.Handoff.TotalMicroseconds);
            BatonMetrics.Passes.Add(1);
            t.PassedOut = true;
            OnCycle?.Invoke(t);
            (at, session, t) = (to.Link, onward, onward.Timings);
        }
        BatonMetrics.ConnectionsAway.Add(-1);
        if (back is null) return new TransferOutcome.Ended();

        mark = Stopwatch.GetTimestamp();
        RepairedSocket repaired;
        try
        {
            repaired = TcpRepair.Restore(back);
        }
        catch (Exception e) when (e is NativeCallException)
        {
            // Not restorable here (a queue that does not fit, the 4-tuple taken, ...). The agent
            // keeps the snapshot for a grace period: it restores the connection there, the packets
            // are steered back to it, and it finishes the connection with a FIN after its send
            // queue, so the client sees a clean end, never a reset. Only without the link is the
            // connection lost.
            if (await at.ReturnFailedAsync(session.Id, client, readyTimeout).ConfigureAwait(false))
            {
                HandoffLog.ReturnFailed(log, client, at.Name, e.Message);
            }
            else
            {
                HandoffLog.RestoreFailed(log, client, e.Message);
                try { steering.Clear(client); } catch (SteeringException) { }
            }
            BatonMetrics.ReturnFailures.Add(1);
            return new TransferOutcome.Ended();
        }
        t.Restore = Lap(ref mark);
        if (!SteerHere(repaired, client)) return new TransferOutcome.Ended();
        t.ReturnClear = Lap(ref mark);
        var live = repaired.Activate();
        t.Activate = Lap(ref mark);
        BatonMetrics.ReturnDuration.Record(t.Return.TotalMicroseconds);
        OnCycle?.Invoke(t);
        // The send sequence moved by exactly the bytes the agent wrote (the response), modulo 2^32;
        // after Stays or passes it holds several responses, so no one response's size is known.
        return new TransferOutcome.Returned(live, session.Stays == 0 && !t.PassedIn && sentFrom is { } from ? unchecked(back.SendSeq - from) : -1);
    }

    /// <summary>
    /// The agent did not take the connection: restore it here from the dump (the router's own
    /// receive queue as it was, the caller still holds the bytes it had read), live again.
    /// </summary>
    private TransferOutcome TakeBack(TcpSnapshot dumped, IPEndPoint client, TransferFailure failure)
    {
        RepairedSocket repaired;
        try
        {
            repaired = TcpRepair.Restore(dumped);
        }
        catch (NativeCallException e)
        {
            // The 4-tuple was ours a moment ago; if it cannot be rebuilt the connection is lost.
            HandoffLog.RestoreFailed(log, client, e.Message);
            try { steering.Clear(client); } catch (SteeringException) { }
            return new TransferOutcome.Ended();
        }
        return SteerHere(repaired, client) ? new TransferOutcome.NotMoved(failure, repaired.Activate()) : new TransferOutcome.Ended();
    }

    /// <summary>
    /// Steers the client's packets to the router's own stack again (held ones replayed there) for
    /// <paramref name="repaired"/>, still silent; false when steering fails: the packets cannot
    /// reach us, the copy is dropped and the connection is lost (logged).
    /// </summary>
    private bool SteerHere(RepairedSocket repaired, IPEndPoint client)
    {
        try
        {
            steering.Clear(client);
            return true;
        }
        catch (SteeringException e)
        {
            repaired.Dispose();
            HandoffLog.RestoreFailed(log, client, e.Message);
            return false;
        }
    }

    /// <summary>
    /// Handoff → Ready, then steer the client's packets to <paramref name="agent"/> (held ones are
    /// replayed there). Null when the agent holds the connection, ready for Go; otherwise why not,
    /// and the caller still holds the connection (its socket in repair mode, or the snapshot).
    /// </summary>
    private async Task<TransferFailure?> MoveAsync(TcpSnapshot snapshot, AgentLink agent, HandoffSession session, CancellationToken ct)
    {
        var t = session.Timings;
        long mark = Stopwatch.GetTimestamp();
        TransferFailure? failure;
        try
        {
            await agent.SendAsync(new HandoffRequest(snapshot), session.Id).ConfigureAwait(false);
            failure = await session.Ready.Task.WaitAsync(readyTimeout, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (Faults.IsConnectionEnded(e))
        {
            failure = e switch
            {
                TimeoutException => new(TransferError.Timeout, $"agent {agent.Name} not ready within {readyTimeout.TotalMilliseconds:F0} ms"),
                OperationCanceledException => new(TransferError.Cancelled, e.Message),
                _ => new(TransferError.LinkDown, e.Message),
            };
        }
        t.ControlRtt = Lap(ref mark);
        if (failure is null)
        {
            try
            {
                steering.Forward(session.Client, agent.Name);
                t.Steer = Lap(ref mark);
                return null;
            }
            catch (SteeringException e)
            {
                // Still nothing moved: the agent's silent copy expires unused (AgentLinkSession.GoTimeout).
                failure = new(TransferError.Steering, e.Message);
            }
        }
        agent.End(session.Id);
        session.Ready.TrySetResult(failure);
        HandoffLog.HandoffFailed(log, session.Client, agent.Name, failure.Detail);
        BatonMetrics.HandoffFailures.Add(1);
        return failure;
    }

    /// <summary>Go: the agent takes its restored copy live and serves.</summary>
    private async Task GoAsync(AgentLink agent, HandoffSession session)
    {
        var t = session.Timings;
        long mark = Stopwatch.GetTimestamp();
        var go = new Go(Stopwatch.GetElapsedTime(0, t.Block + t.Dump + t.ControlRtt + t.Steer));
        try
        {
            await agent.SendAsync(go, session.Id).ConfigureAwait(false);
        }
        catch (Exception e) when (Faults.IsConnectionLost(e))
        {
            // The agent holds the connection in repair mode and will drop it; the client's packets
            // go to its host, whose kernel resets them. Nothing else can be done without the link.
            HandoffLog.GoFailed(log, agent.Name, session.Client, e.Message);
        }
        t.Go = Lap(ref mark);
    }

    private static long Lap(ref long mark)
    {
        long now = Stopwatch.GetTimestamp();
        long d = now - mark;
        mark = now;
        return d;
    }
}
