using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>The README's first command, as a new user runs it: `baton demo`.</summary>
[Collection(ClusterCollection.Name)]
public sealed class DemoTests
{
    [Fact]
    public void Demo_shows_connections_served_by_several_hosts_and_cleans_up()
    {
        using var demo = BatonProcess.Start(null, "demo", ["demo", "--requests", "8", "--connections", "2"]);
        Assert.True(demo.WaitForExit(TimeSpan.FromMinutes(3)), "demo did not finish:\n" + demo.Output);
        Assert.True(demo.ExitCode == 0, $"demo exited {demo.ExitCode}:\n{demo.Output}");
        var output = demo.Output;
        Assert.Contains("connection 1: 8 requests on one TCP connection", output);
        Assert.Contains("connection 2: 8 requests on one TCP connection", output);
        Assert.Contains("served by be1, be2, be3, router", output);
        Assert.Contains("client saw 0 connection resets", output);
        Assert.Contains("; 0 bad responses", output);
        Assert.DoesNotContain(Netns.List(), n => n.StartsWith("baton-", StringComparison.Ordinal));
    }
}
