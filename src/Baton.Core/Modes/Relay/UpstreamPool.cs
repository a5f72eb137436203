using System.Net;
using System.Net.Sockets;
using Baton.Metrics;

namespace Baton.Modes.Relay;

/// <summary>
/// The idle keep-alive connections to one origin. Most recently used first (its socket and the
/// origin's worker are warmest); expired and dead ones are dropped when met and by a timer, so an
/// origin that goes quiet does not keep sockets open past <see cref="RelayOptions.IdleUpstreamTimeout"/>.
/// </summary>
internal sealed class UpstreamPool : IDisposable
{
    private readonly OriginConnector _origin;
    private readonly RelayOptions _options;
    private readonly List<UpstreamConnection> _idle = []; // oldest first
    private readonly ITimer? _sweep;
    private bool _disposed;

    public UpstreamPool(OriginConnector origin, RelayOptions options)
    {
        _origin = origin;
        _options = options;
        if (options.IdleUpstreamTimeout > TimeSpan.Zero && options.IdleUpstreamTimeout != Timeout.InfiniteTimeSpan)
        {
            var period = options.IdleUpstreamTimeout / 2;
            _sweep = options.Time.CreateTimer(_ => Sweep(), null, period, period);
        }
    }

    /// <summary>Idle connections held right now.</summary>
    public int IdleCount
    {
        get { lock (_idle) return _idle.Count; }
    }

    /// <summary>The most recently used idle connection that is still open, or null.</summary>
    public UpstreamConnection? TryRent()
    {
        while (true)
        {
            UpstreamConnection c;
            lock (_idle)
            {
                if (_idle.Count == 0) return null;
                c = _idle[^1];
                _idle.RemoveAt(_idle.Count - 1);
            }
            if (!Expired(c) && c.LooksIdleAndOpen())
            {
                c.Reused = true;
                BatonMetrics.RelayConnectionsReused.Add(1);
                return c;
            }
            c.Dispose();
        }
    }

    /// <summary>
    /// Opens a new connection for a request of <paramref name="client"/>; throws
    /// <see cref="SocketException"/> or, on timeout, <see cref="TimeoutException"/>.
    /// </summary>
    public async Task<UpstreamConnection> ConnectAsync(IPEndPoint client, EndPoint? local, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.ConnectTimeout);
        Socket socket;
        try
        {
            socket = await _origin.ConnectAsync(client, local, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"connect to {_origin.Description} timed out after {_options.ConnectTimeout.TotalSeconds:0.###} s");
        }
        BatonMetrics.RelayConnectionsOpened.Add(1);
        return new UpstreamConnection(socket);
    }

    /// <summary>
    /// Takes back a connection whose last exchange ended cleanly; closes it when the pool is full or
    /// when the origin's connections belong to one client each.
    /// </summary>
    public void Return(UpstreamConnection c)
    {
        c.IdleSince = _options.Time.GetTimestamp();
        lock (_idle)
        {
            if (!_disposed && _idle.Count < _options.MaxIdlePerTarget && _origin.SharedAcrossClients)
            {
                _idle.Add(c);
                return;
            }
        }
        c.Dispose();
    }

    private bool Expired(UpstreamConnection c) =>
        _options.IdleUpstreamTimeout != Timeout.InfiniteTimeSpan && _options.Time.GetElapsedTime(c.IdleSince) >= _options.IdleUpstreamTimeout;

    /// <summary>Closes the idle connections that expired or that the origin closed.</summary>
    internal void Sweep()
    {
        List<UpstreamConnection>? dead = null;
        lock (_idle)
        {
            for (int i = _idle.Count - 1; i >= 0; i--)
            {
                var c = _idle[i];
                if (Expired(c) || !c.LooksIdleAndOpen())
                {
                    (dead ??= []).Add(c);
                    _idle.RemoveAt(i);
                }
            }
        }
        dead?.ForEach(c => c.Dispose());
    }

    public void Dispose()
    {
        _sweep?.Dispose();
        List<UpstreamConnection> all;
        lock (_idle)
        {
            _disposed = true;
            all = [.. _idle];
            _idle.Clear();
        }
        all.ForEach(c => c.Dispose());
    }
}
