using System.CommandLine;
using System.Net;
using Baton.Configuration;
using Baton.Operations;
using Baton.Router;
using Spectre.Console;

namespace Baton.Cli;

/// <summary>
/// <c>baton ctl</c>: drives a running router's admin API (<c>Baton:Admin</c>): its destinations,
/// drain and undrain, a reload, one connection's path.
/// </summary>
internal static class CtlCommand
{
    public static Command Create()
    {
        var admin = new Option<string?>("--admin")
        {
            Description = "The router's admin listener, e.g. http://10.0.0.10:9901 (default: $BATON_ADMIN)",
            Recursive = true,
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("BATON_ADMIN"),
        };
        var tokenFile = new Option<string?>("--token-file")
        {
            Description = "File holding the admin token, as Baton:Admin:TokenFile (default: $BATON_ADMIN_TOKEN_FILE)",
            Recursive = true,
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("BATON_ADMIN_TOKEN_FILE"),
        };
        var json = new Option<bool>("--json") { Description = "Print the API's JSON instead of a table" };
        var name = new Argument<string>("destination") { Description = "The destination's name, as the configuration names it" };
        var wait = new Option<bool>("--wait") { Description = "Wait until no transaction is left at the destination" };
        var timeout = new Option<int>("--timeout") { Description = "Seconds --wait waits at most (default 120)", DefaultValueFactory = _ => 120 };
        var client = new Argument<string>("client") { Description = "The client's address:port, as the router sees it" };

        var destinations = new Command("destinations", "List every destination: health, availability, drain, transactions at it now.") { json };
        destinations.SetAction(parse => Run(parse, admin, tokenFile, async api =>
        {
            var all = await api.DestinationsAsync();
            if (parse.GetValue(json)) Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(all, AdminApi.Json));
            else Show(all);
        }));

        var drain = new Command("drain", "Take no new transaction to a destination; connections at it move on with their next request.") { name, wait, timeout };
        drain.SetAction(parse => Run(parse, admin, tokenFile, async api =>
        {
            var d = parse.GetValue(name)!;
            Show(await api.DrainAsync(d, true));
            if (!parse.GetValue(wait)) return;
            var deadline = DateTime.UtcNow.AddSeconds(parse.GetValue(timeout));
            DestinationStatus? busy;
            while ((busy = (await api.DestinationsAsync()).FirstOrDefault(s => s.Name == d && !s.Idle)) is not null)
            {
                if (DateTime.UtcNow > deadline)
                    throw new AdminCallException($"{d} still has {busy.Active} transactions and {busy.Connections} connections after {parse.GetValue(timeout)} s");
                await Task.Delay(250);
            }
            Console.WriteLine($"{d} is drained: no transaction or connection left at it");
        }));

        var undrain = new Command("undrain", "Let a drained destination take transactions again.") { name };
        undrain.SetAction(parse => Run(parse, admin, tokenFile, async api => Show(await api.DrainAsync(parse.GetValue(name)!, false))));

        var reload = new Command("reload", "Read the router's configuration file again now; a version that does not load changes nothing.");
        reload.SetAction(parse => Run(parse, admin, tokenFile, async api =>
        {
            var r = await api.ReloadAsync();
            if (!r.Applied) throw new AdminCallException($"reload refused, the routes in force stay: {r.Message}");
            Console.WriteLine($"reloaded: {r.Message}");
        }));

        var connection = new Command("connection", "Show where one client connection is now and its last moves.") { client };
        connection.SetAction(parse => Run(parse, admin, tokenFile, async api =>
        {
            var text = parse.GetValue(client)!;
            if (!IPEndPoint.TryParse(text, out var ep) || ep.Port == 0) throw new ArgumentException($"'{text}' is not address:port");
            var c = await api.ConnectionAsync(ep);
            Console.WriteLine($"{c.Client}: at {c.At}, {c.Requests} requests since {c.Opened:u}");
            var t = new Table().AddColumns("time (UTC)", "cluster", "destination", "how");
            foreach (var h in c.Hops) t.AddRow(h.At.ToString("HH:mm:ss.fff"), h.Cluster ?? "-", h.Destination ?? "(router)", h.How);
            AnsiConsole.Write(t);
        }));

        return new Command("ctl", "Drive a running router through its admin API (Baton:Admin): destinations, drain, reload, a connection's path.")
        {
            admin, tokenFile, destinations, drain, undrain, reload, connection,
        };
    }

    private static void Show(IEnumerable<DestinationStatus> rows)
    {
        var t = new Table().AddColumns("cluster", "destination", "transfer", "address", "health", "available", "draining", "active", "connections");
        foreach (var d in rows)
            t.AddRow(d.Cluster, d.Name, d.Transfer, Markup.Escape(d.Address), d.Health, d.Available ? "yes" : "[red]no[/]", d.Draining ? "[yellow]yes[/]" : "no",
                d.Active.ToString(), d.Connections.ToString());
        AnsiConsole.Write(t);
    }

    private static Task<int> Run(ParseResult parse, Option<string?> admin, Option<string?> tokenFile, Func<AdminClient, Task> call) =>
        CliSupport.RunAsync(async () =>
        {
            var url = parse.GetValue(admin) ?? throw new ArgumentException("--admin: give the router's admin listener (or set BATON_ADMIN), e.g. http://127.0.0.1:9901");
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                throw new ArgumentException($"--admin: '{url}' is not an http:// URL");
            var file = parse.GetValue(tokenFile) ?? throw new ArgumentException("--token-file: give the file holding the admin token (or set BATON_ADMIN_TOKEN_FILE)");
            // Spectre.Console draws 80 columns when it cannot see a terminal: tables wrapped every cell.
            if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200;
            using var api = new AdminClient(uri, AdminOptions.ReadToken(file));
            await call(api);
        });
}
