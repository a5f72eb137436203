using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Baton.Http;
using Baton.Interop;
using Baton.Transfer.Local;

namespace Baton.Agent.Local;

/// <summary>
/// One connection while this worker holds it: serve one transaction, then pass it back with the
/// bytes read but not consumed, or close it here and say so.
/// </summary>
internal sealed class WorkerConnection
{
    private readonly ulong _id;
    private readonly ulong _cookie;
    private readonly Socket _socket;
    private readonly WorkerHost _host;
    private readonly long _passTicks;
    private readonly HttpInput _input;
    private RequestHead? _head;
    private Stream _body = Stream.Null;
    private int _done;

    /// <summary><paramref name="pass"/> is the Pass payload: [8: router timestamp][bytes the router read].</summary>
    public WorkerConnection(ulong id, ulong cookie, Socket socket, byte[] pass, WorkerHost host)
    {
        _id = id;
        _cookie = cookie;
        _socket = socket;
        _host = host;
        _passTicks = Math.Max(0, Stopwatch.GetTimestamp() - BinaryPrimitives.ReadInt64BigEndian(pass));
        _input = new HttpInput(socket, pass.AsSpan(8));
    }

    public async Task RunAsync()
    {
        try
        {
            await ServeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            WorkerLog.ConnectionFailed(_host.Log, e, _id);
            await CloseAsync().ConfigureAwait(false);
        }
    }

    private async Task ServeAsync()
    {
        var log = _host.Log;
        var r = await _input.ReadHeadAsync(_host.Options.HeadLimit, _host.Options.HeadTimeout, _host.Closing).ConfigureAwait(false);
        if (r.Status != HeadReadStatus.Head)
        {
            WorkerLog.NoRequest(log, _id, r.Status, r.ErrorReason);
            if (r.Status == HeadReadStatus.Invalid)
                await _socket.SendAsync(SimpleResponse.Error(r.ErrorStatus, r.ErrorReason ?? "bad request", _host.Options.Name), SocketFlags.None).ConfigureAwait(false);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        _head = r.Head!;
        _body = _input.OpenBody(_head);
        var tx = new BatonTransaction(_head, _body, _socket, _host.Options.Name, Stopwatch.GetElapsedTime(0, _passTicks), FinishAsync);
        try
        {
            await _host.Options.Application.ServeAsync(tx, _host.Closing).ConfigureAwait(false);
        }
        catch (Exception e) when (!tx.IsCompleted)
        {
            // The response may be half written: the only honest end is to close the connection.
            WorkerLog.ApplicationFailed(log, e, _id, _head);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        await tx.CompleteAsync().ConfigureAwait(false);
    }

    private async Task FinishAsync(bool keepAlive)
    {
        try
        {
            // Consume the rest of the body so the next request's first byte is where the input says.
            await _body.CopyToAsync(Stream.Null).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or SocketException or ObjectDisposedException)
        {
            WorkerLog.BodyUnreadable(_host.Log, _id, e.Message);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        if (!keepAlive || _head is { KeepAlive: false } || _host.Closing.IsCancellationRequested)
        {
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        if (Interlocked.Exchange(ref _done, 1) != 0) return;
        // No drain wait: the kernel socket (with its send queue) stays the same, only its holder changes.
        var unread = _input.Unread;
        var payload = new byte[16 + unread.Length];
        BinaryPrimitives.WriteInt64BigEndian(payload.AsSpan(8), _passTicks);
        unread.CopyTo(payload.AsSpan(16));
        BinaryPrimitives.WriteInt64BigEndian(payload, Stopwatch.GetTimestamp());
        try
        {
            _host.Send(LocalMessageType.Return, _id, payload, _socket.SafeHandle);
        }
        catch (Exception e) when (e is NativeCallException or ObjectDisposedException)
        {
            WorkerLog.ReturnFailed(_host.Log, _id, e.Message);
            Interlocked.Exchange(ref _done, 0);
            await CloseAsync().ConfigureAwait(false);
            return;
        }
        _host.Forget(_id);
        _socket.Dispose(); // no async operation pending here: the router's copy is unaffected
        _input.Dispose();
    }

    /// <summary>Ends the connection here; the router is told first.</summary>
    private async Task CloseAsync()
    {
        if (Interlocked.Exchange(ref _done, 1) != 0) return;
        _host.Forget(_id);
        PassedSockets.Forget(_cookie);
        try { _host.Send(LocalMessageType.Closed, _id, [], null); }
        catch (Exception e) when (e is NativeCallException or ObjectDisposedException) { }
        await GracefulClose.CloseAsync(_socket).ConfigureAwait(false);
        _input.Dispose();
    }

    /// <summary>The worker stops while holding this connection: drop it.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _done, 1) != 0) return;
        PassedSockets.Forget(_cookie);
        _socket.Dispose();
    }
}
