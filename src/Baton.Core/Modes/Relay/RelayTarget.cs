using System.Net;
using Baton.Http;
using Baton.Metrics;
using Microsoft.Extensions.Logging;

namespace Baton.Modes.Relay;

/// <summary>
/// A destination served as a classic reverse proxy: the router keeps the client connection and
/// carries each request to the origin and its response back, over pooled keep-alive connections.
/// Needs no privilege and no agent; costs the router the response bytes the other modes avoid.
/// </summary>
public sealed class RelayTarget : ITransferTarget, IAsyncDisposable
{
    private readonly ILogger _log;

    /// <param name="name">The destination's name in the configuration.</param>
    /// <param name="origin">The origin as <c>http://host:port</c> or <c>unix:/path</c>; a path of an http URL is ignored (request targets go as the client sent them).</param>
    /// <param name="options">Timeouts, pool size and health settings.</param>
    /// <param name="log">Where relay events go.</param>
    /// <exception cref="ArgumentException">The origin is neither form.</exception>
    public RelayTarget(string name, Uri origin, RelayOptions options, ILogger log)
        : this(name, ConnectorFor(name, origin), options, log)
    {
    }

    /// <param name="name">The destination's name.</param>
    /// <param name="origin">How connections to the origin are opened.</param>
    /// <param name="options">Timeouts, pool size and health settings.</param>
    /// <param name="log">Where relay events go.</param>
    public RelayTarget(string name, OriginConnector origin, RelayOptions options, ILogger log)
    {
        Name = name;
        Origin = origin;
        Options = options;
        _log = log;
        Pool = new UpstreamPool(origin, options);
        Health = new RelayHealth(options);
    }

    private static OriginConnector ConnectorFor(string name, Uri origin)
    {
        try
        {
            return OriginConnector.For(origin);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"relay destination '{name}': {e.Message}", nameof(origin), e);
        }
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The origin the requests go to.</summary>
    public OriginConnector Origin { get; }

    /// <inheritdoc />
    /// <remarks>Passive: see <see cref="RelayHealth"/> (connect failures in a row, a cooldown, then half-open).</remarks>
    public bool IsHealthy => Health.IsHealthy;

    internal RelayOptions Options { get; }

    /// <summary>Where relay events go.</summary>
    internal ILogger Log => _log;

    /// <summary>host[:port] of the origin, the Host of a request that came without one.</summary>
    internal string Authority => Origin.Authority;

    internal UpstreamPool Pool { get; }

    internal RelayHealth Health { get; }

    /// <inheritdoc />
    public Task<TransactionOutcome> ServeAsync(ClientConnection connection, RequestHead head, CancellationToken ct) =>
        new RelayExchange(this, connection, head).RunAsync(ct);

    /// <summary>
    /// Relays one request whose body its holder has opened already (<paramref name="requestBody"/>):
    /// a back-end forwarding a handed-off connection's transaction to its own origin.
    /// </summary>
    internal Task<TransactionOutcome> ForwardAsync(ClientConnection connection, RequestHead head, Stream requestBody, CancellationToken ct) =>
        new RelayExchange(this, connection, head, requestBody).RunAsync(ct);

    /// <summary>Closes the idle upstream connections.</summary>
    public ValueTask DisposeAsync()
    {
        Pool.Dispose();
        return ValueTask.CompletedTask;
    }

    internal void ConnectFailed(Exception e)
    {
        RelayLog.ConnectFailed(_log, Name, Origin.Description, e.Message);
        if (Health.ConnectFailed()) RelayLog.Unhealthy(_log, Name, Options.FailuresBeforeUnhealthy, Options.UnhealthyCooldown);
    }

    // The request line is formatted only when the event is logged, and passed as a string: the head is the
    // connection's, refilled by its next request, so a log entry must not hold it.
    internal void Retrying(RequestHead head, string reason)
    {
        BatonMetrics.RelayRetries.Add(1);
        if (_log.IsEnabled(LogLevel.Debug)) RelayLog.Retrying(_log, Name, head.ToString(), reason);
    }

    internal void OriginFailed(RequestHead head, string reason)
    {
        if (_log.IsEnabled(LogLevel.Warning)) RelayLog.OriginFailed(_log, Name, head.ToString(), reason);
    }

    internal void Upgraded(RequestHead head)
    {
        if (_log.IsEnabled(LogLevel.Debug)) RelayLog.Upgraded(_log, Name, head.ToString());
    }

    internal void ClientEnded(RequestHead head, string reason)
    {
        if (_log.IsEnabled(LogLevel.Debug)) RelayLog.ClientEnded(_log, Name, head.ToString(), reason);
    }
}
