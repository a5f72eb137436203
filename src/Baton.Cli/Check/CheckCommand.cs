using System.CommandLine;
using System.Net;
using Baton.Configuration;
using Baton.Modes;
using Baton.Modes.Handoff.Protocol;
using Baton.Steering;

namespace Baton.Cli.Check;

/// <summary>
/// <c>baton check router|agent</c>: verifies this host's set-up for its role and names each problem
/// in one line with its fix. Exit 0 when nothing fails (warnings allowed), 1 when something does.
/// </summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "The router's configuration file", Required = true };
        var router = new Command("router", "Check this host as the router of --config: configuration, privilege, steering libraries, the VIP, the agents on the segment.") { config };
        router.SetAction(parse => CliSupport.RunAsync(async () => Report(await RouterAsync(parse.GetValue(config)!))));

        var listen = new Option<string>("--listen") { Description = "The agent's control address:port, as it will run", Required = true };
        var vip = new Option<string?>("--vip") { Description = "The VIP clients connect to (the router's Baton:Listen address), to check it is on lo" };
        var keyFile = new Option<string?>("--key-file") { Description = "The cluster key file, to check it is readable and valid" };
        var forward = new Option<string?>("--forward") { Description = "The origin the agent will forward to (http://host:port/), to check it answers" };
        var agent = new Command("agent", "Check this host as a back-end: privilege, the VIP on lo, ARP settings, the control address, key and origin.") { listen, vip, keyFile, forward };
        agent.SetAction(parse => CliSupport.RunAsync(async () =>
        {
            if (!IPEndPoint.TryParse(parse.GetValue(listen)!, out var control) || control.Port == 0)
                throw new ArgumentException($"--listen: '{parse.GetValue(listen)}' is not address:port");
            IPAddress? address = null;
            if (parse.GetValue(vip) is { } v && !IPAddress.TryParse(v, out address)) throw new ArgumentException($"--vip: '{v}' is not an address");
            Uri? origin = null;
            if (parse.GetValue(forward) is { } f && (!Uri.TryCreate(f, UriKind.Absolute, out origin) || origin.Scheme != "http"))
                throw new ArgumentException($"--forward: '{f}' is not an http:// URL");
            return Report(await AgentAsync(control, address, parse.GetValue(keyFile), origin));
        }));

        return new Command("check", "Verify this host's set-up for a router or an agent; each problem in one line, with its fix.") { router, agent };
    }

    private static int Report(List<Finding> findings)
    {
        foreach (var f in findings) Console.WriteLine(f);
        int failed = findings.Count(f => f.Verdict == Verdict.Fail), warned = findings.Count(f => f.Verdict == Verdict.Warn);
        static string Count(int n, string what) => $"{n} {what}{(n == 1 ? "" : "s")}";
        Console.WriteLine(failed == 0 ? $"ready{(warned > 0 ? $" ({Count(warned, "warning")})" : "")}" : $"{Count(failed, "problem")}{(warned > 0 ? $", {Count(warned, "warning")}" : "")}");
        return failed == 0 ? 0 : 1;
    }

    private static async Task<List<Finding>> RouterAsync(string file)
    {
        var findings = new List<Finding>();
        RouterOptions options;
        try
        {
            options = RouterConfig.Load(file);
            findings.Add(new(Verdict.Ok, $"configuration {file}: loads ({options.Routes.Routes.Count} routes, {options.Routes.Clusters.Count} clusters)"));
            foreach (var w in options.Warnings) findings.Add(new(Verdict.Warn, $"configuration: {w}"));
        }
        catch (ConfigException e)
        {
            findings.AddRange(e.Errors.Select(error => new Finding(Verdict.Fail, $"configuration: {error}")));
            return findings;
        }
        var agents = options.Routes.Clusters.Values
            .Where(c => c.Transfer.Needs.HasFlag(NodeNeeds.AgentLinks))
            .SelectMany(c => c.Destinations)
            .Where(d => d.ControlEndpoint is not null)
            .DistinctBy(d => d.Name)
            .ToList();
        var vip = options.Listen.Address;
        if (agents.Count == 0)
        {
            findings.Add(vip.Equals(IPAddress.Any) || HostCheck.InterfaceHolding(vip) is not null
                ? new(Verdict.Ok, $"listen address {vip}: an address of this host (no handoff cluster: no privilege or steering needed)")
                : new(Verdict.Fail, $"listen address {vip}: not an address of this host", $"ip addr add {vip}/32 dev <interface>"));
            return findings;
        }
        findings.Add(HostCheck.Privilege());
        if (options.Steering == SteeringKind.NfTables)
            findings.Add(HostCheck.SteeringLibraries().Last());
        else
            findings.AddRange(HostCheck.SteeringLibraries());
        findings.Add(HostCheck.Interface(options.Interface!, vip, "the VIP clients connect to"));
        findings.Add(HostCheck.RouterReversePath(options.HoldQueue && options.Steering != SteeringKind.NfTables));
        foreach (var d in agents)
        {
            findings.Add(HostCheck.SameSegment(d.ControlEndpoint!.Address, $"agent {d.Name}", options.Interface));
            findings.Add(await HostCheck.Listening(d.ControlEndpoint, $"agent {d.Name}",
                $"start it there: baton agent --name {d.Name} --listen {d.ControlEndpoint} --key-file <the cluster key>"));
        }
        return findings;
    }

    private static async Task<List<Finding>> AgentAsync(IPEndPoint control, IPAddress? vip, string? keyFile, Uri? origin)
    {
        var findings = new List<Finding> { HostCheck.Privilege() };
        var nic = HostCheck.InterfaceHolding(control.Address);
        if (nic is null)
            findings.Add(new(Verdict.Fail, $"control address {control.Address}: not an address of this host", "give --listen an address of the interface facing the router"));
        else
        {
            findings.Add(new(Verdict.Ok, $"control address {control.Address}: on {nic.Name}"));
            findings.Add(HostCheck.CanListen(control, "control port"));
        }
        findings.Add(vip is null
            ? new(Verdict.Warn, "the VIP on lo: not checked", "give --vip, the router's Baton:Listen address")
            : HostCheck.Interface("lo", vip, "the back-end accepts the VIP's packets it is handed"));
        if (nic is not null && nic.Name != "lo") findings.AddRange(HostCheck.DirectRoutingArp(nic.Name));
        if (keyFile is not null)
        {
            try
            {
                ClusterKey.FromFile(keyFile);
                findings.Add(new(Verdict.Ok, $"cluster key {keyFile}: readable and valid"));
            }
            catch (ArgumentException e)
            {
                findings.Add(new(Verdict.Fail, $"cluster key: {e.Message}", "copy the router's key file here"));
            }
        }
        if (origin is not null && IPAddress.TryParse(origin.Host, out var originAddress))
            findings.Add(await HostCheck.Listening(new IPEndPoint(originAddress, origin.Port), "origin", "start the application behind --forward"));
        return findings;
    }
}
