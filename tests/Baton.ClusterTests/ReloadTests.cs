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



    private async Task<string> HostFor(string path)
    {
        using var s = await fixture.Lab.ConnectClientAsync();
        return (await new RawHttp(s).RequestAsync(path)).Header("Baton-Host");
    }
}
