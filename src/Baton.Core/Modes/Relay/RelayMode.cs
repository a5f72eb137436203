using Baton.Routing;
using Microsoft.Extensions.Logging;

namespace Baton.Modes.Relay;

/// <summary>Relay: a classic proxy to each destination's HTTP origin. Nothing router-wide to start.</summary>
internal sealed class RelayMode(RelayOptions options, ILoggerFactory loggers) : ITransferMode
{
    public ITransferTarget CreateTarget(Cluster cluster, Destination destination) => CreateRelay(cluster, destination);

    internal RelayTarget CreateRelay(Cluster c, Destination d)
    {
        // YARP's ReactivationPeriod, when the cluster gives one, is also how long relay's own
        // connect-failure health keeps the origin out.
        var relay = c.HealthCheck?.Passive is { Enabled: true, ReactivationPeriod: { } period }
            ? options with { UnhealthyCooldown = period }
            : options;
        return new RelayTarget(d.Name, d.Url!, relay, loggers.CreateLogger("Baton.Relay"));
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
