using System.Net;
using Microsoft.Extensions.Logging;

namespace Baton.Router;

/// <summary>The router's log events (ids 100–199 are stable: people grep and alert on them).</summary>
internal static partial class RouterLog
{
    [LoggerMessage(100, LogLevel.Information, "router listening on {Listen} ({Routes} routes, {Agents} agents)")]
    public static partial void Listening(ILogger log, IPEndPoint listen, int routes, int agents);

    [LoggerMessage(101, LogLevel.Information, "refused request from {Client}: {Status} {Reason}")]
    public static partial void RequestRefused(ILogger log, EndPoint? client, int status, string? reason);

    [LoggerMessage(102, LogLevel.Debug, "connection ended: {Reason}")]
    public static partial void ConnectionEnded(ILogger log, string reason);
}
