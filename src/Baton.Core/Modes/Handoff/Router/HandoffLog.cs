using System.Net;
using Baton.Modes.Handoff.Protocol;
using Microsoft.Extensions.Logging;

namespace Baton.Modes.Handoff.Router;

/// <summary>The router's hand-off and agent-link log events (ids 200–299 are stable).</summary>
internal static partial class HandoffLog
{
    [LoggerMessage(200, LogLevel.Warning, "hand-off of {Client} to {Agent} failed, connection kept: {Reason}")]
    public static partial void HandoffFailed(ILogger log, IPEndPoint client, string agent, string reason);

    [LoggerMessage(201, LogLevel.Error, "Go to {Agent} failed, connection from {Client} lost: {Reason}")]
    public static partial void GoFailed(ILogger log, string agent, IPEndPoint client, string reason);

    [LoggerMessage(202, LogLevel.Error, "connection from {Client} could not be restored on its return: {Reason}")]
    public static partial void RestoreFailed(ILogger log, IPEndPoint client, string reason);

    [LoggerMessage(203, LogLevel.Warning, "connection from {Client} could not be restored on its return ({Reason}): steered back to {Agent}, which closes it")]
    public static partial void ReturnFailed(ILogger log, IPEndPoint client, string agent, string reason);

    [LoggerMessage(204, LogLevel.Warning, "connection from {Client} not passed from {From} to {To} ({Reason}): restored here, its next request is handed off anew")]
    public static partial void PassFailed(ILogger log, IPEndPoint client, string from, string to, string reason);

    [LoggerMessage(210, LogLevel.Information, "agent {Name} connected at {Endpoint}")]
    public static partial void AgentConnected(ILogger log, string name, IPEndPoint endpoint);

    [LoggerMessage(211, LogLevel.Warning, "agent {Name} closed its control link")]
    public static partial void AgentClosed(ILogger log, string name);

    [LoggerMessage(212, LogLevel.Warning, "agent {Name} at {Endpoint} unavailable: {Reason}")]
    public static partial void AgentUnavailable(ILogger log, string name, IPEndPoint endpoint, string reason);

    [LoggerMessage(213, LogLevel.Warning, "agent {Name}: {Type} for unknown connection {Id}")]
    public static partial void UnknownConnection(ILogger log, string name, ControlMessageType type, ulong id);

    [LoggerMessage(214, LogLevel.Warning, "agent {Name}: its application cannot serve ({Reason}): no hand-offs to it until it can")]
    public static partial void ApplicationDown(ILogger log, string name, string reason);

    [LoggerMessage(215, LogLevel.Information, "agent {Name}: its application serves again")]
    public static partial void ApplicationUp(ILogger log, string name);

    [LoggerMessage(216, LogLevel.Information, "agent {Name}: connection from {Client} held since an earlier router run, adopted")]
    public static partial void Adopted(ILogger log, string name, IPEndPoint client);

    [LoggerMessage(217, LogLevel.Warning, "adopted connection from {Client} at agent {Name} could not be steered there: {Reason}")]
    public static partial void AdoptSteeringFailed(ILogger log, IPEndPoint client, string name, string reason);

    [LoggerMessage(218, LogLevel.Information, "took over the steering of {Count} connections a previous run left at agents")]
    public static partial void SteeringTakenOver(ILogger log, int count);

    [LoggerMessage(219, LogLevel.Warning, "the previous run's steering could not be taken over ({Reason}): connections it left at agents are lost")]
    public static partial void SteeringNotTakenOver(ILogger log, string reason);

    [LoggerMessage(220, LogLevel.Information, "{Count} connections the previous run left forwarded were claimed by no agent within {Grace}: their entries are removed")]
    public static partial void UnclaimedCleared(ILogger log, int count, TimeSpan grace);

    [LoggerMessage(221, LogLevel.Warning, "connection from {Client} not parked for the next run ({Reason}): closed")]
    public static partial void ParkFailed(ILogger log, IPEndPoint client, string reason);

    [LoggerMessage(222, LogLevel.Information, "{Count} connections held here parked for the next run in {File}")]
    public static partial void Parked(ILogger log, int count, string file);

    [LoggerMessage(223, LogLevel.Information, "restored {Restored} of {Count} connections the previous run parked")]
    public static partial void Unparked(ILogger log, int restored, int count);

    [LoggerMessage(224, LogLevel.Warning, "parked connection {What} not restored: {Reason}")]
    public static partial void UnparkFailed(ILogger log, string what, string reason);
}
