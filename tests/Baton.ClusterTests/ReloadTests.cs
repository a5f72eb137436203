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
            File.WriteAllText(lab.ConfigFile, edited.ToJsonString());
            Assert.True(await lab.Router.WaitForOutputAsync("reloaded", TimeSpan.FromSeconds(10)), lab.Router.Output);
            Assert.Equal("be2", await HostFor("/be1/after-reload"));

            File.WriteAllText(lab.ConfigFile, original.Replace("\"ClusterId\": \"be3\"", "\"ClusterId\": \"nowhere\""));
            Assert.True(await lab.Router.WaitForOutputAsync("rejected, previous routes stay in force", TimeSpan.FromSeconds(10)), lab.Router.Output);
            Assert.Contains("ReverseProxy:Routes:be3:ClusterId", lab.Router.Output);
            Assert.Equal("be2", await HostFor("/be1/after-bad-edit"));
            Assert.Equal("be3", await HostFor("/be3/still-be3"));
        }
        finally
        {
            File.WriteAllText(lab.ConfigFile, original);
            await Task.Delay(1000);
        }
        Assert.Equal("be1", await HostFor("/be1/restored"));
    }

    private async Task<string> HostFor(string path)
    {
        using var s = await fixture.Lab.ConnectClientAsync();
        return (await new RawHttp(s).RequestAsync(path)).Header("Baton-Host");
    }
}
