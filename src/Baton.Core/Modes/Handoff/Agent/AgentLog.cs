using System.Net;
using Baton.Http;
using Microsoft.Extensions.Logging;

namespace Baton.Modes.Handoff.Agent;

/// <summary>The agent's log events (ids 300–399 are stable).</summary>
internal static partial class AgentLog
{
    [LoggerMessage(300, LogLevel.Information, "agent {Name} listening for the router on {Endpoint}")]
    public static partial void Listening(ILogger log, string name, IPEndPoint endpoint);

    [LoggerMessage(301, LogLevel.Warning, "control link from {Remote} refused: {Reason}")]
    public static partial void LinkRefused(ILogger log, EndPoint? remote, string reason);

    [LoggerMessage(302, LogLevel.Information, "router connected from {Remote}")]
    public static partial void RouterConnected(ILogger log, EndPoint? remote);

    [LoggerMessage(303, LogLevel.Warning, "control link from {Remote} dropped, message refused: {Reason}")]
    public static partial void MessageRefused(ILogger log, EndPoint? remote, string reason);

    [LoggerMessage(304, LogLevel.Information, "control link from {Remote} closed: {Reason}")]
    public static partial void LinkClosed(ILogger log, EndPoint? remote, string reason);

    [LoggerMessage(310, LogLevel.Warning, "hand-off {Id} refused: {Reason}")]
    public static partial void HandoffRefused(ILogger log, ulong id, string reason);

    [LoggerMessage(311, LogLevel.Error, "connection {Id} could not go live: {Reason}")]
    public static partial void ActivateFailed(ILogger log, ulong id, string reason);

    [LoggerMessage(312, LogLevel.Error, "connection {Id} failed")]
    public static partial void ConnectionFailed(ILogger log, Exception e, ulong id);

    [LoggerMessage(320, LogLevel.Warning, "connection {Id}: no request after hand-off ({Status} {Reason})")]
    public static partial void NoRequest(ILogger log, ulong id, HeadReadStatus status, string? reason);

    [LoggerMessage(321, LogLevel.Error, "connection {Id}: application failed on {Request}")]
    public static partial void ApplicationFailed(ILogger log, Exception e, ulong id, string? request);

    [LoggerMessage(322, LogLevel.Warning, "connection {Id}: request body unreadable: {Reason}")]
    public static partial void BodyUnreadable(ILogger log, ulong id, string reason);

    [LoggerMessage(323, LogLevel.Warning, "connection {Id}: response not sent within {Timeout}, closing")]
    public static partial void DrainTimedOut(ILogger log, ulong id, TimeSpan timeout);

    [LoggerMessage(324, LogLevel.Warning, "connection {Id}: router did not freeze it, closing")]
    public static partial void NotFrozen(ILogger log, ulong id);

    [LoggerMessage(326, LogLevel.Warning, "connection {Id}: the router could not restore its return, closing it here")]
    public static partial void ReturnFailed(ILogger log, ulong id);

    [LoggerMessage(327, LogLevel.Warning, "ReturnFailed for connection {Id}, which is not parked here (unknown or expired): refused")]
    public static partial void ReturnFailedUnknown(ILogger log, ulong id);

    [LoggerMessage(328, LogLevel.Error, "connection {Id}: its parked snapshot could not be restored here: {Reason}")]
    public static partial void ResumeFailed(ILogger log, ulong id, string reason);

    [LoggerMessage(325, LogLevel.Information, "connection {Id} stays to close here: {Reason}")]
    public static partial void ClosesHere(ILogger log, ulong id, string reason);

    [LoggerMessage(329, LogLevel.Information, "connection {Id}: invalid request body ({Reason}): answered 400, closing")]
    public static partial void BadRequestBody(ILogger log, ulong id, string reason);

    [LoggerMessage(330, LogLevel.Information, "connection {Id} from {Client}: held from an earlier router link, announced to the new router")]
    public static partial void Reannounced(ILogger log, ulong id, System.Net.IPEndPoint client);

    [LoggerMessage(331, LogLevel.Warning, "connection {Id}: no router linked within {Grace} after its link ended: closing it here")]
    public static partial void NoRouterCame(ILogger log, ulong id, TimeSpan grace);
}
