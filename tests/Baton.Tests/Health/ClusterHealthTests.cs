using System.Net;
using Baton.Health;
using Baton.Http;
using Baton.Routing;
using Baton.Routing.LoadBalancing;
using Microsoft.Extensions.Time.Testing;
using Baton.Modes;

namespace Baton.Tests.Health;

/// <summary>Which destinations the balancer sees under HealthyAndUnknown and HealthyOrPanic; probe addresses.</summary>
public sealed class ClusterHealthTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly Dictionary<string, ITransferTarget> _targets = new();
    private readonly Dictionary<string, DestinationState> _load = new();

    private ClusterHealth Make(string policy, params string[] names)
    {
        foreach (var n in names)
        {
            _targets[n] = new FakeTarget(n);
            _load[n] = new DestinationState(n);
        }
        var cluster = new Cluster("c", TransferMode.Relay,
            names.Select(n => new Destination(n, Url: new Uri($"http://127.0.0.1:9/{n}/"))).ToList(),
            HealthCheck: new HealthCheckOptions
            {
                AvailableDestinationsPolicy = policy,
                Active = new ActiveHealthCheckOptions { Enabled = true, Fall = 1 },
                Passive = new PassiveHealthCheckOptions { Enabled = true, Fall = 1 },
            });
        return ClusterHealth.For(cluster, null, _time);
    }

    private List<string> Available(ClusterHealth h) => h.Available(_targets, _load).Select(d => d.Name).ToList();

    [Theory]
    [InlineData(AvailableDestinations.HealthyAndUnknown)]
    [InlineData(AvailableDestinations.HealthyOrPanic)]
    public void Healthy_and_unknown_destinations_are_available_unhealthy_ones_are_not(string policy)
    {
        var h = Make(policy, "a", "b", "c", "d");
        h["a"]!.RecordProbe(true);   // healthy
        h["b"]!.RecordProbe(false);  // unhealthy (Fall 1)
        ((FakeTarget)_targets["c"]).Healthy = false; // link down
        // d: unknown

        Assert.Equal(["a", "d"], Available(h));

        h["d"]!.RecordFailure(); // passively deactivated
        Assert.Equal(["a"], Available(h));
    }

    [Fact]
    public void HealthyAndUnknown_leaves_none_when_all_are_unhealthy()
    {
        var h = Make(AvailableDestinations.HealthyAndUnknown, "a", "b");
        h["a"]!.RecordProbe(false);
        ((FakeTarget)_targets["b"]).Healthy = false;

        Assert.Empty(Available(h));
    }

    [Fact]
    public void HealthyOrPanic_uses_every_destination_when_none_is_healthy()
    {
        var h = Make(AvailableDestinations.HealthyOrPanic, "a", "b");
        h["a"]!.RecordProbe(false);
        ((FakeTarget)_targets["b"]).Healthy = false;

        Assert.Equal(["a", "b"], Available(h));

        h["a"]!.RecordProbe(true); // one is back: no more panic
        Assert.Equal(["a"], Available(h));
    }

    [Fact]
    public void A_reload_keeps_states_whose_settings_did_not_change()
    {
        var health = new HealthCheckOptions { Active = new ActiveHealthCheckOptions { Enabled = true, Path = "/healthz" } };
        var cluster = new Cluster("c", TransferMode.Relay, [new Destination("a", Url: new Uri("http://127.0.0.1:9/"))], HealthCheck: health);
        var first = ClusterHealth.For(cluster, null, _time);
        first["a"]!.RecordProbe(true);

        var same = ClusterHealth.For(cluster with { }, first, _time);
        Assert.Same(first["a"], same["a"]);

        var changed = ClusterHealth.For(cluster with { HealthCheck = health with { Active = health.Active with { Path = "/ready" } } }, first, _time);
        Assert.NotSame(first["a"], changed["a"]);
        Assert.Equal(HealthState.Unknown, changed["a"]!.Active);
    }

    [Theory]
    [InlineData("relay", "http://10.0.0.1:8080/", null, "/healthz", "", "http://10.0.0.1:8080/healthz")]
    [InlineData("relay", "http://10.0.0.1:8080/base/", null, "/healthz", "?a=1", "http://10.0.0.1:8080/base/healthz?a=1")]
    [InlineData("relay", "http://10.0.0.1:8080/", "http://10.0.0.1:9000/", "/healthz", "ready", "http://10.0.0.1:9000/healthz?ready")]
    [InlineData("relay", "http://10.0.0.1:8080/x", null, "", "", "http://10.0.0.1:8080/x")]
    [InlineData("handoff", null, "http://10.0.0.11:8081/", "/healthz", "", "http://10.0.0.11:8081/healthz")]
    [InlineData("handoff", null, null, "/healthz", "", null)]
    [InlineData("local", null, null, "/healthz", "", null)]
    public void Probe_address_is_Health_or_a_relay_Address_plus_Path_and_Query(string mode, string? url, string? health, string path, string query, string? expected)
    {
        var transfer = Enum.Parse<TransferMode>(mode, ignoreCase: true);
        var d = new Destination("d",
            ControlEndpoint: transfer == TransferMode.Handoff ? IPEndPoint.Parse("10.0.0.11:7070") : null,
            Url: url is null ? null : new Uri(url),
            Health: health is null ? null : new Uri(health));
        var cluster = new Cluster("c", transfer, [d],
            HealthCheck: new HealthCheckOptions { Active = new ActiveHealthCheckOptions { Enabled = true, Path = path, Query = query } });

        Assert.Equal(expected, ClusterHealth.ProbeUri(cluster, d)?.ToString());
        Assert.Null(ClusterHealth.ProbeUri(cluster with { HealthCheck = null }, d)); // active checks off
    }

    private sealed class FakeTarget(string name) : ITransferTarget
    {
        public string Name => name;
        public bool Healthy { get; set; } = true;
        public bool IsHealthy => Healthy;
        public Task<TransactionOutcome> ServeAsync(ClientConnection connection, RequestHead head, CancellationToken ct) =>
            throw new NotSupportedException();
    }
}
