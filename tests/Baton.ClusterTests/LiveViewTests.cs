using System.Net.Sockets;
using System.Text.RegularExpressions;
using Baton.Lab;
using PuppeteerSharp;
using Xunit.Abstractions;

namespace Baton.ClusterTests;

/// <summary>
/// The live view as an operator sees it: <c>baton demo --hold</c> prints the page's address, a
/// real headless Chromium opens it, the page draws the router's hosts, and its hand-off count
/// moves while a client sends requests. The screenshot is kept in artifacts/live-view.png.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed partial class LiveViewTests(ITestOutputHelper output)
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task The_demos_live_view_draws_the_hosts_and_counts_hand_offs_while_a_client_runs()
    {
        Assert.True(File.Exists(Chromium), "chromium is missing (baton.sh test installs it)");
        using var demo = BatonProcess.Start(null, "demo", ["demo", "--hold"]);
        try
        {
            Assert.True(await demo.WaitForOutputAsync("live view: ", TimeSpan.FromMinutes(2)), demo.Output);
            var url = LiveViewUrl().Match(demo.Output).Groups[1].Value;
            Assert.StartsWith("http://127.0.0.1:", url);

            await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            });
            await using var page = await browser.NewPageAsync();
            await page.SetViewportAsync(new ViewPortOptions { Width = 1280, Height = 900 });
            await page.GoToAsync(url);
            // The hosts are drawn from the router's own list.
            await page.WaitForFunctionAsync("() => document.querySelectorAll('#hosts .host').length === 3", new WaitForFunctionOptions { Timeout = 15_000 });
            var names = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#hosts .host')].map(h => h.dataset.name)");
            Assert.Equal(["be1", "be2", "be3"], names.Order());
            Assert.Equal("live", await page.EvaluateExpressionAsync<string>("document.getElementById('status').textContent"));
            long before = await Count(page, "stat-handoffs");

            // A client on the demo's client host, keep-alive, each request to another back-end.
            using var stopClient = new CancellationTokenSource();
            var client = Task.Run(() => SendAsync(stopClient.Token));
            long after = before;
            for (var deadline = DateTime.UtcNow.AddSeconds(20); DateTime.UtcNow < deadline && after < before + 20;)
            {
                await Task.Delay(500);
                after = await Count(page, "stat-handoffs");
            }
            await Task.Delay(1000); // a few more polls: the map's dots and the rates
            Directory.CreateDirectory(ArtifactsDirectory);
            var shot = Path.Combine(ArtifactsDirectory, "live-view.png");
            await page.ScreenshotAsync(shot);
            output.WriteLine($"hand-offs shown: {before} before the client, {after} while it ran; screenshot {shot}");
            stopClient.Cancel();
            int sent = await client;
            Assert.True(sent > 0, "the client sent nothing");
            Assert.True(after >= before + 20, $"the page's hand-off count went from {before} to {after} while the client sent {sent} requests");
            Assert.True(await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#destinations tbody tr').length") == 3);
        }
        finally
        {
            demo.Stop(TimeSpan.FromSeconds(30));
        }
        Assert.DoesNotContain(Netns.List(), n => n.StartsWith("baton-", StringComparison.Ordinal));
    }

    private static async Task<long> Count(IPage page, string id) =>
        long.Parse(await page.EvaluateExpressionAsync<string>($"document.getElementById('{id}').textContent"));

    // Requests to be1, be2, be3 in turn on one keep-alive connection after another, until stopped.
    private static async Task<int> SendAsync(CancellationToken ct)
    {
        int sent = 0;
        while (!ct.IsCancellationRequested)
        {
            using var s = Netns.CreateTcpSocket("baton-client");
            await s.ConnectAsync(System.Net.IPAddress.Parse("10.77.0.100"), 80);
            var http = new RawHttp(s);
            for (int i = 0; i < 30 && !ct.IsCancellationRequested; i++, sent++)
                Assert.Equal(200, (await http.RequestAsync($"/be{1 + i % 2}/live{sent}")).Status);
        }
        return sent;
    }

    private static string ArtifactsDirectory => Path.Combine(Loopback.RepositoryRoot(), "artifacts");

    [GeneratedRegex(@"live view: (\S+)")]
    private static partial Regex LiveViewUrl();
}
