using Microsoft.Extensions.Logging;
using Baton.Modes.Local.Protocol;

namespace Baton.Modes.Local.Router;

/// <summary>Log events of the local transfer mode (ids 500–599 are stable).</summary>
internal static partial class LocalLog
{
    [LoggerMessage(500, LogLevel.Information, "listening for workers on {Path}")]
    public static partial void Listening(ILogger log, string path);

    [LoggerMessage(501, LogLevel.Warning, "worker connection refused: {Reason}")]
    public static partial void WorkerRefused(ILogger log, string reason);

    [LoggerMessage(502, LogLevel.Information, "worker {Name} registered (pid {Pid}, uid {Uid})")]
    public static partial void WorkerRegistered(ILogger log, string name, int pid, uint uid);

    [LoggerMessage(503, LogLevel.Warning, "worker {Name} gone ({Reason}); {Count} connections it held are lost")]
    public static partial void WorkerGone(ILogger log, string name, string reason, int count);

    [LoggerMessage(504, LogLevel.Warning, "worker {Name}: returned connection {Id} unusable: {Reason}")]
    public static partial void ReturnUnusable(ILogger log, string name, ulong id, string reason);

    [LoggerMessage(505, LogLevel.Warning, "worker {Name}: message {Type} for unknown connection {Id}")]
    public static partial void UnknownConnection(ILogger log, string name, LocalMessageType type, ulong id);
}
