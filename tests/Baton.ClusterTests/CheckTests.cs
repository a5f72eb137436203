using System.Text.Json.Nodes;
using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>
/// <c>baton check</c> on the lab's hosts: the router and a back-end set up as the README says pass;
/// a host set up wrongly gets one line per problem with its fix, and exit code 1.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class CheckTests(ClusterFixture fixture)
{
    private static readonly string[] WithoutNetAdmin = ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"];

    [Fact]
    public void The_labs_router_and_back_end_pass()
    {
        var lab = fixture.Lab;
        var (code, router) = Check(lab.Net.Ns("router"), ["router", "--config", lab.ConfigFile]);
        Assert.True(code == 0, router);
        Assert.DoesNotContain("FAIL", router);
        Assert.Contains("ok    CAP_NET_ADMIN: held", router);
        Assert.Contains($"ok    {lab.Net.Vip} on eth0: present", router);
        foreach (var be in lab.Net.Backends)
            Assert.Contains($"ok    agent {be} {lab.Net.ControlEndpointOf(be)}: accepts connections", router);

        var (agentCode, agent) = Check(lab.Net.Ns("be1"), ["agent", "--listen", lab.Net.ControlEndpointOf("be1").ToString(), "--vip", lab.Net.Vip.ToString(), "--key-file", lab.KeyFile]);
        Assert.True(agentCode == 0, agent);
        Assert.Contains($"ok    {lab.Net.Vip} on lo: present", agent);
        Assert.Contains("ok    arp_ignore on eth0: 1", agent);
        Assert.Contains("warn  control port", agent); // be1's agent is running
        Assert.EndsWith("ready (1 warning)", agent.Trim());
    }

    [Fact]
    public void A_host_set_up_wrongly_gets_each_problem_in_one_line()
    {
        var lab = fixture.Lab;
        // The client host as a back-end: no VIP on lo, the kernel's default ARP settings.
        string client = lab.Net.AddressOf("client").ToString();
        var (code, text) = Check(lab.Net.Ns("client"), ["agent", "--listen", $"{client}:7070", "--vip", lab.Net.Vip.ToString()]);
        Assert.Equal(1, code);
        Assert.Contains($"FAIL  {lab.Net.Vip} on lo: missing (the back-end accepts the VIP's packets it is handed). Fix: ip addr add {lab.Net.Vip}/32 dev lo", text);
        Assert.Contains("FAIL  arp_ignore on eth0: 0", text);
        Assert.Contains("FAIL  arp_announce on eth0: 0", text);
        Assert.EndsWith("3 problems", text.Trim());

        // Without CAP_NET_ADMIN.
        (code, text) = Check(lab.Net.Ns("be1"), ["agent", "--listen", lab.Net.ControlEndpointOf("be1").ToString()], WithoutNetAdmin);
        Assert.Equal(1, code);
        Assert.Contains("FAIL  CAP_NET_ADMIN: missing (TCP_REPAIR refused). Fix: run baton as root", text);

        // A router whose destination is not on its segment, and one that is not running.
        var config = JsonNode.Parse(File.ReadAllText(lab.ConfigFile))!;
        config["ReverseProxy"]!["Clusters"]!["be1"]!["Destinations"]!["be1"]!["Address"] = "10.200.0.5:7070";
        config["ReverseProxy"]!["Clusters"]!["all"]!["Destinations"]!["be1"]!["Address"] = "10.200.0.5:7070";
        config["ReverseProxy"]!["Clusters"]!["be2"]!["Destinations"]!["be2"]!["Address"] = $"{lab.Net.AddressOf("be2")}:7099";
        config["ReverseProxy"]!["Clusters"]!["all"]!["Destinations"]!["be2"]!["Address"] = $"{lab.Net.AddressOf("be2")}:7099";
        var file = Path.Combine(lab.Directory, "check-router.json");
        File.WriteAllText(file, config.ToJsonString());
        (code, text) = Check(lab.Net.Ns("router"), ["router", "--config", file]);
        Assert.Equal(1, code);
        Assert.Contains("FAIL  agent be1 10.200.0.5: no route", text);
        Assert.Contains($"FAIL  agent be2 {lab.Net.AddressOf("be2")}:7099: Connection refused. Fix: start it there: baton agent --name be2", text);
        Assert.Contains($"ok    agent be3 {lab.Net.ControlEndpointOf("be3")}: accepts connections", text);
        Assert.DoesNotContain("   at ", text);
    }

    private static (int Code, string Output) Check(string ns, string[] args, string[]? wrapper = null)
    {
        using var p = BatonProcess.Start(ns, "check", ["check", .. args], wrapper: wrapper);
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), p.Output);
        return (p.ExitCode, p.Output);
    }
}
