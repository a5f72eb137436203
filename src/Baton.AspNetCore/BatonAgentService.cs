using System.Net;
using Baton.Application;
using Baton.Modes.Handoff.Agent;
using Baton.Modes.Handoff.Protocol;
using Baton.Modes.Relay;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Baton.AspNetCore;

/// <summary>
/// The agent inside the application's process: it takes the router's control link, restores the
/// connections handed here, and serves each transaction through Kestrel (<see cref="KestrelConnector"/>).
/// Bad settings and a missing privilege stop the host at start, each named in one line.
/// </summary>
internal sealed partial class BatonAgentService(
    IOptions<BatonAgentOptions> options, BatonTransport transport, ILoggerFactory loggers, IHostApplicationLifetime lifetime) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _log = loggers.CreateLogger("Baton.AspNetCore");
    private readonly CancellationTokenSource _stop = new();
    private OriginForwarder? _forwarder;
    private Task _running = Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (o.Problems() is { Count: > 0 } problems)
            throw new InvalidOperationException($"UseBatonAgent: {string.Join("; ", problems)}");
        var control = IPEndPoint.Parse(o.Listen);
        var agent = new AgentOptions
        {
            Name = o.Name,
            ControlEndpoint = control,
            Key = ClusterKey.FromFile(o.KeyFile),
            Mac = AgentOptions.MacFor(control.Address, o.Interface),
            Application = _forwarder = new OriginForwarder(new KestrelConnector(transport),
                new RelayOptions { ResponseHeadTimeout = o.ResponseHeadTimeout }, o.Name, loggers.CreateLogger("Baton.AspNetCore.Forward")),
        };
        // The privilege check and the control listener's bind run before the host's first await:
        // their failure is the start's failure, not a log line after the application seemed to start.
        _running = new AgentHost(agent, loggers).RunAsync(_stop.Token);
        if (_running.IsCompleted) await _running.ConfigureAwait(false);
        _ = WatchAsync();
    }

    private async Task WatchAsync()
    {
        try
        {
            await _running.ConfigureAwait(false);
        }
        catch (Exception e) when (!_stop.IsCancellationRequested)
        {
            AgentFailed(_log, e);
            lifetime.StopApplication();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stop.Cancel();
        try { await _running.WaitAsync(cancellationToken).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_forwarder is not null) await _forwarder.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(1400, LogLevel.Critical, "the Baton agent stopped; stopping the application")]
    private static partial void AgentFailed(ILogger log, Exception e);
}
