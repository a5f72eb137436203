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
    : HeldConnection(id, socket, new HttpInput(socket))
{
    // Unsent bytes are polled after the response: the kernel has no "send queue empty" event.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(1);

    private static readonly TimeSpan NextRequestWait = TimeSpan.FromMilliseconds(2);
    private const int PollSliceMicros = 250;

    private readonly TaskCompletionSource _freeze = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override string HostName => session.Options.Name;
    protected override IBatonApplication Application => session.Options.Application;
    protected override int HeadLimit => session.Options.HeadLimit;
    protected override TimeSpan HeadTimeout => TimeSpan.FromSeconds(10);
    protected override CancellationToken Closing => session.Closing;
    protected override ILogger Log => session.Log;
    protected override TimeSpan TransferTime => handoff;

    public void OnFreeze() => _freeze.TrySetResult();

    public Task RunAsync() => ServeAsync();

    protected override async Task GiveBackAsync()
    {
        var log = session.Log;
        if (!await WaitSentAsync().ConfigureAwait(false))
        {
            AgentLog.DrainTimedOut(log, Id, session.Options.DrainTimeout);
            await CloseAsync().ConfigureAwait(false);
            return;
        }

        await session.SendAsync(ControlMessageType.ReturnRequest, Id, ReadOnlyMemory<byte>.Empty).ConfigureAwait(false);
        var frozen = await Task.WhenAny(_freeze.Task, Task.Delay(session.Options.FreezeTimeout, session.Closing)).ConfigureAwait(false);
        if (frozen != _freeze.Task)
        {
            AgentLog.NotFrozen(log, Id);
            await CloseAsync().ConfigureAwait(false);
            return;
        }

        TcpSnapshot snapshot;
        try
        {
            snapshot = TcpRepair.Dump(Socket).WithUnreadPrefix(Input.Unread);
        }
        catch (Exception e) when (e is ConnectionNotMovableException or NativeCallException)
        {
            // Typically the client closed meanwhile (CLOSE_WAIT): finish the close here, normally.
            AgentLog.ClosesHere(log, Id, e.Message);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        // Still in repair mode, silent: parked for a short grace rather than closed, so that if the
        // router cannot restore it (ReturnFailed) this copy can still end the connection cleanly.
        Input.Dispose();
        session.Forget(Id);
        session.Park(Id, Socket, snapshot.Local, snapshot.Remote);
        var payload = new byte[snapshot.EncodedLength];
        snapshot.Encode(payload);
        await session.SendAsync(ControlMessageType.Returned, Id, payload).ConfigureAwait(false);
    }

    private async Task<bool> WaitSentAsync()
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(session.Options.DrainTimeout.TotalSeconds * Stopwatch.Frequency);
        while (TcpRepair.Unsent(Socket) > 0)
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
            if (Socket.Poll(PollSliceMicros, SelectMode.SelectRead)) break;
        return true;
    }

    /// <summary>
    /// Ends the connection here. The router is told first so its steering sends the close handshake
    /// here (and removes the entry after a grace period).
    /// </summary>
    protected override async Task CloseAsync()
    {
        session.Forget(Id);
        try { await session.SendAsync(ControlMessageType.Closed, Id, ReadOnlyMemory<byte>.Empty).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
        await GracefulClose.CloseAsync(Socket).ConfigureAwait(false);
        Input.Dispose();
    }
}
