using System.Diagnostics;
using System.Net.Sockets;
using Baton.Http;
using Baton.Interop;
using Microsoft.Extensions.Logging;
using Baton.Application;
using Baton.Modes.Local.Protocol;

namespace Baton.Modes.Local.Worker;

/// <summary>
/// One connection while this worker holds it: serve one transaction, then pass it back with the
/// bytes read but not consumed, or close it here and say so.
/// </summary>
internal sealed class WorkerConnection : HeldConnection
{
    private readonly ulong _cookie;
    private readonly WorkerHost _host;
    private readonly long _passTicks;
    private int _done;

    public WorkerConnection(ulong id, ulong cookie, Socket socket, Pass pass, WorkerHost host)
        : base(id, socket, new HttpInput(socket, pass.Unread.Span))
    {
        _cookie = cookie;
        _host = host;
        _passTicks = Math.Max(0, Stopwatch.GetTimestamp() - pass.RouterTimestamp);
    }

    protected override string HostName => _host.Options.Name;
    protected override IBatonApplication Application => _host.Options.Application;
    protected override int HeadLimit => _host.Options.HeadLimit;
    protected override TimeSpan HeadTimeout => _host.Options.HeadTimeout;
    protected override CancellationToken Closing => _host.Closing;
    protected override ILogger Log => _host.Log;
    protected override TimeSpan TransferTime => Stopwatch.GetElapsedTime(0, _passTicks);

    public async Task RunAsync()
    {
        try
        {
            await ServeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            WorkerLog.ConnectionFailed(_host.Log, e, Id);
            await CloseAsync().ConfigureAwait(false);
        }
    }

    protected override async Task GiveBackAsync()
    {
        if (Interlocked.Exchange(ref _done, 1) != 0) return;
        // No drain wait: the kernel socket (with its send queue) stays the same, only its holder changes.
        try
        {
            _host.Send(new Return(Stopwatch.GetTimestamp(), _passTicks, Input.UnreadMemory), Id, Socket.SafeHandle);
        }
        catch (Exception e) when (e is NativeCallException or ObjectDisposedException)
        {
            WorkerLog.ReturnFailed(_host.Log, Id, e.Message);
            Interlocked.Exchange(ref _done, 0);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        _host.Forget(Id);
        Socket.Dispose(); // no async operation pending here: the router's copy is unaffected
        Input.Dispose();
    }

    /// <summary>Ends the connection here; the router is told first.</summary>
    protected override async Task CloseAsync()
    {
        if (Interlocked.Exchange(ref _done, 1) != 0) return;
        _host.Forget(Id);
        PassedSockets.Forget(_cookie);
        try { _host.Send(new Closed(), Id); }
        catch (Exception e) when (e is NativeCallException or ObjectDisposedException) { }
        await GracefulClose.CloseAsync(Socket).ConfigureAwait(false);
        Input.Dispose();
    }

    /// <summary>The worker stops while holding this connection: drop it.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _done, 1) != 0) return;
        PassedSockets.Forget(_cookie);
        Socket.Dispose();
    }
}
