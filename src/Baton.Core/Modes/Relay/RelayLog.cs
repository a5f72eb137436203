using Microsoft.Extensions.Logging;

namespace Baton.Modes.Relay;

/// <summary>Log events of the relay transfer mode (ids 700–799 are stable).</summary>
internal static partial class RelayLog
{
    [LoggerMessage(700, LogLevel.Warning, "relay {Name}: connect to {Origin} failed: {Reason}")]
    public static partial void ConnectFailed(ILogger log, string name, string origin, string reason);

    [LoggerMessage(701, LogLevel.Warning, "relay {Name}: {Failures} connect failures in a row, unhealthy for {Cooldown}")]
    public static partial void Unhealthy(ILogger log, string name, int failures, TimeSpan cooldown);

    [LoggerMessage(702, LogLevel.Debug, "relay {Name}: {Request} retried on a fresh connection: {Reason}")]
    public static partial void Retrying(ILogger log, string name, string request, string reason);

    [LoggerMessage(703, LogLevel.Warning, "relay {Name}: {Request} failed at the origin: {Reason}")]
    public static partial void OriginFailed(ILogger log, string name, string request, string reason);

    [LoggerMessage(704, LogLevel.Debug, "relay {Name}: {Request}: client connection ended: {Reason}")]
    public static partial void ClientEnded(ILogger log, string name, string request, string reason);

    [LoggerMessage(705, LogLevel.Debug, "relay {Name}: {Request}: switched protocols, tunnelling until the connection ends")]
    public static partial void Upgraded(ILogger log, string name, string request);

    [LoggerMessage(706, LogLevel.Warning, "bodies are copied through this process instead of spliced (zero-copy) from here on: {Reason}")]
    public static partial void SpliceUnavailable(ILogger log, string reason);
}
