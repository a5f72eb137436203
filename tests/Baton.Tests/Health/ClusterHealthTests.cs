using System.Net;
using Baton.Health;
using Baton.Http;
using Baton.Routing;
using Baton.Routing.LoadBalancing;
using Microsoft.Extensions.Time.Testing;
using Baton.Modes;
using Baton.Router;
using Baton.Modes.Handoff;
using Baton.Modes.Relay;

namespace Baton.Tests.Health;

/// <summary>Which destinations the balancer sees under HealthyAndUnknown and HealthyOrPanic; probe addresses.</summary>
public sealed class ClusterHealthTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly Dictionary<string, ITransferTarget> _targets = new();

    private ClusterHealth Make(string policy, params string[] names)
    {
        foreach (var n in names)
        {
            _targets[n] = new FakeTarget(n);
        }
        var cluster = new Cluster("c", RelayKind.Instance,
            names.Select(n => new Destination(n, Url: new Uri($"http://127.0.0.1:9/{n}/"))).ToList(),
            HealthCheck: new HealthCheckOptions
            {
                AvailableDestinationsPolicy = policy,
                Active = new ActiveHealthCheckOptions { Enabled = true, Fall = 1 },
                Passive = new PassiveHealthCheckOptions { Enabled = true, Fall = 1 },
            });
        return ClusterHealth.For(cluster, null, _time);
    }

    // What the router's pick chooses from: the cluster's state, over one runtime record per destination.
    private List<string> Available(ClusterHealth h) => StateOf(h).Available().Select(d => d.Name).ToList();

    private readonly Dictionary<ClusterHealth, ClusterState> _states = new();

    // One state per health, kept across calls as the router keeps it for a configuration: its cached list must follow every change.
    private ClusterState StateOf(ClusterHealth h)
    {
        if (!_states.TryGetValue(h, out var state))
        {
            var cluster = new Cluster(h.ClusterId, RelayKind.Instance, h.Destinations.Select(d => new Destination(d.Name)).ToList());
            state = _states[h] = new ClusterState(cluster, LoadBalancingPolicies.Create(null, LoadBalancingOptions.Default), h,
                h.Destinations.Select(d => _runtime.TryGetValue(d.Name, out var r) ? r : _runtime[d.Name] = new DestinationRuntime(d.Name, RelayKind.Instance, "", _targets[d.Name])).ToList());
        }
        return state;
    }

    private readonly Dictionary<string, DestinationRuntime> _runtime = new();

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

    [Theory]
    [InlineData(AvailableDestinations.HealthyAndUnknown)]
    [InlineData(AvailableDestinations.HealthyOrPanic)]
    public void A_draining_destination_is_not_available_until_undrained(string policy)
    {
        var h = Make(policy, "a", "b", "c");
        Assert.Equal(["a", "b", "c"], Available(h));
        _runtime["b"].Draining = true;
        Assert.Equal(["a", "c"], Available(h));
        _runtime["b"].Draining = false;
        Assert.Equal(["a", "b", "c"], Available(h));
    }

    [Fact]
    public void Panic_offers_every_destination_but_the_draining_ones()
    {
        var h = Make(AvailableDestinations.HealthyOrPanic, "a", "b", "c");
        Available(h);
        foreach (var t in _targets.Values) ((FakeTarget)t).Healthy = false;
        Assert.Equal(["a", "b", "c"], Available(h)); // panic: all of them
        _runtime["a"].Draining = true;
        Assert.Equal(["b", "c"], Available(h));
        _runtime["b"].Draining = _runtime["c"].Draining = true;
        Assert.Empty(Available(h));
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
    public void The_available_list_is_made_again_only_when_a_destinations_health_changed()
    {
        var h = Make(AvailableDestinations.HealthyOrPanic, "a", "b", "c");
        var state = StateOf(h);
        var steady = state.Available();
        Assert.Same(steady, state.Available()); // a pick in a steady cluster allocates nothing

        ((FakeTarget)_targets["b"]).Healthy = false; // link down: read at the next pick, not announced
        Assert.Equal(["a", "c"], state.Available().Select(d => d.Name));
        var withoutB = state.Available();
        Assert.Same(withoutB, state.Available());

        h["a"]!.RecordProbe(false);
        h["c"]!.RecordFailure(); // none left: panic, every destination
        Assert.Equal(["a", "b", "c"], state.Available().Select(d => d.Name));
        Assert.Same(state.Available(), state.Available());

        _time.Advance(PassiveHealthCheckOptions.DefaultReactivationPeriod + TimeSpan.FromSeconds(1)); // c's deactivation ends with time alone
        Assert.Equal(["c"], state.Available().Select(d => d.Name));
    }

    [Fact]
    public void A_reload_keeps_states_whose_settings_did_not_change()
    {
        var health = new HealthCheckOptions { Active = new ActiveHealthCheckOptions { Enabled = true, Path = "/healthz" } };
        var cluster = new Cluster("c", RelayKind.Instance, [new Destination("a", Url: new Uri("http://127.0.0.1:9/"))], HealthCheck: health);
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
        var transfer = ModeCatalog.Named(mode)!;
        var d = new Destination("d",
            ControlEndpoint: transfer == HandoffKind.Instance ? IPEndPoint.Parse("10.0.0.11:7070") : null,
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
