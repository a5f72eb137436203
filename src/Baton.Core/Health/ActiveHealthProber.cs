using Microsoft.Extensions.Logging;

namespace Baton.Health;

/// <summary>
/// Probes the destinations of every cluster with active checks enabled, each cluster on its own
/// <see cref="ActiveHealthCheckOptions.Interval"/>, and records the results in their
/// <see cref="DestinationHealth"/>. A reload hands it the new clusters: the old loops stop, new ones
/// start (states whose settings did not change are the same objects, so nothing is forgotten).
/// </summary>
public sealed class ActiveHealthProber : IAsyncDisposable
{
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly object _gate = new();
    private CancellationTokenSource _loops = new();
    private Task _running = Task.CompletedTask;
    private bool _disposed;

    /// <param name="time">The clock for intervals and timeouts; tests pass a fake one.</param>
    /// <param name="log">Where health changes are logged.</param>
    public ActiveHealthProber(TimeProvider time, ILogger log)
    {
        _time = time;
        _log = log;
    }

    /// <summary>
    /// Stops the loops of the previous clusters and starts one per probed cluster of <paramref name="clusters"/>.
    /// Does nothing once disposed (a reload that races the router's stop).
    /// </summary>
    public void Apply(IEnumerable<ClusterHealth> clusters)
    {
        lock (_gate)
        {
            if (_disposed) return;
            _loops.Cancel();
            _loops.Dispose();
            _loops = new CancellationTokenSource();
            var ct = _loops.Token;
            var previous = _running;
            var started = clusters.Where(c => c.IsProbed).Select(c => Task.Run(() => LoopAsync(c, ct), CancellationToken.None)).ToList();
            started.Add(previous);
            _running = Task.WhenAll(started);
        }
    }

    /// <summary>
    /// One round: probes every destination of <paramref name="cluster"/> that has a probe address, all
    /// at once, and records the results. Completes when every probe has its result (or timed out).
    /// </summary>
    public Task ProbeAsync(ClusterHealth cluster, CancellationToken ct = default) =>
        Task.WhenAll(cluster.Destinations.Where(d => d.ProbeUri is not null).Select(d => ProbeAsync(cluster, d, ct)));

    private async Task ProbeAsync(ClusterHealth cluster, DestinationHealth d, CancellationToken ct)
    {
        var uri = d.ProbeUri!;
        var result = await HealthProbe.SendAsync(uri, d.ActiveOptions.Timeout, _time, ct).ConfigureAwait(false);
        if (ct.IsCancellationRequested) return; // stopped or reloaded meanwhile: a cut-off probe says nothing
        if (!result.Success) HealthLog.ProbeFailed(_log, cluster.ClusterId, d.Name, uri, result.Detail);
        if (d.RecordProbe(result.Success) is { } changed)
            HealthLog.ActiveChanged(_log, cluster.ClusterId, d.Name, changed, uri, result.Detail);
    }

    private async Task LoopAsync(ClusterHealth cluster, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await ProbeAsync(cluster, ct).ConfigureAwait(false);
                await Task.Delay(cluster.Options.Active.Interval, _time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>Stops every loop and waits for the probes in flight.</summary>
    public async ValueTask DisposeAsync()
    {
        Task running;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _loops.Cancel();
            running = _running;
        }
        try { await running.ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        _loops.Dispose();
    }
}
