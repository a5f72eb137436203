using Baton.Metrics;
using System.Net.Sockets;
using Baton.Http;
using Microsoft.Extensions.Logging;
using Baton.Modes.Handoff.Agent;

namespace Baton.Application;

/// <summary>
/// One client connection while this process holds it, after a hand-off (agent) or a pass (local
/// worker): read the request, run the application, then give the connection back or close it.
/// Only the giving back differs between the two; it is what subclasses provide.
/// </summary>
internal abstract class HeldConnection(ulong id, Socket socket, HttpInput input)
{
    private RequestHead? _head;
    private Stream _body = Stream.Null;

    protected ulong Id => id;
    protected Socket Socket => socket;
    protected HttpInput Input => input;

    protected abstract string HostName { get; }
    protected abstract IBatonApplication Application { get; }
    protected abstract int HeadLimit { get; }
    protected abstract TimeSpan HeadTimeout { get; }
    protected abstract CancellationToken Closing { get; }
    protected abstract ILogger Log { get; }

    /// <summary>How long the connection took to arrive here, shown to the application.</summary>
    protected abstract TimeSpan TransferTime { get; }

    /// <summary>Gives the connection back to the router; the request body has been consumed.</summary>
    protected abstract Task GiveBackAsync();

    /// <summary>Ends the connection here (the router is told first) with a FIN.</summary>
    protected abstract Task CloseAsync();

    /// <summary>No request head came (closed, idle, invalid); the connection is closed next.</summary>
    protected virtual void OnNoRequest(HeadReadResult result) => AgentLog.NoRequest(Log, id, result.Status, result.ErrorReason);

    /// <summary>Serves one transaction.</summary>
    protected async Task ServeAsync()
    {
        // The router moved the connection only after a complete head: it is already here.
        var r = await input.ReadHeadAsync(HeadLimit, HeadTimeout, Closing).ConfigureAwait(false);
        if (r.Status != HeadReadStatus.Head)
        {
            OnNoRequest(r);
            if (r.Status == HeadReadStatus.Invalid)
                await socket.SendAsync(SimpleResponse.Error(r.ErrorStatus, r.ErrorReason ?? "bad request", HostName), SocketFlags.None).ConfigureAwait(false);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        _head = r.Head!;
        _body = input.OpenBody(_head, continueOn: socket);
        var tx = new BatonTransaction(_head, input, _body, socket, HostName, TransferTime, FinishAsync);
        try
        {
            await Application.ServeAsync(tx, Closing).ConfigureAwait(false);
        }
        catch (BadRequestBodyException e) when (!tx.IsCompleted && !tx.ResponseStarted)
        {
            // The client's body framing is broken: nothing was answered yet, so it gets a 400,
            // then the close (the rest of its bytes cannot be framed).
            AgentLog.BadRequestBody(Log, id, e.Message);
            await socket.SendAsync(SimpleResponse.Error(400, BadRequestBodyException.ClientText, HostName), SocketFlags.None).ConfigureAwait(false);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (!tx.IsCompleted)
        {
            // The response may be half written: the only honest end is to close the connection.
            // A string, made only when logged: a log entry must not hold the head (see RequestHead on ownership).
            if (Log.IsEnabled(LogLevel.Error)) AgentLog.ApplicationFailed(Log, e, id, _head.ToString());
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        BatonMetrics.TransactionsServed.Add(1);
        await tx.CompleteAsync().ConfigureAwait(false);
    }

    private async Task FinishAsync(bool keepAlive)
    {
        try
        {
            // Consume the rest of the body so the next request's first byte is where the input says.
            await _body.CopyToAsync(Stream.Null).ConfigureAwait(false);
        }
        catch (Exception e) when (Faults.IsMalformedOrLost(e))
        {
            AgentLog.BodyUnreadable(Log, id, e.Message);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        if (!keepAlive || _head is { KeepAlive: false } || Closing.IsCancellationRequested)
            await CloseAsync().ConfigureAwait(false);
        else
            await GiveBackAsync().ConfigureAwait(false);
    }
}
