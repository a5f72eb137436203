using System.Net;
using Baton.Configuration;
using Baton.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Baton.Operations;

/// <summary>
/// Publishes the <c>Baton</c> meter, and the runtime's own (<c>System.Runtime</c>: GC, thread pool,
/// CPU time), through OpenTelemetry: Prometheus text on <c>GET /metrics</c> at
/// <see cref="MetricsOptions.Listen"/>, served by Kestrel on a listener of its own, and/or OTLP
/// pushed to <see cref="MetricsOptions.OtlpEndpoint"/>.
/// </summary>
public sealed class MetricsPublisher : IAsyncDisposable
{
    /// <summary>The scrape path, as Prometheus expects it by default.</summary>
    public const string ScrapePath = "/metrics";

    private readonly WebApplication? _web;
    private readonly MeterProvider? _provider;

    private MetricsPublisher(WebApplication? web, MeterProvider? provider) => (_web, _provider) = (web, provider);

    /// <summary>
    /// Starts what <paramref name="options"/> asks for, or nothing (null) when it asks for nothing.
    /// <paramref name="service"/> names the node in OTLP's <c>service.name</c> (baton-router, baton-agent)
    /// and <paramref name="instance"/> in <c>service.instance.id</c>.
    /// </summary>
    /// <exception cref="ConfigException">The scrape listener cannot be bound (in use, or not an address of this host).</exception>
    public static async Task<MetricsPublisher?> StartAsync(MetricsOptions options, string service, string instance, ILoggerFactory loggers, CancellationToken ct)
    {
        if (!options.Enabled) return null;
        var log = loggers.CreateLogger("Baton.Metrics");
        if (options.Listen is not { } listen)
        {
            var provider = Configure(Sdk.CreateMeterProviderBuilder(), options, service, instance, prometheus: false).Build();
            MetricsLog.Exporting(log, options.OtlpEndpoint!, options.OtlpProtocol);
            return new MetricsPublisher(null, provider);
        }
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(listen));
        builder.Services.AddRoutingCore();
        builder.Services.AddOpenTelemetry().WithMetrics(m => Configure(m, options, service, instance, prometheus: true));
        var web = builder.Build();
        web.UseRouting();
        web.MapPrometheusScrapingEndpoint(ScrapePath);
        try
        {
            await web.StartAsync(ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await web.DisposeAsync().ConfigureAwait(false);
            throw new ConfigException($"Baton:Metrics:Listen: cannot listen on {listen}: {e.InnerException?.Message ?? e.Message}");
        }
        MetricsLog.Scraping(log, $"http://{listen}{ScrapePath}");
        if (options.OtlpEndpoint is { } otlp) MetricsLog.Exporting(log, otlp, options.OtlpProtocol);
        return new MetricsPublisher(web, null);
    }

    private static MeterProviderBuilder Configure(MeterProviderBuilder m, MetricsOptions options, string service, string instance, bool prometheus)
    {
        m.ConfigureResource(r => r.AddService(service, serviceInstanceId: instance))
            .AddMeter(BatonMetrics.MeterName, "System.Runtime");
        // No cached scrape: a scrape shows the counts as they are (the exporter keeps one for 300 ms
        // by default, which hides a test's last requests; Prometheus scrapes every 15 s or more anyway).
        if (prometheus) m.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
        if (options.OtlpEndpoint is { } endpoint)
            m.AddOtlpExporter((exporter, reader) =>
            {
                exporter.Endpoint = options.OtlpProtocol == OtlpTransport.HttpProtobuf && endpoint.AbsolutePath == "/"
                    ? new Uri(endpoint, "v1/metrics") // the HTTP transport posts to the URL as given
                    : endpoint;
                exporter.Protocol = options.OtlpProtocol == OtlpTransport.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)options.OtlpInterval.TotalMilliseconds;
            });
        return m;
    }

    /// <summary>Stops the listener and flushes a last OTLP export.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_web is not null)
        {
            await _web.StopAsync().ConfigureAwait(false);
            await _web.DisposeAsync().ConfigureAwait(false);
        }
        _provider?.Dispose();
    }
}

internal static partial class MetricsLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "metrics for Prometheus at {Url}")]
    public static partial void Scraping(ILogger log, string url);

    [LoggerMessage(Level = LogLevel.Information, Message = "metrics exported by OTLP ({Protocol}) to {Endpoint}")]
    public static partial void Exporting(ILogger log, Uri endpoint, OtlpTransport protocol);
}
