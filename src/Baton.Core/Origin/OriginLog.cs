using System.Net;
using Baton.Http;
using Microsoft.Extensions.Logging;

namespace Baton.Origin;

/// <summary>The origin's log events (ids 800–899 are stable).</summary>
internal static partial class OriginLog
{
    [LoggerMessage(800, LogLevel.Information, "origin {Name} listening on {Endpoint}")]
    public static partial void Listening(ILogger log, string name, IPEndPoint endpoint);

    [LoggerMessage(801, LogLevel.Debug, "connection {Id} from {Remote} ended: {Status}")]
    public static partial void ConnectionEnded(ILogger log, ulong id, EndPoint? remote, HeadReadStatus status);

    [LoggerMessage(802, LogLevel.Information, "connection {Id} from {Remote}: invalid request, answered {Status} and closed: {Reason}")]
    public static partial void InvalidRequest(ILogger log, ulong id, EndPoint? remote, int status, string? reason);

    [LoggerMessage(803, LogLevel.Error, "connection {Id} failed")]
    public static partial void ConnectionFailed(ILogger log, Exception e, ulong id);
}
