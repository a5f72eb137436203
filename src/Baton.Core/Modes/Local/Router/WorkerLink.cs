using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Baton.Interop;
using Microsoft.Extensions.Logging;
using Baton.Modes.Local.Protocol;

namespace Baton.Modes.Local.Router;

/// <summary>
/// What came back from a worker for one connection: the socket and unconsumed bytes, or null (it
/// ended there). PassTicks and SentAt are the worker's figures, ReceivedAt and AdoptedAt this link
/// thread's (Stopwatch timestamps: the message parsed, the descriptor adopted).
/// </summary>
internal sealed record LocalReturn(LocalSocket Socket, ulong Cookie, long PassTicks, long SentAt, long ReceivedAt, long AdoptedAt);

/// <summary>
/// The router's side of one registered worker: a Unix stream socket, read on a dedicated thread.
/// When it breaks (the worker exited or was killed) the worker is unhealthy for good and every
/// connection it held counts as ended; a restarted worker registers again as a new link.
/// </summary>
public sealed class WorkerLink : IAsyncDisposable
{
    private readonly LocalChannel _channel;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<LocalReturn?>> _sessions = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _healthy = true;
    private Thread? _reader;

    internal WorkerLink(string name, PeerCredentials peer, LocalChannel channel, ILogger log)
    {
        Name = name;
        Peer = peer;
        _channel = channel;
        _log = log;
    }

    /// <summary>The name the worker registered under (the destination name).</summary>
    public string Name { get; }

    /// <summary>The worker process as the kernel saw it when it connected.</summary>
    public PeerCredentials Peer { get; }

    /// <summary>Whether the worker is connected and can take connections.</summary>
    public bool IsHealthy => _healthy;

    /// <summary>Connections currently at this worker or in transit to it.</summary>
    public int ActiveConnections => _sessions.Count;

    /// <summary>Completes when the link is down.</summary>
    public Task Closed => _closed.Task;

    internal void Start()
    {
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "baton-worker-" + Name };
        _reader.Start();
    }

    internal TaskCompletionSource<LocalReturn?>? Begin(ulong id)
    {
        var s = new TaskCompletionSource<LocalReturn?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _sessions[id] = s;
        if (_healthy) return s;
        _sessions.TryRemove(id, out _);
        return null;
    }

    internal void End(ulong id) => _sessions.TryRemove(id, out _);

    internal void Send<T>(T message, ulong id, SafeHandle? fd) where T : ILocalMessage<T> =>
        _channel.Send(message, id, fd);

    private void ReadLoop()
    {
        string reason = "worker closed the link";
        try
        {
            while (_channel.Receive() is { } m)
            {
                switch (m.Type)
                {
                    case LocalMessageType.Return:
                        OnReturn(m);
                        break;
                    case LocalMessageType.Closed:
                        if (_sessions.TryRemove(m.ConnectionId, out var s)) s.TrySetResult(null);
                        else LocalLog.UnknownConnection(_log, Name, m.Type, m.ConnectionId);
                        break;
                    default:
                        throw new ControlProtocolException($"unexpected {m.Type} from worker");
                }
            }
        }
        catch (Exception e) when (Faults.IsKernelRefusal(e) || e is ControlProtocolException)
        {
            reason = e.Message;
        }
        finally
        {
            _healthy = false;
            _channel.Dispose();
            int lost = 0;
            foreach (var id in _sessions.Keys)
                if (_sessions.TryRemove(id, out var s) && s.TrySetResult(null)) lost++;
            LocalLog.WorkerGone(_log, Name, reason, lost);
            _closed.TrySetResult();
        }
    }

    private void OnReturn(LocalMessage m)
    {
        long received = Stopwatch.GetTimestamp();
        if (!_sessions.TryRemove(m.ConnectionId, out var s))
        {
            LocalLog.UnknownConnection(_log, Name, m.Type, m.ConnectionId);
            Libc.Close(m.Fd);
            return;
        }
        if (!Return.TryRead(m.Payload, out var r))
        {
            Libc.Close(m.Fd);
            s.TrySetResult(null);
            throw new ControlProtocolException("short Return message");
        }
        try
        {
            int fd = PassedSockets.Adopt(m.Fd, out ulong cookie);
            var socket = new LocalSocket(new SafeSocketHandle(fd, ownsHandle: true), r.Unread.ToArray()) { Blocking = true };
            s.TrySetResult(new LocalReturn(socket, cookie, r.PassTicks, r.WorkerTimestamp, received, Stopwatch.GetTimestamp()));
        }
        catch (Exception e) when (Faults.IsKernelRefusal(e))
        {
            // The connection is gone (closing the received fd was its last reference, or it is not a socket).
            LocalLog.ReturnUnusable(_log, Name, m.ConnectionId, e.Message);
            s.TrySetResult(null);
        }
    }

    /// <summary>Closes the link; the worker sees it and stops. Connections it holds count as ended.</summary>
    public async ValueTask DisposeAsync()
    {
        _channel.Shutdown();
        if (_reader is not null) await _closed.Task.ConfigureAwait(false);
        else _channel.Dispose();
    }
}
