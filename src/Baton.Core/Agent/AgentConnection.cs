using Baton.Interop;
using System.Diagnostics;
using System.Net.Sockets;
using Baton.Control;
using Baton.Http;
using Baton.Transfer;
using Microsoft.Extensions.Logging;

namespace Baton.Agent;

/// <summary>
/// One connection while this agent owns it: serve one transaction, then hand it back (or close it
/// when the client or the application asked for close).
/// </summary>
internal sealed class AgentConnection(ulong id, Socket socket, TimeSpan handoff, AgentLinkSession session)
{
    // Unsent bytes are polled after the response: the kernel has no "send queue empty" event.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(1);

    private static readonly TimeSpan NextRequestWait = TimeSpan.FromMilliseconds(2);
    private const int PollSliceMicros = 250;

    private readonly TaskCompletionSource _freeze = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private HttpInput? _input;
    private RequestHead? _head;
    private Stream _body = Stream.Null;

    public void OnFreeze() => _freeze.TrySetResult();

    public async Task RunAsync()
    {
        var log = session.Log;
        _input = new HttpInput(socket);
        // The router handed over only after a complete head: it is in the restored receive queue.
        var r = await _input.ReadHeadAsync(session.Options.HeadLimit, TimeSpan.FromSeconds(10), session.Closing).ConfigureAwait(false);
        if (r.Status != HeadReadStatus.Head)
        {
            AgentLog.NoRequest(log, id, r.Status, r.ErrorReason);
            if (r.Status == HeadReadStatus.Invalid)
                await socket.SendAsync(SimpleResponse.Error(r.ErrorStatus, r.ErrorReason ?? "bad request", session.Options.Name), SocketFlags.None).ConfigureAwait(false);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        _head = r.Head!;
        _body = _input.OpenBody(_head);
        var tx = new BatonTransaction(_head, _body, socket, session.Options.Name, handoff, FinishAsync);
        try
        {
            await session.Options.Application.ServeAsync(tx, session.Closing).ConfigureAwait(false);
        }
        catch (Exception e) when (!tx.IsCompleted)
        {
            // The response may be half written: the only honest end is to close the connection.
            AgentLog.ApplicationFailed(log, e, id, _head);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        await tx.CompleteAsync().ConfigureAwait(false);
    }

    private async Task FinishAsync(bool keepAlive)
    {
        var log = session.Log;
        try
        {
            // Consume the rest of the body so the next request's first byte is where the input says.
            await _body.CopyToAsync(Stream.Null).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or SocketException)
        {
            AgentLog.BodyUnreadable(log, id, e.Message);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        if (!keepAlive || _head is { KeepAlive: false } || session.Closing.IsCancellationRequested)
        {
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        if (!await WaitSentAsync().ConfigureAwait(false))
        {
            AgentLog.DrainTimedOut(log, id, session.Options.DrainTimeout);
            await CloseAsync().ConfigureAwait(false);
            return;
        }

        await session.SendAsync(ControlMessageType.ReturnRequest, id, ReadOnlyMemory<byte>.Empty).ConfigureAwait(false);
        var frozen = await Task.WhenAny(_freeze.Task, Task.Delay(session.Options.FreezeTimeout, session.Closing)).ConfigureAwait(false);
        if (frozen != _freeze.Task)
        {
            AgentLog.NotFrozen(log, id);
            await CloseAsync().ConfigureAwait(false);
            return;
        }

        TcpSnapshot snapshot;
        try
        {
            snapshot = TcpRepair.Dump(socket).WithUnreadPrefix(_input!.Unread);
        }
        catch (Exception e) when (e is ConnectionNotMovableException or NativeCallException)
        {
            // Typically the client closed meanwhile (CLOSE_WAIT): finish the close here, normally.
            AgentLog.ClosesHere(log, id, e.Message);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        socket.Dispose(); // in repair mode: nothing on the wire
        _input.Dispose();
        session.Forget(id);
        var payload = new byte[snapshot.EncodedLength];
        snapshot.Encode(payload);
        await session.SendAsync(ControlMessageType.Returned, id, payload).ConfigureAwait(false);
    }

    private async Task<bool> WaitSentAsync()
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(session.Options.DrainTimeout.TotalSeconds * Stopwatch.Frequency);
        while (TcpRepair.Unsent(socket) > 0)
        {
            if (Stopwatch.GetTimestamp() > deadline) return false;
            await Task.Delay(PollInterval).ConfigureAwait(false);
        }
        // Wait briefly for the client's next request before asking for the return. A client that
        // sends it right after reading the response would otherwise often hit the router's block
        // (dropped, resent only after a >= 200 ms RTO: ~1 request in 15 in bench/run.sh); waiting,
        // the request travels inside the snapshot instead. Its ACK also empties our send queue.
        // Bounded: a client with think time costs at most NextRequestWait per request.
        // poll(2) slices, not timers: a 1 ms timer tick alone doubled the median latency.
        long deadline2 = Stopwatch.GetTimestamp() + (long)(NextRequestWait.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline2)
            if (socket.Poll(PollSliceMicros, SelectMode.SelectRead)) break;
        return true;
    }

    /// <summary>
    /// Ends the connection here. The router is told first so its steering sends the close handshake
    /// here (and removes the entry after a grace period).
    /// </summary>
    private async Task CloseAsync()
    {
        session.Forget(id);
        try { await session.SendAsync(ControlMessageType.Closed, id, ReadOnlyMemory<byte>.Empty).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
        await GracefulClose.CloseAsync(socket).ConfigureAwait(false);
        _input?.Dispose();
    }
}
