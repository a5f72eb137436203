using Microsoft.Extensions.Logging;

namespace Baton.Health;

/// <summary>Health events; they belong to the router, so they take router ids (120–129).</summary>
internal static partial class HealthLog
{
    [LoggerMessage(120, LogLevel.Warning, "cluster {Cluster}: destination {Destination} is now {State} (active probe {Uri}: {Detail})")]
    public static partial void ActiveChanged(ILogger log, string cluster, string destination, HealthState state, Uri uri, string detail);

    [LoggerMessage(121, LogLevel.Debug, "cluster {Cluster}: probe of {Destination} at {Uri} failed: {Detail}")]
    public static partial void ProbeFailed(ILogger log, string cluster, string destination, Uri uri, string detail);

    [LoggerMessage(122, LogLevel.Warning, "cluster {Cluster}: destination {Destination} deactivated for {Period} after {Failures} failed transactions in a row")]
    public static partial void Deactivated(ILogger log, string cluster, string destination, TimeSpan period, int failures);

}
