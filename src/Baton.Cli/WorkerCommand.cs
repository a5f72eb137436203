using System.CommandLine;
using Microsoft.Extensions.Logging;
using Baton.Modes.Local.Worker;

namespace Baton.Cli;

internal static class WorkerCommand
{
    public static Command Create()
    {
        var name = new Option<string>("--name") { Description = "This worker's name: the destination name it registers under", Required = true };
        var socket = new Option<string>("--socket") { Description = "The router's Unix socket for workers, e.g. /run/baton/router.sock", Required = true };
        var forward = CliSupport.ForwardOption();
        var forwardProxyProtocol = CliSupport.ForwardProxyProtocolOption();
        var forwardTimeout = CliSupport.ForwardTimeoutOption();
        var cmd = new Command("worker", "Run a local worker: take connections the router on this host passes over its Unix socket, serve them, pass them back.") { name, socket, forward, forwardProxyProtocol, forwardTimeout };
        cmd.SetAction(parse => CliSupport.RunAsync(async () =>
        {
            using var loggers = CliSupport.Loggers(LogLevel.Information);
            var application = CliSupport.Application(parse.GetValue(forward), parse.GetValue(name)!, loggers,
                parse.GetValue(forwardProxyProtocol), parse.GetValue(forwardTimeout));
            await using var _ = application as IAsyncDisposable;
            var options = new WorkerOptions
            {
                Name = parse.GetValue(name)!,
                SocketPath = parse.GetValue(socket)!,
                Application = application,
            };
            using var stop = CliSupport.StopSignal(out var signals);
            using (signals)
            {
                await using var host = new WorkerHost(options, loggers);
                await host.RunAsync(stop.Token);
            }
        }));
        return cmd;
    }
}
