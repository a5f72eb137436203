using System.CommandLine;
using Baton.Operations;
using System.Net;
using Baton.Modes.Handoff.Protocol;
using Microsoft.Extensions.Logging;
using Baton.Modes.Handoff.Agent;

namespace Baton.Cli;

internal static class AgentCommand
{
    public static Command Create()
    {
        var name = new Option<string>("--name") { Description = "This back-end's name, as the router's configuration names it", Required = true };
        var listen = new Option<string>("--listen") { Description = "Control address:port for the router (this host's real address)", Required = true };
        var keyFile = new Option<string>("--key-file") { Description = "File holding the cluster key", Required = true };
        var iface = new Option<string?>("--interface") { Description = "Interface facing the router (default: the one holding --listen's address)" };
        var freezeDelay = new Option<int>("--freeze-delay-ms")
        {
            Description = "Diagnostics: wait this many ms before answering Ready and before dumping on Freeze, widening the router's frozen window (to test its hold queue); default 0",
        };
        var trace = CliSupport.OwnershipTraceOption();
        var forward = CliSupport.ForwardOption();
        var forwardProxyProtocol = CliSupport.ForwardProxyProtocolOption();
        var forwardTimeout = CliSupport.ForwardTimeoutOption();
        var metrics = new CliSupport.MetricsOptionGroup();
        var cmd = new Command("agent", "Run a back-end agent: take connections handed over by the router, serve them, give them back.") { name, listen, keyFile, iface, forward, forwardProxyProtocol, forwardTimeout, freezeDelay, trace };
        foreach (var o in metrics.All) cmd.Add(o);
        cmd.SetAction(parse => CliSupport.RunAsync(async () =>
        {
            if (!IPEndPoint.TryParse(parse.GetValue(listen)!, out var ep) || ep.Port == 0)
                throw new ArgumentException($"--listen: '{parse.GetValue(listen)}' is not address:port");
            if (parse.GetValue(freezeDelay) is var delay and (< 0 or > 60_000))
                throw new ArgumentException($"--freeze-delay-ms: {delay} is not between 0 and 60000");
            var published = metrics.Read(parse);
            // First, as the host would: without it nothing else should start or be announced.
            Baton.Modes.Handoff.Repair.TcpRepair.EnsurePrivilege();
            using var loggers = CliSupport.Loggers(LogLevel.Information);
            var application = CliSupport.Application(parse.GetValue(forward), parse.GetValue(name)!, loggers,
                parse.GetValue(forwardProxyProtocol), parse.GetValue(forwardTimeout));
            await using var _ = application as IAsyncDisposable;
            var options = new AgentOptions
            {
                Application = application,
                FreezeDelay = TimeSpan.FromMilliseconds(parse.GetValue(freezeDelay)),
                Name = parse.GetValue(name)!,
                ControlEndpoint = ep,
                Key = ClusterKey.FromFile(parse.GetValue(keyFile)!),
                Mac = CliSupport.MacFor(ep.Address, parse.GetValue(iface)),
            };
            using var stop = CliSupport.StopSignal(out var signals);
            await using var publisher = await MetricsPublisher.StartAsync(published, "baton-agent", options.Name, loggers, stop.Token);
            using (signals)
            using (CliSupport.StartOwnershipTrace(parse.GetValue(trace)))
                await new AgentHost(options, loggers).RunAsync(stop.Token);
        }));
        return cmd;
    }
}
