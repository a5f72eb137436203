using System.Net;
using Microsoft.Extensions.Logging;

namespace Baton.Router;

/// <summary>The router's log events (ids 100–199 are stable: people grep and alert on them).</summary>
internal static partial class RouterLog
{
    [LoggerMessage(100, LogLevel.Information, "router listening on {Listen} ({Routes} routes, {Destinations} destinations)")]
    public static partial void Listening(ILogger log, IPEndPoint listen, int routes, int destinations);

    [LoggerMessage(101, LogLevel.Information, "refused request from {Client}: {Status} {Reason}")]
    public static partial void RequestRefused(ILogger log, EndPoint? client, int status, string? reason);

    [LoggerMessage(102, LogLevel.Debug, "connection ended: {Reason}")]
    public static partial void ConnectionEnded(ILogger log, string reason);

    [LoggerMessage(105, LogLevel.Warning, "{Client}: destination {Failed} did not take the request ({Reason}); sent to {Next}")]
    public static partial void Retried(ILogger log, System.Net.IPEndPoint client, string failed, string next, string reason);

    [LoggerMessage(104, LogLevel.Information, "{Client}: invalid request body ({Reason}): answered 400, closing")]
    public static partial void BadRequestBody(ILogger log, System.Net.IPEndPoint client, string reason);

    [LoggerMessage(103, LogLevel.Warning, "request from {Client} not served by {Destination}: {Reason}")]
    public static partial void DestinationFailed(ILogger log, EndPoint client, string destination, string reason);

    [LoggerMessage(110, LogLevel.Information, "configuration {File} reloaded: {Routes} routes in force")]
    public static partial void Reloaded(ILogger log, string file, int routes);

    [LoggerMessage(111, LogLevel.Error, "configuration {File} rejected, previous routes stay in force: {Reason}")]
    public static partial void ReloadRejected(ILogger log, string file, string reason);

    [LoggerMessage(119, LogLevel.Information, "destination {Destination} removed: the configuration no longer names it, and its last connection has finished")]
    public static partial void DestinationRemoved(ILogger log, string destination);

    [LoggerMessage(118, LogLevel.Warning, "restarting: connections away at agents stay there, steered, for the next run to adopt")]
    public static partial void Restarting(ILogger log);

    [LoggerMessage(117, LogLevel.Warning, "destination {Destination} {What}")]
    public static partial void Draining(ILogger log, string destination, string what);

    [LoggerMessage(112, LogLevel.Warning, "configuration reloaded in part: {Reason}")]
    public static partial void ReloadPartial(ILogger log, string reason);

    [LoggerMessage(113, LogLevel.Warning, "configuration: {Warning}")]
    public static partial void ConfigWarning(ILogger log, string warning);

    [LoggerMessage(114, LogLevel.Warning, "flow steering with nftables: eBPF steering did not load ({Reason})")]
    public static partial void SteeringFallback(ILogger log, string reason);

    [LoggerMessage(115, LogLevel.Warning, "hold queue unavailable: {Reason}; packets of connections frozen in transit are dropped (the client resends them after its RTO, >= 200 ms)")]
    public static partial void HoldQueueUnavailable(ILogger log, string reason);

    [LoggerMessage(116, LogLevel.Warning, "XDP forwarding unavailable: {Reason}")]
    public static partial void XdpUnavailable(ILogger log, string reason);
}
