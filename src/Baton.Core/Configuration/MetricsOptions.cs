using System.Net;

namespace Baton.Configuration;

/// <summary>
/// Where a router or an agent publishes the <c>Baton</c> meter: a Prometheus scrape endpoint
/// (<c>Baton:Metrics:Listen</c>, <c>GET /metrics</c>), and/or OTLP export to a collector
/// (<c>Baton:Metrics:Otlp:Endpoint</c>). Both off by default: a node serves nothing it was not asked to.
/// </summary>
public sealed record MetricsOptions
{
    /// <summary>The scrape listener's address:port (its own listener, apart from client traffic); null: none.</summary>
    public IPEndPoint? Listen { get; init; }

    /// <summary>The OTLP collector's URL (e.g. http://collector:4317); null: no OTLP export.</summary>
    public Uri? OtlpEndpoint { get; init; }

    /// <summary>OTLP over gRPC (the default, port 4317) or HTTP with protobuf bodies (port 4318, path /v1/metrics).</summary>
    public OtlpTransport OtlpProtocol { get; init; } = OtlpTransport.Grpc;

    /// <summary>How often the OTLP exporter pushes (OpenTelemetry's default is 60 s).</summary>
    public TimeSpan OtlpInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Whether anything is published at all.</summary>
    public bool Enabled => Listen is not null || OtlpEndpoint is not null;

    /// <summary>Nothing published.</summary>
    public static MetricsOptions None { get; } = new();

    /// <summary>The transport an OTLP protocol name names (null: grpc, the default), or null when it names none.</summary>
    public static OtlpTransport? ParseProtocol(string? name) => name switch
    {
        null or "grpc" => OtlpTransport.Grpc,
        "http/protobuf" => OtlpTransport.HttpProtobuf,
        _ => null,
    };
}

/// <summary>OTLP's two transports, as <c>Baton:Metrics:Otlp:Protocol</c> names them.</summary>
public enum OtlpTransport
{
    /// <summary>"grpc".</summary>
    Grpc,

    /// <summary>"http/protobuf".</summary>
    HttpProtobuf,
}
