using System.Net;
using System.Net.Sockets;
using Baton.Http;
using Baton.Modes;
using Baton.Modes.Relay;
using Microsoft.Extensions.Logging;

namespace Baton.Application;

/// <summary>
/// The application of a back-end that runs an ordinary HTTP/1.1 server (nginx, Kestrel, Node, Go):
/// each transaction on a connection handed here is forwarded to that origin on this host, over
/// pooled keep-alive connections, and its response is written to the client from here: it never
/// passes the router. Relay's exchange does the work, so the rules are relay's: the response's own
/// framing (a length, chunks, or the close; HEAD, 1xx, 204 and 304 without a body) ends the
/// transaction, an upgrade keeps the connection here until either side closes, an upstream
/// <c>Connection: close</c> closes that upstream connection only, and the origin sees the client's
/// address in <c>Forwarded</c> and <c>X-Forwarded-*</c>.
/// Whether the origin answers is probed (a connect every <see cref="ProbeInterval"/>) and told
/// through <see cref="IApplicationHealth"/>: the router then sends nothing here while it is down.
/// The origin is an address (<c>http://127.0.0.1:8080/</c>, <c>unix:/run/app.sock</c>) or a server
/// in this process (<c>Baton.AspNetCore</c>'s Kestrel transport): see <see cref="OriginConnector"/>.
/// </summary>
public sealed class OriginForwarder : IBatonApplication, IApplicationHealth, IAsyncDisposable
{
    /// <summary>How often the origin is probed; a probe that is not answered within it fails.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(1);

    private readonly RelayTarget _origin;
    private readonly string _hostName;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _probing;
    private readonly TimeSpan _probeInterval, _probeTimeout;
    private readonly SemaphoreSlim _probeTurn = new(1, 1); // one probe at a time: results land in order
    private volatile Tuple<bool, string> _health = Tuple.Create(true, "");

    /// <param name="origin">The origin, <c>http://127.0.0.1:8080/</c> or <c>unix:/run/app.sock</c>.</param>
    /// <param name="options">Timeouts and the upstream pool (relay's settings).</param>
    /// <param name="hostName">This back-end's name: what an error response from here says it came from.</param>
    /// <param name="log">Where origin failures go.</param>
    /// <exception cref="ArgumentException"><paramref name="origin"/> is neither form.</exception>
    public OriginForwarder(Uri origin, RelayOptions options, string hostName, ILogger log)
        : this(OriginConnector.For(origin), options, hostName, log)
    {
    }

    /// <param name="origin">How connections to the origin are opened.</param>
    /// <param name="options">Timeouts and the upstream pool (relay's settings).</param>
    /// <param name="hostName">This back-end's name: what an error response from here says it came from.</param>
    /// <param name="log">Where origin failures go.</param>
    /// <param name="probeInterval">How often the origin is probed (<see cref="ProbeInterval"/> when null).</param>
    public OriginForwarder(OriginConnector origin, RelayOptions options, string hostName, ILogger log, TimeSpan? probeInterval = null)
    {
        _origin = new RelayTarget(hostName, origin, options, log);
        _hostName = hostName;
        _probeInterval = probeInterval ?? ProbeInterval;
        // A probe not answered within a second fails, however rarely the origin is probed.
        _probeTimeout = _probeInterval < ProbeInterval ? _probeInterval : ProbeInterval;
        _probing = ProbeAsync(_stop.Token);
    }

    /// <inheritdoc />
    public (bool CanServe, string Reason) Health => (_health.Item1, _health.Item2);

    /// <inheritdoc />
    public event Action? HealthChanged;

    private async Task ProbeAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_probeInterval);
        _origin.Origin.AvailabilityChanged += OnAvailabilityChanged;
        try
        {
            do
            {
                await ProbeOnceAsync(ct).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        finally
        {
            _origin.Origin.AvailabilityChanged -= OnAvailabilityChanged;
        }
    }

    // An origin that knows when it starts or stops taking connections (a server in this process)
    // is probed at once rather than at the next tick: the router learns in microseconds, not up to
    // a second, and sends nothing here meanwhile (a cluster test met that second as a 503).
    private void OnAvailabilityChanged()
    {
        CancellationToken ct;
        try { ct = _stop.Token; }
        catch (ObjectDisposedException) { return; }
        // A probe cut short by the stop has nothing to report.
        _ = ProbeOnceAsync(ct).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
    }

    private async Task ProbeOnceAsync(CancellationToken ct)
    {
        await _probeTurn.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            string? failure = await _origin.Origin.ProbeAsync(_probeTimeout, ct).ConfigureAwait(false);
            bool up = failure is null;
            if (up != _health.Item1)
            {
                _health = Tuple.Create(up, failure ?? "");
                HealthChanged?.Invoke();
            }
        }
        finally
        {
            _probeTurn.Release();
        }
    }

    /// <summary>The origin requests go to.</summary>
    public OriginConnector Origin => _origin.Origin;

    /// <summary>Whether the origin takes connections (relay's connect health: failures in a row, then a cooldown).</summary>
    public bool OriginHealthy => _origin.IsHealthy;

    /// <inheritdoc />
    public async Task ServeAsync(BatonTransaction transaction, CancellationToken cancellationToken)
    {
        var outcome = await _origin.ForwardAsync(transaction.Connection, transaction.Request, transaction.RequestBody, cancellationToken).ConfigureAwait(false);
        switch (outcome)
        {
            case TransactionOutcome.Back:
                await transaction.CompleteAsync().ConfigureAwait(false);
                break;
            case TransactionOutcome.Ended:
                // The exchange closed the client's side itself (a body delimited by the close, an
                // upgrade that ended, a response cut short).
                await transaction.CompleteAsync(keepAlive: false).ConfigureAwait(false);
                break;
            case TransactionOutcome.NotServed failed:
                // The origin refused, reset or stalled before any byte reached the client, and the
                // request body is untouched: answered from here, on the same connection, which
                // stays usable. The reason is in the log; the client reads no internal detail.
                // The failure counts at once: the origin is probed now, not at the next tick, so
                // a dead origin stops the router's hand-offs here after one 502, not a second's worth.
                OnAvailabilityChanged();
                var head = transaction.Request;
                string text = $"{failed.Status} {SimpleResponse.Reason(failed.Status)}: {failed.ClientText("the origin")}\n";
                await transaction.Response.WriteAsync(SimpleResponse.Build(failed.Status, text, keepAlive: head.KeepAlive, http10: head.VersionMinor == 0,
                    ("Baton-Host", _hostName)), cancellationToken).ConfigureAwait(false);
                await transaction.CompleteAsync().ConfigureAwait(false);
                break;
        }
    }

    /// <summary>Stops probing and closes the idle upstream connections.</summary>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _probing.ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        _stop.Dispose();
        await _origin.DisposeAsync().ConfigureAwait(false);
    }
}
