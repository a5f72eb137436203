using System.CommandLine;
using System.Net.Sockets;
using Baton.Lab;
using Baton.Application;

namespace Baton.Cli;

/// <summary>
/// `baton demo`: a whole cluster on this machine, real router and back-end processes, and an
/// ordinary HTTP client whose keep-alive connections are served by several back-ends. In handoff
/// mode (root) the hosts are network namespaces and the connection itself moves between them; in
/// local mode worker processes on this host take turns holding the client's socket; in relay mode
/// the router proxies to origin servers.
/// </summary>
internal static class DemoCommand
{
    private static readonly string[] Paths =
        ["/be1/hello", "/be2/hello", "/router/hello", "/be3/bytes/65536", "/any/page", "/be2/bytes/1048576", "/be1/bytes/300", "/shop/cart"];

    private const string RouterName = "router";

    public static Command Create()
    {
        var mode = new Option<string?>("--mode") { Description = "handoff (namespace hosts, moves the TCP connection; root), local (worker processes on this host; no root) or relay (reverse proxy to origin servers; no root). Default: handoff as root, local otherwise" };
        mode.AcceptOnlyFromAmong("handoff", "local", "relay");
        var hold = new Option<bool>("--hold") { Description = "Keep the cluster up after building it, until Ctrl-C or SIGTERM" };
        var requests = new Option<int>("--requests") { Description = "Requests per connection", DefaultValueFactory = _ => 8 };
        var connections = new Option<int>("--connections") { Description = "Keep-alive client connections", DefaultValueFactory = _ => 3 };
        var verbose = new Option<bool>("--verbose") { Description = "Show router and back-end logs" };
        var cmd = new Command("demo", "Build a cluster on this machine and show keep-alive connections served by several back-ends.") { mode, hold, requests, connections, verbose };
        cmd.SetAction(async parse =>
        {
            bool root = Netns.IsRoot;
            var chosen = parse.GetValue(mode);
            if (chosen == "handoff" && !root)
            {
                Console.Error.WriteLine("baton demo --mode handoff needs root: it builds network namespaces and moves TCP connections with TCP_REPAIR (CAP_NET_ADMIN). Run it as root (./baton.sh demo), or use --mode local or --mode relay.");
                return 2;
            }
            var demo = (chosen ?? (root ? "handoff" : "local")) switch
            {
                "handoff" => Demo.Handoff,
                "relay" => Demo.Relay,
                _ => chosen is null ? Demo.LocalWithoutRoot : Demo.Local,
            };
            using var stop = CliSupport.StopSignal(out var signals);
            using (signals)
            {
                try
                {
                    return await RunAsync(demo, parse.GetValue(hold), parse.GetValue(requests), parse.GetValue(connections), parse.GetValue(verbose), stop.Token);
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

    /// <summary>What differs between the demo's modes: the words, and the lab that runs it.</summary>
    private sealed record Demo(string Title, string Backends, string TransferNote, Func<Action<string>?, Task<IBatonLab>> Start)
    {
        public static readonly Demo Handoff = new(
            "Baton demo: building hosts baton-client, baton-router, baton-be1..3 (network namespaces on a bridge, 10.77.0.0/24)",
            "agents on be1..be3 (be1 and be2 run Baton's built-in application; be3 forwards to nginx on its own host when nginx is installed)",
            "hand-offs: {0} (from the router, or straight from one back-end to the next), router time median {1:F0} µs, p99 {2:F0} µs (the first ones include the processes' warm-up)",
            async echo => await BatonLab.StartAsync("baton", 0, TimeSpan.FromSeconds(60), echo, metrics: true, admin: true).ConfigureAwait(false));

        public static readonly Demo Local = new(
            "Baton demo (local mode: the router passes each client socket to worker processes be1..be3 on this host and takes it back)",
            "workers be1..be3",
            "passes: {0}, time from the router's pass to the worker holding the socket median {1:F0} µs, p99 {2:F0} µs",
            async echo => await LoopbackLab.StartAsync(LoopbackMode.Local, echo: echo).ConfigureAwait(false));

        public static readonly Demo LocalWithoutRoot = Local with
        {
            Title = "Baton demo (local mode: worker processes on this host, no root needed; run as root for the cross-host hand-off demo)",
        };

        public static readonly Demo Relay = new(
            "Baton demo (relay mode: the router proxies each request to origin servers be1..be3 on this host; the client's connection stays at the router)",
            "origins be1..be3",
            "",
            async echo => await LoopbackLab.StartAsync(LoopbackMode.Relay, echo: echo).ConfigureAwait(false));

        public bool IsRelay => ReferenceEquals(this, Relay);
    }

    private static async Task<int> RunAsync(Demo demo, bool hold, int requests, int connections, bool verbose, CancellationToken ct)
    {
        Console.WriteLine(demo.Title);
        Action<string>? echo = verbose ? Console.WriteLine : null;
        await using var lab = await demo.Start(echo);
        // A real server behind the hand-off next to the built-in application: be3's agent forwards
        // each request to nginx on be3's loopback, and nginx's response goes from be3 to the client.
        using var nginx = lab is BatonLab cluster ? await StartNginxOnBe3Async(cluster) : null;
        Console.WriteLine($"router on {lab.Service} (pid {lab.Router.Pid}); {demo.Backends} (pids {string.Join(", ", lab.Backends.Values.Select(a => a.Pid))})");
        if (hold)
        {
            Console.WriteLine($"ready http://{lab.Service}/");
            string curl = $"curl -sv http://{lab.Service}/be1/hello http://{lab.Service}/be2/hello";
            Console.WriteLine(lab is BatonLab ns ? $"  try: ip netns exec {ns.Net.Ns("client")} {curl}" : $"  try: {curl}");
            // The router's admin listener is on its namespace's loopback: a port here leads to it,
            // for a browser on this machine. The token rides in the fragment, which no request carries.
            using var view = lab is BatonLab { HasAdmin: true } withAdmin
                ? NamespaceForward.Start(withAdmin.Net.Ns("router"), new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, BatonLab.AdminUrl.Port), BatonLab.AdminUrl.Port)
                : null;
            if (view is not null && lab is BatonLab admin)
            {
                Console.WriteLine($"live view: http://{view.Local}/#token={File.ReadAllText(admin.AdminTokenFile).Trim()}");
                Console.WriteLine($"  baton ctl: ip netns exec {admin.Net.Ns("router")} baton ctl destinations --admin {BatonLab.AdminUrl} --token-file {admin.AdminTokenFile}");
            }
            try { await Task.Delay(Timeout.Infinite, ct); } catch (OperationCanceledException) { }
            Console.WriteLine("tearing down.");
            return 0;
        }

        long? resetsBefore = lab.ClientTcpCounter("EstabResets");
        long? retransBefore = lab.ClientTcpCounter("RetransSegs");
        var run = await RunRequestsAsync(demo, lab, requests, connections, ct);
        // Where the client has a network stack of its own, its counters see every reset; on a
        // shared host stack they would count other connections too, so the client's errors count.
        long resets = lab.ClientTcpCounter("EstabResets") - resetsBefore ?? run.ResetErrors;
        long? retrans = lab.ClientTcpCounter("RetransSegs") - retransBefore;

        Console.WriteLine();
        Console.WriteLine(demo.IsRelay
            ? "response via: every response passed through the router, which proxied it from the origin (the baseline the hand-off avoids)."
            : "moved in: the router's time to move the live connection to that back-end (freeze it, copy its TCP state, have the back-end " +
              "restore it, redirect the client's packets there); already there: the connection was at that back-end and the request was " +
              "served there, nothing moved; n/a: a server behind --forward (nginx) does not report the time; -: the router answered itself.");
        Console.WriteLine();
        Console.WriteLine("Summary");
        foreach (var (c, hosts) in run.ServedBy)
            Console.WriteLine($"  connection {c}: {requests} requests on {(run.Ports[c].Count == 1 ? "one TCP connection" : $"{run.Ports[c].Count} TCP connections")} (client port {string.Join(",", run.Ports[c])}), served by {string.Join(", ", hosts.Order())}");
        if (run.TransferTimes.Count > 0 && demo.TransferNote.Length > 0)
        {
            run.TransferTimes.Sort();
            Console.WriteLine("  " + string.Format(System.Globalization.CultureInfo.InvariantCulture, demo.TransferNote,
                run.TransferTimes.Count, Percentile(run.TransferTimes, 0.5), Percentile(run.TransferTimes, 0.99)));
        }
        Console.WriteLine(retrans is { } r
            ? $"  client saw {resets} connection resets and {r} retransmitted segments; {run.Failures} bad responses"
            : $"  client saw {resets} connection resets; {run.Failures} bad responses");
        return run.Failures == 0 && resets == 0 ? 0 : 1;
    }

    private sealed record RequestRun(Dictionary<int, HashSet<string>> ServedBy, Dictionary<int, List<int>> Ports, List<double> TransferTimes, int Failures, int ResetErrors);

    /// <summary>The client's part, the same for every lab: sequential requests on keep-alive connections, one line each.</summary>
    private static async Task<RequestRun> RunRequestsAsync(Demo demo, IBatonLab lab, int requests, int connections, CancellationToken ct)
    {
        Console.WriteLine();
        Console.WriteLine($"{"conn",-5}{"client port",-13}{"request",-28}{"served by",-11}{"application",-14}{(demo.IsRelay ? "response via" : "moved in"),-15}{"status",-8}bytes");
        var times = new List<double>();
        var servedBy = new Dictionary<int, HashSet<string>>();
        var ports = new Dictionary<int, List<int>>();
        int failures = 0, resetErrors = 0;
        for (int c = 1; c <= connections; c++)
        {
            var localPorts = new List<int>();
            ports[c] = localPorts;
            servedBy[c] = new HashSet<string>();
            using var http = lab.CreateHttpClient(localPorts);
            for (int i = 0; i < requests; i++)
            {
                string path = Paths[(i + c - 1) % Paths.Length];
                string host, hand, status, application;
                int length;
                try
                {
                    using var resp = await http.GetAsync(path, ct);
                    var body = await resp.Content.ReadAsByteArrayAsync(ct);
                    host = resp.Headers.TryGetValues("Baton-Host", out var h) ? h.First() : "?";
                    // What answered: the server's own name (nginx/1.22.1), else Baton's built-in application.
                    application = host == RouterName ? "router" : resp.Headers.Server.FirstOrDefault()?.Product?.ToString() ?? "built-in";
                    hand = "-";
                    if (resp.Headers.TryGetValues("Baton-Handoff-Us", out var us) && double.TryParse(us.First(), out var v))
                    {
                        times.Add(v);
                        hand = $"{v:F0} µs";
                    }
                    else if (demo.IsRelay && host != RouterName) hand = "router";
                    // A back-end's answer without a hand-off time: the request was served where the
                    // connection already was (the same-target shortcut), nothing moved for it.
                    else if (host != RouterName && host != "?") hand = application == "built-in" ? "already there" : "n/a";
                    bool ok = resp.IsSuccessStatusCode && BodyIsRight(path, body);
                    if (!ok) failures++;
                    servedBy[c].Add(host);
                    status = (int)resp.StatusCode + (ok ? "" : " BAD");
                    length = body.Length;
                }
                catch (Exception e) when (e is HttpRequestException or IOException
                                              || e is TaskCanceledException && !ct.IsCancellationRequested)
                {
                    // The next request opens a new connection, which the port column then shows.
                    failures++;
                    bool reset = IsReset(e);
                    if (reset) resetErrors++;
                    (host, application, hand, status, length) = ("?", "?", "-", reset ? "RESET" : "ERROR", 0);
                    if (!reset) Console.Error.WriteLine($"  GET {path}: {e.Message}");
                }
                Console.WriteLine($"{c,-5}{string.Join(",", localPorts),-13}{"GET " + path,-28}{host,-11}{application,-14}{hand,-15}{status,-8}{length}");
            }
        }
        return new RequestRun(servedBy, ports, times, failures, resetErrors);
    }

    /// <summary>
    /// nginx on be3's loopback, serving the demo's be3 paths (pattern files under /be3/bytes/, a line
    /// of text for the rest), and be3's agent restarted with <c>--forward</c> to it. Null, and be3
    /// keeps the built-in application, when nginx is not installed.
    /// </summary>
    private static async Task<NginxServer?> StartNginxOnBe3Async(BatonLab lab)
    {
        if (!File.Exists("/usr/sbin/nginx"))
        {
            Console.WriteLine("  (nginx is not installed: be3 runs the built-in application too; apt-get install nginx-light to see a real server behind the hand-off)");
            return null;
        }
        var files = Paths.Where(p => p.StartsWith("/be3/bytes/", StringComparison.Ordinal))
            .ToDictionary(p => p[1..], p => BuiltInApplication.Pattern(long.Parse(p["/be3/bytes/".Length..], System.Globalization.CultureInfo.InvariantCulture)));
        var nginx = new NginxServer(lab.Net.Ns("be3"), 8080, files, """
                add_header Baton-Host be3 always;
                location / { try_files $uri @text; }
                location @text { default_type text/plain; return 200 "served by nginx on be3: $request_method $request_uri\n"; }
            """);
        try
        {
            await lab.RestartAgentAsync(lab.Router, "be3", "--forward", "http://127.0.0.1:8080/");
            Console.WriteLine($"be3: nginx (pid {nginx.Pid}) behind baton agent --forward http://127.0.0.1:8080/");
            return nginx;
        }
        catch
        {
            nginx.Dispose();
            throw;
        }
    }

    private static bool IsReset(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is SocketException { SocketErrorCode: SocketError.ConnectionReset }) return true;
        return false;
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
