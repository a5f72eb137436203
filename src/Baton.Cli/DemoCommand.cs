using System.CommandLine;
using System.Diagnostics;
using Baton.Agent;
using Baton.Lab;

namespace Baton.Cli;

/// <summary>
/// `baton demo`: a whole cluster on this machine (namespace hosts on a bridge), real router and agent
/// processes, and an ordinary HTTP client whose keep-alive connections are served by several hosts.
/// </summary>
internal static class DemoCommand
{
    private static readonly string[] Paths =
        ["/be1/hello", "/be2/hello", "/router/hello", "/be3/bytes/65536", "/any/page", "/be2/bytes/1048576", "/be1/bytes/300", "/shop/cart"];

    public static Command Create()
    {
        var hold = new Option<bool>("--hold") { Description = "Keep the cluster up after building it, until Ctrl-C or SIGTERM" };
        var requests = new Option<int>("--requests") { Description = "Requests per connection", DefaultValueFactory = _ => 8 };
        var connections = new Option<int>("--connections") { Description = "Keep-alive client connections", DefaultValueFactory = _ => 3 };
        var verbose = new Option<bool>("--verbose") { Description = "Show router and agent logs" };
        var cmd = new Command("demo", "Build a namespace cluster on this machine and show connections handed between hosts.") { hold, requests, connections, verbose };
        cmd.SetAction(async parse =>
        {
            if (!Netns.IsRoot)
            {
                Console.Error.WriteLine("baton demo needs root: it builds network namespaces and moves TCP connections with TCP_REPAIR (CAP_NET_ADMIN). Run it as root: ./baton.sh demo");
                return 2;
            }
            using var stop = CliSupport.StopSignal(out var signals);
            using (signals)
            {
                try
                {
                    return await RunAsync(parse.GetValue(hold), parse.GetValue(requests), parse.GetValue(connections), parse.GetValue(verbose), stop.Token);
                }
                catch (OperationCanceledException)
                {
                    Console.WriteLine("stopped; cluster torn down.");
                    return 130;
                }
                catch (InvalidOperationException e)
                {
                    Console.Error.WriteLine($"baton demo: {e.Message}");
                    return 1;
                }
            }
        });
        return cmd;
    }

    private static async Task<int> RunAsync(bool hold, int requests, int connections, bool verbose, CancellationToken ct)
    {
        Console.WriteLine("Baton demo: building hosts baton-client, baton-router, baton-be1..3 (network namespaces on a bridge, 10.77.0.0/24)");
        Action<string>? echo = verbose ? Console.WriteLine : null;
        await using var lab = await BatonLab.StartAsync("baton", 0, TimeSpan.FromSeconds(60), echo);
        Console.WriteLine($"router on VIP {lab.Net.Service} (pid {lab.Router.Pid}); agents on be1..be3 (pids {string.Join(", ", lab.Agents.Values.Select(a => a.Pid))})");
        if (hold)
        {
            Console.WriteLine($"ready http://{lab.Net.Service}/");
            Console.WriteLine($"  try: ip netns exec {lab.Net.Ns("client")} curl -sv http://{lab.Net.Service}/be1/hello http://{lab.Net.Service}/be2/hello");
            try { await Task.Delay(Timeout.Infinite, ct); } catch (OperationCanceledException) { }
            Console.WriteLine("tearing down.");
            return 0;
        }

        long resetsBefore = Netns.SnmpCounter(lab.Net.Ns("client"), "Tcp", "EstabResets");
        long retransBefore = Netns.SnmpCounter(lab.Net.Ns("client"), "Tcp", "RetransSegs");
        Console.WriteLine();
        Console.WriteLine($"{"conn",-5}{"client port",-13}{"request",-28}{"served by",-11}{"hand-off",-12}{"status",-8}bytes");
        var handoffs = new List<double>();
        var servedBy = new Dictionary<int, HashSet<string>>();
        var ports = new Dictionary<int, List<int>>();
        int failures = 0;
        for (int c = 1; c <= connections; c++)
        {
            var localPorts = new List<int>();
            ports[c] = localPorts;
            servedBy[c] = new HashSet<string>();
            using var http = lab.CreateHttpClient(localPorts);
            for (int i = 0; i < requests; i++)
            {
                string path = Paths[(i + c - 1) % Paths.Length];
                using var resp = await http.GetAsync(path, ct);
                var body = await resp.Content.ReadAsByteArrayAsync(ct);
                string host = resp.Headers.TryGetValues("Baton-Host", out var h) ? h.First() : "?";
                string hand = "-";
                if (resp.Headers.TryGetValues("Baton-Handoff-Us", out var us) && double.TryParse(us.First(), out var v))
                {
                    handoffs.Add(v);
                    hand = $"{v:F0} µs";
                }
                bool ok = resp.IsSuccessStatusCode && BodyIsRight(path, body);
                if (!ok) failures++;
                servedBy[c].Add(host);
                Console.WriteLine($"{c,-5}{string.Join(",", localPorts),-13}{"GET " + path,-28}{host,-11}{hand,-12}{(int)resp.StatusCode + (ok ? "" : " BAD"),-8}{body.Length}");
            }
        }
        long resets = Netns.SnmpCounter(lab.Net.Ns("client"), "Tcp", "EstabResets") - resetsBefore;
        long retrans = Netns.SnmpCounter(lab.Net.Ns("client"), "Tcp", "RetransSegs") - retransBefore;

        Console.WriteLine();
        Console.WriteLine("Summary");
        foreach (var (c, hosts) in servedBy)
            Console.WriteLine($"  connection {c}: {requests} requests on {(ports[c].Count == 1 ? "one TCP connection" : $"{ports[c].Count} TCP connections")} (client port {string.Join(",", ports[c])}), served by {string.Join(", ", hosts.Order())}");
        if (handoffs.Count > 0)
        {
            handoffs.Sort();
            Console.WriteLine($"  hand-offs: {handoffs.Count}, router time median {Percentile(handoffs, 0.5):F0} µs, p99 {Percentile(handoffs, 0.99):F0} µs (block, dump, agent restore round trip, steer, close)");
        }
        Console.WriteLine($"  client saw {resets} connection resets and {retrans} retransmitted segments; {failures} bad responses");
        return failures == 0 && resets == 0 ? 0 : 1;
    }

    private static bool BodyIsRight(string path, byte[] body)
    {
        int i = path.LastIndexOf("/bytes/", StringComparison.Ordinal);
        if (i < 0) return body.Length > 0;
        long n = long.Parse(path.AsSpan(i + 7));
        if (body.Length != n) return false;
        for (int k = 0; k < body.Length; k++)
            if (body[k] != BuiltInApplication.PatternByte(k)) return false;
        return true;
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}
