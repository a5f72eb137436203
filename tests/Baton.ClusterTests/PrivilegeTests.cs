using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>Starting without CAP_NET_ADMIN gives one clear line, never a stack trace.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PrivilegeTests(ClusterFixture fixture)
{
    // Root without CAP_NET_ADMIN: dropped from the bounding set, exec gives no permitted NET_ADMIN.
    private static readonly string[] WithoutNetAdmin = ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"];

    [Fact]
    public void Agent_without_CAP_NET_ADMIN_says_so_in_one_line()
    {
        var lab = fixture.Lab;
        using var p = BatonProcess.Start(lab.Net.Ns("be1"), "unprivileged-agent",
            ["agent", "--name", "be1", "--listen", $"{lab.Net.AddressOf("be1")}:7099", "--key-file", lab.KeyFile], wrapper: WithoutNetAdmin);
        AssertOneLinePrivilegeError(p);
    }

    [Fact]
    public void Router_without_CAP_NET_ADMIN_says_so_in_one_line()
    {
        var lab = fixture.Lab;
        using var p = BatonProcess.Start(lab.Net.Ns("client"), "unprivileged-router", ["router", "--config", lab.ConfigFile], wrapper: WithoutNetAdmin);
        AssertOneLinePrivilegeError(p);
    }

    private static void AssertOneLinePrivilegeError(BatonProcess p)
    {
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), "process did not exit");
        Assert.Equal(2, p.ExitCode);
        var lines = p.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("CAP_NET_ADMIN", lines[0]);
        Assert.DoesNotContain("   at ", p.Output);
    }
}
