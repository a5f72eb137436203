using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Baton.Origin;

/// <summary>
/// An ordinary HTTP/1.1 keep-alive server running an <see cref="Agent.IBatonApplication"/>: the
/// destination of relay clusters. Any HTTP client can use it; nothing about it is Baton-specific
/// except the application it serves.
/// </summary>
public sealed class OriginHost(OriginOptions options, ILoggerFactory loggers) : IDisposable
{
    private readonly ILogger _log = loggers.CreateLogger("Baton.Origin");
    private readonly CancellationTokenSource _closing = new();
    private readonly ConcurrentDictionary<ulong, Task> _connections = new();
    private readonly object _gate = new();
    private Socket? _listener;
    private ulong _nextId;

    /// <summary>The origin's settings.</summary>
    public OriginOptions Options => options;

    internal ILogger Log => _log;
    internal CancellationToken Closing => _closing.Token;

    /// <summary>
    /// Binds and listens (once; later calls return the same endpoint). Returns the endpoint it
    /// listens on, with the real port when <see cref="OriginOptions.Listen"/> asked for port 0.
    /// </summary>
    public IPEndPoint Listen()
    {
        lock (_gate)
        {
            if (_listener is null)
            {
                var s = new Socket(options.Listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                    s.Bind(options.Listen);
                    s.Listen(512);
                }
                catch
                {
                    s.Dispose();
                    throw;
                }
                _listener = s;
                OriginLog.Listening(_log, options.Name, (IPEndPoint)s.LocalEndPoint!);
            }
            return (IPEndPoint)_listener.LocalEndPoint!;
        }
    }

    /// <summary>Listens (if not yet) and serves until <paramref name="ct"/> is cancelled; then closes its connections.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        Listen();
        var listener = _listener!;
        using var reg = ct.Register(listener.Dispose);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                Socket client;
                try { client = await listener.AcceptAsync(ct).ConfigureAwait(false); }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException && ct.IsCancellationRequested) { break; }
                client.NoDelay = true;
                ulong id = Interlocked.Increment(ref _nextId);
                var task = Task.Run(() => new OriginConnection(id, client, this).RunAsync(), CancellationToken.None);
                _connections[id] = task;
                _ = task.ContinueWith(_ => _connections.TryRemove(id, out Task? _), TaskScheduler.Default);
            }
        }
        finally
        {
            listener.Dispose();
            await _closing.CancelAsync().ConfigureAwait(false);
            try { await Task.WhenAll(_connections.Values).WaitAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false); }
            catch (TimeoutException) { }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _closing.Cancel();
        lock (_gate) _listener?.Dispose();
    }
}
