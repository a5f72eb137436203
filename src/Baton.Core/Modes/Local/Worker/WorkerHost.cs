using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Baton.Interop;
using Microsoft.Extensions.Logging;
using Baton.Modes.Local.Protocol;

namespace Baton.Modes.Local.Worker;

/// <summary>
/// A worker process of the local transfer mode: connects to the router's Unix socket, registers its
/// name, and for every connection passed to it serves one transaction with the application, then
/// passes the connection back with the bytes it read but did not consume (or tells the router it
/// closed it).
/// </summary>
public sealed class WorkerHost : IAsyncDisposable
{
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<ulong, WorkerConnection> _connections = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _registered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LocalChannel? _channel;
    private Task? _run;

    /// <summary>A worker with <paramref name="options"/>; call <see cref="RunAsync"/>.</summary>
    public WorkerHost(WorkerOptions options, ILoggerFactory loggers)
    {
        Options = options;
        _log = loggers.CreateLogger("Baton.Worker");
    }

    /// <summary>The worker's settings.</summary>
    public WorkerOptions Options { get; }

    /// <summary>Completes when the router accepted the registration.</summary>
    public Task Registered => _registered.Task;

    /// <summary>Connections this worker holds now.</summary>
    public int ActiveConnections => _connections.Count;

    internal ILogger Log => _log;
    internal CancellationToken Closing => _closing.Token;

    /// <summary>
    /// Connects, registers and serves until <paramref name="ct"/> is cancelled or the router closes
    /// the link. Throws <see cref="ControlProtocolException"/> when the router refuses the worker,
    /// <see cref="SocketException"/> when it cannot be reached.
    /// </summary>
    public Task RunAsync(CancellationToken ct) => _run ??= RunCoreAsync(ct);

    private async Task RunCoreAsync(CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(Options.SocketPath));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var channel = new LocalChannel(socket);
        _channel = channel;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, _closing.Token);
        using var reg = stop.Token.Register(channel.Shutdown);
        try
        {
            await Task.Factory.StartNew(() => ReadLoop(channel), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        finally
        {
            _registered.TrySetException(new ControlProtocolException("worker stopped before registering"));
            _ = _registered.Task.Exception; // observed
            await _closing.CancelAsync().ConfigureAwait(false);
            foreach (var c in _connections.Values) c.Abort();
            channel.Dispose();
        }
    }

    private void ReadLoop(LocalChannel channel)
    {
        channel.Send(new Register(Options.Name), 0);
        var first = channel.Receive();
        switch (first?.Type)
        {
            case LocalMessageType.Registered:
                break;
            case LocalMessageType.Refused:
                throw new ControlProtocolException($"router refused worker {Options.Name}: {first.Read<RegistrationRefused>().Reason}");
            case null:
                if (_closing.IsCancellationRequested) return;
                throw new ControlProtocolException($"router at {Options.SocketPath} closed the link before accepting worker {Options.Name}");
            default:
                throw new ControlProtocolException($"unexpected {first.Type} from the router");
        }
        WorkerLog.Registered(_log, Options.Name, Options.SocketPath);
        _registered.TrySetResult();
        string reason = "router closed the link";
        try
        {
            while (channel.Receive() is { } m)
            {
                if (m.Type != LocalMessageType.Pass)
                {
                    if (m.Fd >= 0) Libc.Close(m.Fd);
                    throw new ControlProtocolException($"unexpected {m.Type} from the router");
                }
                OnPass(m);
            }
            if (_closing.IsCancellationRequested) reason = "stopping";
        }
        catch (Exception e) when (e is ControlProtocolException or NativeCallException)
        {
            reason = e.Message;
        }
        WorkerLog.LinkClosed(_log, Options.Name, reason);
    }

    private void OnPass(LocalMessage m)
    {
        if (!Pass.TryRead(m.Payload, out var pass))
        {
            Libc.Close(m.Fd);
            throw new ControlProtocolException("short Pass message");
        }
        Socket socket;
        ulong cookie;
        try
        {
            socket = PassedSockets.Wrap(PassedSockets.Adopt(m.Fd, out cookie));
        }
        catch (Exception e) when (Faults.IsKernelRefusal(e))
        {
            WorkerLog.PassUnusable(_log, m.ConnectionId, e.Message);
            try { _channel!.Send(new Closed(), m.ConnectionId); }
            catch (Exception e2) when (e2 is NativeCallException or ObjectDisposedException) { }
            return;
        }
        var c = new WorkerConnection(m.ConnectionId, cookie, socket, pass, this);
        _connections[m.ConnectionId] = c;
        _ = Task.Run(c.RunAsync);
    }

    internal void Send<T>(T message, ulong id, SafeHandle? fd = null) where T : ILocalMessage<T>
    {
        var ch = _channel ?? throw new ObjectDisposedException(nameof(WorkerHost));
        ch.Send(message, id, fd);
    }

    internal void Forget(ulong id) => _connections.TryRemove(id, out _);

    /// <summary>Stops: closes the link; connections still held are closed here.</summary>
    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync().ConfigureAwait(false);
        _channel?.Shutdown();
        if (_run is not null)
        {
            try { await _run.ConfigureAwait(false); }
            catch (Exception e) when (Faults.IsKernelRefusal(e) || e is ControlProtocolException) { }
        }
    }
}
