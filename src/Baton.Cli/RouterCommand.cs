using Baton.Configuration;
using System.CommandLine;
using Baton.Operations;
using Baton.Router;
using Microsoft.Extensions.Logging;

namespace Baton.Cli;

internal static class RouterCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "Router configuration (JSON: Baton and ReverseProxy sections)", Required = true };
        var timings = new Option<string?>("--timings") { Description = "Write per-cycle hand-off timings (CSV) to this file at stop; local cycles when the router has no handoff clusters, else to FILE.local.csv" };
        var verbose = new Option<bool>("--verbose") { Description = "Log every connection event" };
        var trace = CliSupport.OwnershipTraceOption();
        var cmd = new Command("router", "Run the routing node: accept on the VIP, route each request, hand connections off.") { config, timings, verbose, trace };
        cmd.SetAction(parse => CliSupport.RunAsync(async () =>
        {
            CliSupport.InlineSocketCompletions(); // first: before any socket starts the runtime's event loop
            var options = RouterConfig.Load(parse.GetValue(config)!);
            if (parse.GetValue(timings) is { } t) options = options with { TimingsFile = t };
            using var loggers = CliSupport.Loggers(parse.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information);
            using var stop = CliSupport.StopSignal(out var signals);
            var host = new RouterHost(options, loggers);
            // SIGUSR2 (nginx's signal for a binary upgrade): stop as a restart does, leaving the
            // connections away at agents where they are for the next run to adopt.
            using var restart = System.Runtime.InteropServices.PosixSignalRegistration.Create(CliSupport.SIGUSR2, c =>
            {
                c.Cancel = true;
                host.LeaveConnectionsAwayOnStop();
                stop.Cancel();
            });
            using (signals)
            using (CliSupport.StartOwnershipTrace(parse.GetValue(trace)))
            {
                // The operator's listeners start once the router is up: a router that cannot start
                // (no privilege, no key) says only why, and one whose metrics or admin address is
                // taken stops again, cleanly.
                using var hostStop = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                var run = host.RunAsync(hostStop.Token);
                if (await Task.WhenAny(host.Listening, run) == run)
                {
                    await run;
                    return;
                }
                // Not cancelled by the stop signal: a stop that comes while they start (a test's SIGTERM
                // right after the router listened) ends the router below, with its steering removed;
                // cancelling them ended the process with an unhandled exception and left it behind.
                try
                {
                    await using var publisher = await MetricsPublisher.StartAsync(options.Metrics, "baton-router", options.Name, loggers, CancellationToken.None);
                    await using var admin = await AdminServer.StartAsync(options.Admin, host, loggers, CancellationToken.None);
                    await run;
                }
                catch (Exception) when (!run.IsCompleted)
                {
                    hostStop.Cancel();
                    await run;
                    throw;
                }
            }
        }));
        return cmd;
    }
}
