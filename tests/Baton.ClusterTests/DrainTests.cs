using System.Text.Json.Nodes;
using Baton.Lab;
using Xunit.Abstractions;

namespace Baton.ClusterTests;

/// <summary>
/// Drain through the admin API, as an operator does it: <c>baton ctl drain be2 --wait</c> on the
/// router host while clients keep sending. Requests keep being served elsewhere, the connections at
/// be2 finish their transaction and move on, and be2 takes nothing new until it is undrained.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DrainTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan CtlTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Draining_be2_under_load_fails_no_request_and_leaves_it_no_connection()
    {
        var lab = fixture.Lab;
        static double Served(PrometheusText t) => t.Sum("baton_application_transactions_total");
        var start = await lab.ScrapeAsync("be2");
        // The "all" cluster (be1..be3): 16 keep-alive connections, mixed sizes and uploads, for
        // longer than the drain and the checks after it take (about 6 s here).
        var load = MixedLoad.RunAsync(ct => lab.ConnectClientAsync(ct), new MixedLoadOptions
        {
            Connections = 16,
            Requests = 1_000_000,
            Duration = TimeSpan.FromSeconds(12),
            Prefixes = ["/all"],
            RouterShare = 0,
            MaxResponse = 256 << 10,
            MaxUpload = 64 << 10,
            Seed = 17,
        });
        MixedLoadResult result;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            Assert.True(Served(await lab.ScrapeAsync("be2")) > Served(start), "be2 took no work before the drain");

            var (code, text) = await lab.CtlAsync(CtlTimeout, "drain", "be2", "--wait", "--timeout", "30");
            output.WriteLine(text);
            Assert.True(code == 0, text);
            Assert.Contains("be2 is drained: no transaction or connection left at it", text);
            var drained = await lab.ScrapeAsync("be2");
            Assert.Equal(0, drained.Sum("baton_agent_connections_held"));

            // Still under load: be2 takes nothing new.
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            var later = await lab.ScrapeAsync("be2");
            Assert.Equal(Served(drained), Served(later));
            Assert.Equal(0, later.Sum("baton_agent_connections_held"));
            var (listed, json) = await lab.CtlAsync(CtlTimeout, "destinations", "--json");
            Assert.True(listed == 0, json);
            var be2 = JsonNode.Parse(json)!.AsArray().Single(d => (string)d!["cluster"]! == "all" && (string)d!["name"]! == "be2")!;
            Assert.True((bool)be2["draining"]!);
            Assert.False((bool)be2["available"]!);
            Assert.Equal(0, (int)be2["active"]!);
            Assert.Equal(0, (int)be2["connections"]!);
            var router = await lab.ScrapeAsync("router");
            Assert.Equal(0, router.Sum("baton_destination_available", ("cluster", "all"), ("destination", "be2")));
            Assert.False(load.IsCompleted, "the load ended before the checks did: they were not under load");
        }
        finally
        {
            result = await load;
            var (undrained, text) = await lab.CtlAsync(CtlTimeout, "undrain", "be2");
            Assert.True(undrained == 0, text);
        }
        output.WriteLine(result.Summary());
        Assert.Empty(result.Failures);
        Assert.True(result.Requests.Count > 100, result.Summary());

        // Undrained, be2 takes work again.
        var before = Served(await lab.ScrapeAsync("be2"));
        for (int i = 0; i < 30 && Served(await lab.ScrapeAsync("be2")) == before; i++)
        {
            using var s = await lab.ConnectClientAsync();
            await new RawHttp(s).RequestAsync($"/all/again{i}");
        }
        Assert.True(Served(await lab.ScrapeAsync("be2")) > before, "be2 took no work after undrain");
    }

    [Fact]
    public async Task Ctl_refuses_a_wrong_token_and_an_unknown_destination_in_one_line()
    {
        var lab = fixture.Lab;
        var (code, text) = await lab.CtlAsync(CtlTimeout, "drain", "be9");
        Assert.Equal(2, code);
        Assert.Equal("baton: POST /api/destinations/be9/drain: 404 Not Found: no destination 'be9'", text.Trim());

        var wrong = Path.Combine(lab.Directory, "wrong.token");
        File.WriteAllText(wrong, new string('0', 64));
        using (var ctl = BatonProcess.Start(lab.Net.Ns("router"), "ctl", ["ctl", "destinations", "--admin", BatonLab.AdminUrl.ToString(), "--token-file", wrong]))
        {
            Assert.True(ctl.WaitForExit(CtlTimeout), ctl.Output);
            Assert.Equal(2, ctl.ExitCode);
            Assert.StartsWith("baton: GET /api/destinations: 401 Unauthorized: missing or wrong token", ctl.Output.Trim());
        }

        (code, text) = await lab.CtlAsync(CtlTimeout, "reload");
        Assert.True(code == 0, text);
        Assert.StartsWith("reloaded: ", text.Trim());
    }
}
