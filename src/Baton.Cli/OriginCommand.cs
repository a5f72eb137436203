using System.CommandLine;
using System.Net;
using Baton.Origin;
using Microsoft.Extensions.Logging;

namespace Baton.Cli;

internal static class OriginCommand
{
    public static Command Create()
    {
        var name = new Option<string>("--name") { Description = "This origin's name, shown in the Baton-Host header", Required = true };
        var listen = new Option<string>("--listen") { Description = "address:port to serve HTTP on, e.g. 127.0.0.1:19001", Required = true };
        var cmd = new Command("origin", "Run an ordinary HTTP/1.1 server with the built-in application: a destination for relay clusters.") { name, listen };
        cmd.SetAction(parse => CliSupport.RunAsync(async () =>
        {
            if (!IPEndPoint.TryParse(parse.GetValue(listen)!, out var ep))
                throw new ArgumentException($"--listen: '{parse.GetValue(listen)}' is not address:port");
            var options = new OriginOptions { Name = parse.GetValue(name)!, Listen = ep };
            using var loggers = CliSupport.Loggers(LogLevel.Information);
            using var stop = CliSupport.StopSignal(out var signals);
            using (signals)
            {
                using var host = new OriginHost(options, loggers);
                await host.RunAsync(stop.Token);
            }
        }));
        return cmd;
    }
}
