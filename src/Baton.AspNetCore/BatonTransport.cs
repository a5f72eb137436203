using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace Baton.AspNetCore;

/// <summary>
/// Kestrel's transport for <see cref="BatonAgentEndPoint"/>: a listener whose accepted connections
/// are given to it by the agent (<see cref="TryDeliver"/>), one per transaction, instead of by a
/// listening socket. Kestrel picks it among its transports with <see cref="CanBind"/>; its own
/// socket transport still serves every ordinary endpoint.
/// </summary>
internal sealed class BatonTransport(ILoggerFactory loggers) : IConnectionListenerFactory, IConnectionListenerFactorySelector, IDisposable
{
    // Kestrel's own socket connection around our end of each pair: its pipes, its scheduling. Ours
    // may close it (and send its FIN): it is a private socketpair, never the client's connection.
    private readonly SocketConnectionContextFactory _contexts = new(new SocketConnectionFactoryOptions(), loggers.CreateLogger("Baton.AspNetCore.Transport"));
    private Listener? _listener;

    /// <inheritdoc />
    public bool CanBind(EndPoint endpoint) => endpoint is BatonAgentEndPoint;

    /// <inheritdoc />
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not BatonAgentEndPoint)
            throw new NotSupportedException($"the Baton transport binds only a {nameof(BatonAgentEndPoint)}, not {endpoint}");
        var listener = new Listener(this, endpoint);
        if (Interlocked.CompareExchange(ref _listener, listener, null) is not null)
            throw new InvalidOperationException($"{endpoint} is bound already: UseBatonAgent adds it once");
        AcceptingChanged?.Invoke();
        return ValueTask.FromResult<IConnectionListener>(listener);
    }

    /// <summary>Whether Kestrel takes connections now (bound, not stopping).</summary>
    public bool IsAccepting => Volatile.Read(ref _listener) is not null;

    /// <summary>Raised when Kestrel binds the endpoint and when it unbinds it.</summary>
    public event Action? AcceptingChanged;

    /// <summary>
    /// Gives Kestrel a new connection, <paramref name="socket"/>, that it sees as coming from
    /// <paramref name="client"/> to <paramref name="local"/>; false when it takes none now.
    /// </summary>
    public bool TryDeliver(Socket socket, IPEndPoint client, EndPoint? local)
    {
        var listener = Volatile.Read(ref _listener);
        if (listener is null) return false;
        var context = _contexts.Create(socket);
        // What HttpContext.Connection reports: the client itself and the service address it reached.
        context.RemoteEndPoint = client;
        context.LocalEndPoint = local;
        if (listener.TryAdd(context)) return true;
        _ = context.DisposeAsync().AsTask();
        return false;
    }

    /// <inheritdoc />
    public void Dispose() => _contexts.Dispose();

    private sealed class Listener(BatonTransport transport, EndPoint endpoint) : IConnectionListener
    {
        private readonly Channel<ConnectionContext> _accepted = Channel.CreateUnbounded<ConnectionContext>(new UnboundedChannelOptions { SingleReader = true });

        public EndPoint EndPoint => endpoint;

        public bool TryAdd(ConnectionContext context) => _accepted.Writer.TryWrite(context);

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            // Null tells Kestrel's accept loop that this listener is done.
            while (await _accepted.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                if (_accepted.Reader.TryRead(out var context)) return context;
            return null;
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            if (Interlocked.CompareExchange(ref transport._listener, null, this) == this) transport.AcceptingChanged?.Invoke();
            _accepted.Writer.TryComplete();
            return ValueTask.CompletedTask;
        }

        public async ValueTask DisposeAsync()
        {
            await UnbindAsync().ConfigureAwait(false);
            while (_accepted.Reader.TryRead(out var context)) await context.DisposeAsync().ConfigureAwait(false);
        }
    }
}
