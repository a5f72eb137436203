using System.Net.Sockets;
using Baton.Http;
using Microsoft.Extensions.Logging;
using Baton.Application;

namespace Baton.Origin;

/// <summary>
/// One client connection of an origin. It never moves: where an agent or a worker gives the
/// connection back to the router after a transaction, an origin just serves the next request.
/// </summary>
internal sealed class OriginConnection(ulong id, Socket socket, OriginHost host)
    : HeldConnection(id, socket, new HttpInput(socket))
{
    private bool _next;
    private int _closed;

    protected override string HostName => host.Options.Name;
    protected override IBatonApplication Application => host.Options.Application;
    protected override int HeadLimit => host.Options.HeadLimit;
    protected override TimeSpan HeadTimeout => host.Options.IdleTimeout;
    protected override CancellationToken Closing => host.Closing;
    protected override ILogger Log => host.Log;
    protected override TimeSpan TransferTime => TimeSpan.Zero;

    public async Task RunAsync()
    {
        try
        {
            // A loop, not a call from GiveBackAsync: a long keep-alive connection must not build a
            // chain of awaits, one per request.
            do
            {
                _next = false;
                await ServeAsync().ConfigureAwait(false);
            }
            while (_next);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            if (!Closing.IsCancellationRequested) OriginLog.ConnectionFailed(Log, e, Id);
            await CloseAsync().ConfigureAwait(false);
        }
    }

    protected override Task GiveBackAsync()
    {
        _next = true;
        return Task.CompletedTask;
    }

    protected override async Task CloseAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        await GracefulClose.CloseAsync(Socket).ConfigureAwait(false);
        Input.Dispose();
    }

    // A client closing or idling out between requests is an origin's normal life, not a warning.
    protected override void OnNoRequest(HeadReadResult result)
    {
        if (result.Status == HeadReadStatus.Invalid)
            OriginLog.InvalidRequest(Log, Id, RemoteOrNull(), result.ErrorStatus, result.ErrorReason);
        else
            OriginLog.ConnectionEnded(Log, Id, RemoteOrNull(), result.Status);
    }

    private System.Net.EndPoint? RemoteOrNull()
    {
        try { return Socket.RemoteEndPoint; }
        catch (Exception e) when (Faults.IsConnectionLost(e)) { return null; }
    }
}
