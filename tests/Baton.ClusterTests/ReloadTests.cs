using System.Text.Json.Nodes;

namespace Baton.ClusterTests;

/// <summary>Editing the router's configuration file takes effect without a restart; a bad edit changes nothing.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ReloadTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Valid_edit_is_applied_live_and_invalid_edit_is_rejected_whole()
    {
        var lab = fixture.Lab;
        string original = File.ReadAllText(lab.ConfigFile);
        try
        {
            Assert.Equal("be1", await HostFor("/be1/before"));

            var edited = JsonNode.Parse(original)!;
            edited["ReverseProxy"]!["Routes"]!["be1"]!["ClusterId"] = "be2";
            int reloads = Eventually.Lines(lab.Router.Output, "reloaded");
            File.WriteAllText(lab.ConfigFile, edited.ToJsonString());
            // Other tests reload the same router: wait for one more "reloaded" line, not for any.
            Assert.True(await Eventually.WaitUntilAsync(() => Eventually.Lines(lab.Router.Output, "reloaded") > reloads, TimeSpan.FromSeconds(10)), lab.Router.Output);
            Assert.Equal("be2", await HostFor("/be1/after-reload"));

            int rejections = Eventually.Lines(lab.Router.Output, "rejected, previous routes stay in force");
            File.WriteAllText(lab.ConfigFile, original.Replace("\"ClusterId\": \"be3\"", "\"ClusterId\": \"nowhere\""));
            Assert.True(await Eventually.WaitUntilAsync(() => Eventually.Lines(lab.Router.Output, "rejected, previous routes stay in force") > rejections, TimeSpan.FromSeconds(10)), lab.Router.Output);
            Assert.Contains("ReverseProxy:Routes:be3:ClusterId", lab.Router.Output);
            Assert.Equal("be2", await HostFor("/be1/after-bad-edit"));
            Assert.Equal("be3", await HostFor("/be3/still-be3"));
        }
        finally
        {
            int reloads = Eventually.Lines(lab.Router.Output, "reloaded");
            File.WriteAllText(lab.ConfigFile, original);
            await Eventually.WaitUntilAsync(() => Eventually.Lines(lab.Router.Output, "reloaded") > reloads, TimeSpan.FromSeconds(10));
        }
        Assert.Equal("be1", await HostFor("/be1/restored"));
    }

    [Fact]
    public async Task A_destination_a_reload_removes_goes_after_its_last_connection_has_finished()
    {
        var lab = fixture.Lab;
        string original = File.ReadAllText(lab.ConfigFile);
        long resetsBefore = lab.ClientTcpCounter("EstabResets") ?? 0;
        using var slow = await SlowResponse.StartAsync(lab, "/be3", 24 << 20);
        try
        {
            // be3 leaves the configuration while a transaction is under way there.
            var edited = JsonNode.Parse(original)!;
            var proxy = edited["ReverseProxy"]!;
            proxy["Routes"]!.AsObject().Remove("be3");
            proxy["Clusters"]!.AsObject().Remove("be3");
            proxy["Clusters"]!["all"]!["Destinations"]!.AsObject().Remove("be3");
            int reloads = Eventually.Lines(lab.Router.Output, "reloaded");
            File.WriteAllText(lab.ConfigFile, edited.ToJsonString());
            Assert.True(await Eventually.WaitUntilAsync(() => Eventually.Lines(lab.Router.Output, "reloaded") > reloads, TimeSpan.FromSeconds(10)), lab.Router.Output);
            await Task.Delay(TimeSpan.FromSeconds(1.5)); // more than a retirement check
            Assert.False(slow.Reading.IsCompleted, "the response was read whole before the check: the test needs it under way");
            Assert.DoesNotContain("destination be3 removed", lab.Router.Output);

            // The transaction finishes whole; the connection's next request goes where the configuration now says.
            await slow.Reading;
            var next = await slow.Http.RequestAsync("/elsewhere/after-removal");
            Assert.Equal(200, next.Status);
            Assert.Contains(next.Header("Baton-Host"), new[] { "be1", "be2" });
            Assert.True(await Eventually.WaitUntilAsync(() => lab.Router.Output.Contains("destination be3 removed", StringComparison.Ordinal), TimeSpan.FromSeconds(5)), lab.Router.Output);
            Assert.Equal(0, (lab.ClientTcpCounter("EstabResets") ?? 0) - resetsBefore);
        }
        finally
        {
            int reloads = Eventually.Lines(lab.Router.Output, "reloaded");
            int connected = Eventually.Lines(lab.Router.Output, "agent be3 connected");
            File.WriteAllText(lab.ConfigFile, original);
            await Eventually.WaitUntilAsync(() => Eventually.Lines(lab.Router.Output, "reloaded") > reloads, TimeSpan.FromSeconds(10));
            // Named again: a new link to be3.
            await Eventually.WaitUntilAsync(() => Eventually.Lines(lab.Router.Output, "agent be3 connected") > connected, TimeSpan.FromSeconds(10));
        }
        Assert.Equal("be3", await HostFor("/be3/back-again"));
    }

    private async Task<string> HostFor(string path)
    {
        using var s = await fixture.Lab.ConnectClientAsync();
        return (await new RawHttp(s).RequestAsync(path)).Header("Baton-Host");
    }
}
