using System.Diagnostics.Metrics;
using Baton.Health;
using Baton.Metrics;

namespace Baton.Router;

/// <summary>
/// What the router's destinations look like right now, as observable gauges on the <c>Baton</c>
/// meter, read from the routing state in force at each collection (a reload's destinations show at
/// the next scrape). One meter per router, disposed with it: its instruments then go, rather than
/// report a stopped router's last state.
/// </summary>
internal sealed class RouterGauges : IDisposable
{
    private readonly Meter _meter = new(BatonMetrics.MeterName);

    /// <param name="routing">The state in force; null before the first configuration is applied.</param>
    public RouterGauges(Func<RoutingState?> routing)
    {
        _meter.CreateObservableGauge("baton.destination.available", () => Each(routing(), (_, _, available) => available ? 1 : 0),
            description: "1 when the balancer may choose the destination in the cluster (not draining; healthy, or not probed), else 0");
        _meter.CreateObservableGauge("baton.destination.health", () => Each(routing(), (_, state, _) => (int)state),
            description: "The destination's health in the cluster: 0 unknown, 1 healthy, 2 unhealthy");
        _meter.CreateObservableGauge("baton.destination.active", () => Each(routing(), (d, _, _) => d.Load.ActiveRequests),
            description: "Transactions at the destination now, from any cluster: the load the balancer sees");
        _meter.CreateObservableGauge("baton.destination.connections", () => Each(routing(), (d, _, _) => d.Target.ConnectionsAway),
            description: "Client connections the destination's agent owns or is being handed now (hand-off only)");
    }

    private static IEnumerable<Measurement<int>> Each(RoutingState? routing, Func<DestinationRuntime, HealthState, bool, int> value)
    {
        if (routing is null) yield break;
        foreach (var c in routing.Clusters)
            foreach (var (d, state, available) in c.States())
                yield return new Measurement<int>(value(d, state, available), new("cluster", c.Cluster.Id), new KeyValuePair<string, object?>("destination", d.Name));
    }

    public void Dispose() => _meter.Dispose();
}
