using System.Text;
using Baton.Lab;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.ClusterTests;

/// <summary>
/// The metrics an operator's Prometheus scrapes (<c>Baton:Metrics:Listen</c> on the router,
/// <c>--metrics-listen</c> on each agent), read while the cluster works and checked against the
/// requests the test sent; and OTLP export, read by a collector of the test's own.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class MetricsTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Router_and_agents_count_the_requests_a_client_sent()
    {
        var lab = fixture.Lab;
        const int PerBackend = 10;
        var router0 = await lab.ScrapeAsync("router");
        var be1Before = await lab.ScrapeAsync("be1");
        var be2Before = await lab.ScrapeAsync("be2");

        // One keep-alive connection, alternating be1 and be2: each request needs the connection
        // moved (a hand-off from the router, or a pass from the other agent).
        using (var s = await lab.ConnectClientAsync())
        {
            var http = new RawHttp(s);
            for (int i = 0; i < PerBackend; i++)
            {
                Assert.Equal("be1", (await http.RequestAsync($"/be1/m{i}")).Header("Baton-Host"));
                Assert.Equal("be2", (await http.RequestAsync($"/be2/m{i}")).Header("Baton-Host"));
            }
        }

        double Requests(PrometheusText t, string be) => t.Sum("baton_router_requests_total", ("cluster", be), ("destination", be), ("outcome", "handoff"));
        // The first request of a run of hand-offs and passes counts when the connection is back at
        // the router, after the client has its response: wait for the counts to settle.
        PrometheusText router = router0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            router = await lab.ScrapeAsync("router");
            if (Requests(router, "be1") - Requests(router0, "be1") >= PerBackend && Requests(router, "be2") - Requests(router0, "be2") >= PerBackend
                && router.Sum("baton_destination_active", ("cluster", "be2"), ("destination", "be2")) == 0)
                break;
            await Task.Delay(100);
        }
        Assert.Equal(PerBackend, Requests(router, "be1") - Requests(router0, "be1"));
        Assert.Equal(PerBackend, Requests(router, "be2") - Requests(router0, "be2"));
        // Every request but the first was a move between agents: 2N hand-offs and passes timed.
        Assert.Equal(2 * PerBackend, router.Sum("baton_handoff_duration_microseconds_count") - router0.Sum("baton_handoff_duration_microseconds_count"));
        Assert.True(router.Sum("baton_router_transaction_duration_seconds_count", ("cluster", "be1"), ("destination", "be1"))
            > router0.Sum("baton_router_transaction_duration_seconds_count", ("cluster", "be1"), ("destination", "be1")), router.Text);
        Assert.Equal(1, router.Sum("baton_destination_available", ("cluster", "be1"), ("destination", "be1")));
        Assert.Equal(0, router.Sum("baton_destination_active", ("cluster", "all")));
        Assert.True(router.Has("dotnet_gc_collections_total") || router.Has("dotnet_process_cpu_time_seconds_total"), "the runtime's own meter is published too");

        foreach (var (be, before) in new[] { ("be1", be1Before), ("be2", be2Before) })
        {
            var after = await lab.ScrapeAsync(be);
            Assert.Equal(PerBackend, after.Sum("baton_application_transactions_total") - before.Sum("baton_application_transactions_total"));
            Assert.Equal(PerBackend, after.Sum("baton_agent_handoffs_total", ("result", "taken")) - before.Sum("baton_agent_handoffs_total", ("result", "taken")));
            Assert.Equal(0, after.Sum("baton_agent_connections_held"));
            Assert.Contains($"service_instance_id=\"{be}\"", after.Text);
        }
    }

    [Fact]
    public async Task Otlp_export_reaches_a_collector_and_a_taken_port_is_a_clear_error()
    {
        // A collector of the test's own: OTLP over HTTP posts protobuf to /v1/metrics.
        var bodies = new List<byte[]>();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        int collectorPort = Loopback.FreePort();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.ListenLocalhost(collectorPort));
        builder.Services.AddRoutingCore();
        await using var collector = builder.Build();
        collector.UseRouting();
        collector.MapPost("/v1/metrics", async (HttpRequest r) =>
        {
            using var m = new MemoryStream();
            await r.Body.CopyToAsync(m);
            lock (bodies) bodies.Add(m.ToArray());
            return Results.Ok();
        });
        await collector.StartAsync();

        int originPort = Loopback.FreePort(), routerPort = Loopback.FreePort(), metricsPort = Loopback.FreePort();
        var dir = Directory.CreateTempSubdirectory("baton-otlp-");
        try
        {
            var config = Path.Combine(dir.FullName, "router.json");
            await File.WriteAllTextAsync(config, $$"""
                { "Baton": { "Listen": "127.0.0.1:{{routerPort}}", "Name": "edge-otlp",
                             "Metrics": { "Listen": "127.0.0.1:{{metricsPort}}",
                                          "Otlp": { "Endpoint": "http://localhost:{{collectorPort}}", "Protocol": "http/protobuf", "Interval": "00:00:01" } } },
                  "ReverseProxy": { "Routes": { "all": { "ClusterId": "o", "Match": { "Path": "/{**rest}" } } },
                    "Clusters": { "o": { "Transfer": "relay", "Destinations": { "o1": { "Address": "http://127.0.0.1:{{originPort}}/" } } } } } }
                """);
            using var origin = BatonProcess.Start(null, "origin", ["origin", "--name", "o1", "--listen", $"127.0.0.1:{originPort}"]);
            using var router = BatonProcess.Start(null, "router", ["router", "--config", config]);
            Assert.True(await origin.WaitForOutputAsync("listening", TimeSpan.FromSeconds(30)), origin.Output);
            // The operator's listeners start once the router listens.
            Assert.True(await router.WaitForOutputAsync("metrics exported by OTLP (HttpProtobuf)", TimeSpan.FromSeconds(30)), router.Output);
            using (var http = new HttpClient())
                for (int i = 0; i < 3; i++)
                    Assert.Equal(16, (await http.GetByteArrayAsync($"http://127.0.0.1:{routerPort}/bytes/16")).Length);

            // Protobuf keeps strings as UTF-8: the metric's and the service's names are in the body.
            static bool Carries(byte[] body, string text) => body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;
            bool Exported() { lock (bodies) return bodies.Any(b => Carries(b, "baton.router.requests") && Carries(b, "edge-otlp")); }
            Assert.True(await Eventually.WaitUntilAsync(Exported, TimeSpan.FromSeconds(15)), $"{bodies.Count} exports, none with baton.router.requests\n{router.Output}");

            // A second router on the same metrics port says so in one line and exits.
            var second = Path.Combine(dir.FullName, "second.json");
            await File.WriteAllTextAsync(second, File.ReadAllText(config).Replace($"127.0.0.1:{routerPort}", $"127.0.0.1:{Loopback.FreePort()}"));
            using var refused = BatonProcess.Start(null, "router2", ["router", "--config", second]);
            Assert.True(refused.WaitForExit(TimeSpan.FromSeconds(30)), refused.Output);
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains($"Baton:Metrics:Listen: cannot listen on 127.0.0.1:{metricsPort}", refused.Output);
            Assert.DoesNotContain("   at ", refused.Output);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
