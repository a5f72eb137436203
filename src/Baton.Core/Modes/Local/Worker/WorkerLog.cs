using Microsoft.Extensions.Logging;

namespace Baton.Modes.Local.Worker;

/// <summary>The worker's log events (ids 600–699 are stable).</summary>
internal static partial class WorkerLog
{
    [LoggerMessage(600, LogLevel.Information, "worker {Name} registered at {Path}")]
    public static partial void Registered(ILogger log, string name, string path);

    [LoggerMessage(601, LogLevel.Information, "worker {Name}: link to the router closed ({Reason})")]
    public static partial void LinkClosed(ILogger log, string name, string reason);

    [LoggerMessage(602, LogLevel.Warning, "connection {Id}: passed descriptor unusable: {Reason}")]
    public static partial void PassUnusable(ILogger log, ulong id, string reason);




    [LoggerMessage(606, LogLevel.Warning, "connection {Id}: return failed, closing here: {Reason}")]
    public static partial void ReturnFailed(ILogger log, ulong id, string reason);

    [LoggerMessage(607, LogLevel.Error, "connection {Id} failed")]
    public static partial void ConnectionFailed(ILogger log, Exception e, ulong id);
}
