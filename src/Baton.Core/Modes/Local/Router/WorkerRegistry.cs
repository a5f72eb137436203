using System.Collections.Concurrent;
using System.Net.Sockets;
using Baton.Interop;
using Microsoft.Extensions.Logging;
using Baton.Modes.Local.Protocol;

namespace Baton.Modes.Local.Router;

/// <summary>
/// Listens on a Unix socket path where worker processes connect and register under a destination
/// name. A peer is accepted only when the kernel says (SO_PEERCRED) it runs as the allowed uid
/// (by default the router's own). One healthy worker per name; a worker that died can be replaced
/// by a new one registering under its name.
/// </summary>
public sealed class WorkerRegistry : IAsyncDisposable
{
    /// <summary>How long a connected peer has to send its Register message.</summary>
    public static readonly TimeSpan RegisterTimeout = TimeSpan.FromSeconds(5);

    private readonly ILogger _log;
    private readonly ConcurrentDictionary<string, WorkerLink> _workers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<WorkerLink>> _waiters = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;
    private Task? _accept;

    /// <summary>
    /// A registry on <paramref name="socketPath"/>; workers must run as <paramref name="allowedUid"/>
    /// (default: this process's uid) or, when set, with <paramref name="allowedGid"/> as their group.
    /// </summary>
    public WorkerRegistry(string socketPath, ILogger log, uint? allowedUid = null, uint? allowedGid = null)
    {
        SocketPath = socketPath;
        _log = log;
        AllowedUid = allowedUid ?? PeerCredentials.CurrentUid;
        AllowedGid = allowedGid;
    }

    /// <summary>The Unix socket path workers connect to.</summary>
    public string SocketPath { get; }

    /// <summary>The uid a worker process must run as (unless its group is <see cref="AllowedGid"/>).</summary>
    public uint AllowedUid { get; }

    /// <summary>A group whose members may register as workers too; null: only <see cref="AllowedUid"/>.</summary>
    public uint? AllowedGid { get; }

    /// <summary>Registered workers (healthy or not yet noticed gone).</summary>
    public IReadOnlyCollection<WorkerLink> Workers => [.. _workers.Values];

    /// <summary>Binds (replacing a stale socket file) and starts accepting workers.</summary>
    public void Start()
    {
        if (File.Exists(SocketPath)) File.Delete(SocketPath);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
            if (AllowedGid is { } gid && !OperatingSystem.IsWindows())
            {
                // connect(2) needs write permission on the socket file: open it to the group only.
                Libc.Check(Libc.Chown(SocketPath, uint.MaxValue, gid), $"chown({SocketPath}, group {gid})");
                File.SetUnixFileMode(SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
            }
            listener.Listen(64);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        _listener = listener;
        LocalLog.Listening(_log, SocketPath);
        _accept = Task.Run(() => AcceptLoopAsync(listener, _stop.Token));
    }

    /// <summary>The healthy worker registered as <paramref name="name"/>, if any.</summary>
    public bool TryGet(string name, out WorkerLink worker)
    {
        if (_workers.TryGetValue(name, out var w) && w.IsHealthy)
        {
            worker = w;
            return true;
        }
        worker = null!;
        return false;
    }

    /// <summary>Waits until a healthy worker is registered as <paramref name="name"/>.</summary>
    public Task<WorkerLink> WaitForAsync(string name, CancellationToken ct)
    {
        var tcs = _waiters.GetOrAdd(name, _ => new TaskCompletionSource<WorkerLink>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (TryGet(name, out var w))
        {
            _waiters.TryRemove(KeyValuePair.Create(name, tcs));
            tcs.TrySetResult(w);
        }
        return tcs.Task.WaitAsync(ct);
    }

    private async Task AcceptLoopAsync(Socket listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket peer;
            try
            {
                peer = await listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { break; }
            catch (SocketException e)
            {
                LocalLog.WorkerRefused(_log, "accept failed: " + e.Message);
                continue;
            }
            // The handshake blocks (the link is never touched by .NET's async engine): off the accept loop.
            _ = Task.Factory.StartNew(() => Handshake(peer), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
    }

    private void Handshake(Socket peer)
    {
        var channel = new LocalChannel(peer);
        try
        {
            var cred = PeerCredentials.Of(peer);
            // Read the Register message first even from a peer about to be refused: closing with its
            // bytes unread would reset the link, and the peer would not see why it was refused.
            peer.ReceiveTimeout = (int)RegisterTimeout.TotalMilliseconds;
            var m = channel.Receive();
            peer.ReceiveTimeout = 0;
            if (m is not { Type: LocalMessageType.Register })
            {
                if (m?.Fd >= 0) Libc.Close(m.Fd);
                throw new ControlProtocolException("peer did not register");
            }
            if (cred.RefusalFor(AllowedUid, AllowedGid) is { } refusal)
            {
                Refuse(channel, refusal);
                return;
            }
            string name = m.Read<Register>().Name;
            if (name.Length is 0 or > 255 || name.Any(char.IsControl))
            {
                Refuse(channel, "invalid worker name");
                return;
            }
            var link = new WorkerLink(name, cred, channel, _log);
            var current = _workers.AddOrUpdate(name, link, (_, old) => old.IsHealthy ? old : link);
            if (current != link)
            {
                Refuse(channel, $"a worker named {name} is already registered");
                return;
            }
            channel.Send(new Registered(), 0);
            link.Start();
            _ = link.Closed.ContinueWith(_ => _workers.TryRemove(KeyValuePair.Create(name, link)), TaskScheduler.Default);
            LocalLog.WorkerRegistered(_log, name, cred.Pid, cred.Uid);
            if (_waiters.TryRemove(name, out var waiter)) waiter.TrySetResult(link);
        }
        catch (Exception e) when (Faults.IsKernelRefusal(e) || e is ControlProtocolException)
        {
            LocalLog.WorkerRefused(_log, e.Message);
            channel.Dispose();
        }
    }

    private void Refuse(LocalChannel channel, string reason)
    {
        LocalLog.WorkerRefused(_log, reason);
        try { channel.Send(new RegistrationRefused(reason), 0); }
        catch (Exception e) when (e is NativeCallException or ObjectDisposedException) { }
        channel.Dispose();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener?.Dispose();
        if (_accept is not null) await _accept.ConfigureAwait(false);
        foreach (var w in _workers.Values) await w.DisposeAsync().ConfigureAwait(false);
        try { if (File.Exists(SocketPath)) File.Delete(SocketPath); }
        catch (IOException) { }
    }
}
