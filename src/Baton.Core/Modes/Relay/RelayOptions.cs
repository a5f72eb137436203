namespace Baton.Modes.Relay;

/// <summary>Timeouts, pool size and passive-health settings of the relay transfer mode, per destination.</summary>
public sealed record RelayOptions
{
    /// <summary>How long one TCP connect to the origin may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How many connects are tried (each on a fresh socket) before the request is answered 502/504.</summary>
    public int ConnectAttempts { get; init; } = 2;

    /// <summary>
    /// How long the origin may take from the request head to its response head. Like YARP's
    /// ActivityTimeout (100 s): long enough for slow application work, short enough that a hung
    /// origin does not hold connections forever.
    /// </summary>
    public TimeSpan ResponseHeadTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>
    /// How long a body transfer may make no progress in either direction (client to origin, origin
    /// to client) before the transaction is abandoned.
    /// </summary>
    public TimeSpan ActivityTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>
    /// How long an idle upstream connection stays pooled. Below nginx's default keepalive_timeout
    /// (75 s), so Baton usually drops an idle connection before the origin does.
    /// </summary>
    public TimeSpan IdleUpstreamTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Idle upstream connections kept per destination; more are closed when they come back.</summary>
    public int MaxIdlePerTarget { get; init; } = 64;

    /// <summary>Consecutive connect failures after which the destination is reported unhealthy.</summary>
    public int FailuresBeforeUnhealthy { get; init; } = 3;

    /// <summary>How long an unhealthy destination is avoided before requests may try it again (half-open).</summary>
    public TimeSpan UnhealthyCooldown { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The clock for pool expiry and health; tests pass a fake one.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}
