namespace Baton.Health;

/// <summary>
/// A cluster's health settings, YARP's <c>Clusters:&lt;id&gt;:HealthCheck</c> section: active probing,
/// passive deactivation, and which destinations the balancer may choose from.
/// </summary>
public sealed record HealthCheckOptions
{
    /// <summary>No active probes, no passive deactivation, <see cref="AvailableDestinations.HealthyAndUnknown"/>.</summary>
    public static HealthCheckOptions Default { get; } = new();

    /// <summary>Periodic probes of each destination's health address.</summary>
    public ActiveHealthCheckOptions Active { get; init; } = new();

    /// <summary>Deactivation of a destination after failed transactions.</summary>
    public PassiveHealthCheckOptions Passive { get; init; } = new();

    /// <summary>Which destinations the balancer sees: one of the <see cref="AvailableDestinations"/> names.</summary>
    public string AvailableDestinationsPolicy { get; init; } = AvailableDestinations.HealthyAndUnknown;
}

/// <summary>YARP's <c>HealthCheck:Active</c> section, plus Baton's <see cref="Rise"/> and <see cref="Fall"/>.</summary>
public sealed record ActiveHealthCheckOptions
{
    /// <summary>YARP's only active policy, and its default: consecutive failed probes make a destination unhealthy.</summary>
    public const string ConsecutiveFailures = "ConsecutiveFailures";

    /// <summary>YARP's cluster <c>Metadata</c> key for the failure threshold; Baton reads it as <see cref="Fall"/>.</summary>
    public const string ThresholdMetadataKey = "ConsecutiveFailuresHealthPolicy.Threshold";

    /// <summary>Whether destinations are probed (YARP: off unless enabled).</summary>
    public bool Enabled { get; init; }

    /// <summary>Time between two probes of a destination (YARP's default, 15 s).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a probe may take to get its response's status line (YARP's default, 10 s).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The policy name; only <see cref="ConsecutiveFailures"/>.</summary>
    public string Policy { get; init; } = ConsecutiveFailures;

    /// <summary>Appended to the health address's path, e.g. <c>/healthz</c>.</summary>
    public string Path { get; init; } = "";

    /// <summary>Appended after the path, e.g. <c>?ready=1</c>.</summary>
    public string Query { get; init; } = "";

    /// <summary>Consecutive failed probes that make a destination unhealthy (YARP's threshold default, 2).</summary>
    public int Fall { get; init; } = 2;

    /// <summary>Consecutive successful probes that make an unhealthy destination healthy again (1, as YARP).</summary>
    public int Rise { get; init; } = 1;
}

/// <summary>YARP's <c>HealthCheck:Passive</c> section, plus Baton's <see cref="Fall"/>.</summary>
public sealed record PassiveHealthCheckOptions
{
    /// <summary>Baton's passive policy: consecutive transactions the destination did not serve.</summary>
    public const string ConsecutiveFailures = "ConsecutiveFailures";

    /// <summary>YARP's default passive policy name; Baton accepts it and counts consecutive failures instead (with a warning).</summary>
    public const string TransportFailureRate = "TransportFailureRate";

    /// <summary>Whether failed transactions deactivate a destination (YARP: off unless enabled).</summary>
    public bool Enabled { get; init; }

    /// <summary>The policy name as configured.</summary>
    public string Policy { get; init; } = ConsecutiveFailures;

    /// <summary>
    /// How long a deactivated destination is left out; null when not configured (then
    /// <see cref="DefaultReactivationPeriod"/>, and relay keeps <c>Baton:Relay:UnhealthyCooldown</c>).
    /// </summary>
    public TimeSpan? ReactivationPeriod { get; init; }

    /// <summary>Consecutive failed transactions (answered 5xx by the router) that deactivate a destination.</summary>
    public int Fall { get; init; } = 3;

    /// <summary>The reactivation period when none is configured.</summary>
    public static TimeSpan DefaultReactivationPeriod { get; } = TimeSpan.FromSeconds(30);
}

/// <summary>YARP's <c>AvailableDestinationsPolicy</c> names.</summary>
public static class AvailableDestinations
{
    /// <summary>Destinations that are healthy or not yet known to be unhealthy (YARP's default).</summary>
    public const string HealthyAndUnknown = "HealthyAndUnknown";

    /// <summary>As <see cref="HealthyAndUnknown"/>; when that leaves none, every destination (rather than 503).</summary>
    public const string HealthyOrPanic = "HealthyOrPanic";

    /// <summary>The canonical name for <paramref name="name"/> (any case), or null when it is not a policy.</summary>
    public static string? Canonical(string? name) =>
        name is null || name.Equals(HealthyAndUnknown, StringComparison.OrdinalIgnoreCase) ? HealthyAndUnknown
        : name.Equals(HealthyOrPanic, StringComparison.OrdinalIgnoreCase) ? HealthyOrPanic
        : null;
}
