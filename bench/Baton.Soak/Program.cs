using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Baton.Compare;
using Baton.Lab;

// The concurrency soak (issue 13): many keep-alive connections, each sending a random mix (GETs of
// 0 B–4 MiB, uploads up to 1 MB echoed back, router-served requests), every byte verified, against
// handoff, relay and HAProxy on one namespace cluster and the same origins, first on a network that
// drops nothing, then with random loss (nftables numgen in the client's namespace, both ways).
// Run it through bench/soak.sh (root).

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

SoakOptions o;
try
{
    o = SoakOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"soak: {e.Message}");
    Console.Error.WriteLine(SoakOptions.Usage);
    return 64;
}
if (!Netns.IsRoot)
{
    Console.Error.WriteLine("soak needs root: it builds network namespaces (btsoak-*) and moves TCP connections with TCP_REPAIR; run bench/soak.sh as root");
    return 2;
}

using var stop = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Cancel(); });
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });

const string Prefix = "btsoak";
const int Subnet = 13;
var rows = new List<SoakRow>();
var failures = new List<string>();
Failover? failover = null;
NetnsCluster.RemoveStale(Prefix);
var dir = Directory.CreateTempSubdirectory("btbench-soak-").FullName;
int rc = 0;
var started = DateTime.UtcNow;
try
{
    using var net = NetnsCluster.Create(Prefix, Subnet);
    using var arena = new Arena(net, dir, yarpDll: "");
    Console.WriteLine($"wire: {arena.PrepareWire(o.Contenders)}");
    await arena.StartOriginsAsync();
    foreach (double loss in o.LossPercents)
    {
        SetLoss(arena, net, loss);
        foreach (var name in o.Contenders)
        {
            stop.Token.ThrowIfCancellationRequested();
            Running? c = null;
            try
            {
                Console.WriteLine($"== {name}, loss {loss}% ==");
                c = await arena.StartAsync(name);
                var mix = new MixedLoadOptions
                {
                    Connections = o.Connections,
                    MaxResponse = o.MaxResponse,
                    MaxUpload = o.MaxUpload,
                    Prefixes = ["/a", "/b", "/c"],
                    Seed = 13,
                };
                // Warm-up: JIT, pools, the origins' and HAProxy's connection caches.
                await MixedLoad.RunAsync(ct => Connect(net, ct), mix with { Requests = o.Warmup, Seed = 7 }, stop.Token);
                var row = await MeasureAsync(net, c, name, loss, mix with { Requests = o.Requests }, stop.Token);
                rows.Add(row);
                Console.WriteLine($"  {row.Result.Summary()}");
                Console.WriteLine($"  client retransmitted {row.ClientRetrans} ({row.ClientProbes} probes), PAWS drops {row.ClientPaws}; router {row.RouterRetrans}, PAWS {row.RouterPaws}; back-ends {row.BackendRetrans}, PAWS {row.BackendPaws}; router CPU {row.RouterCpuPerRequest:F1} µs/request [{(DateTime.UtcNow - started).TotalMinutes:F1} min]");
                foreach (var f in row.Result.Failures.Take(5)) Console.WriteLine($"  failed: {f}");
                // What the router said around a failure (its warnings name the connection's port).
                if (row.Result.Failures.Count > 0 && c.Output is { Length: > 0 } said) Console.WriteLine($"  {name}'s router, last lines:\n{said}");
                // The slowest requests: what kind of request the tail is made of.
                foreach (var q in row.Result.Requests.OrderByDescending(q => q.Milliseconds).Take(8))
                    Console.WriteLine($"  slow: {q.Milliseconds,8:F0} ms  {q.Method} {q.Path} ({q.Bytes} B) from {q.Host}, connection {q.Connection}");
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or System.Net.Sockets.SocketException or TimeoutException)
            {
                failures.Add($"{name} (loss {loss}%): {e.Message.Split('\n')[0]}");
                Console.Error.WriteLine($"{name} failed: {e.Message}");
                if (c?.Output is { Length: > 0 } output) Console.Error.WriteLine($"{name}'s router, last lines:\n{output}");
            }
            finally
            {
                c?.Stop();
            }
        }
    }
    if (o.KillAfter > 0 && o.Contenders.Contains("handoff"))
        failover = await FailoverAsync(arena, net, o, stop.Token);
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    Console.Error.WriteLine("soak interrupted; processes stopped, namespaces deleted");
    rc = 130;
}
finally
{
    NetnsCluster.RemoveStale(Prefix);
    try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
}
if (rows.Count > 0)
{
    var report = Report(o, rows, failover, failures, started);
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(o.Out))!);
    File.WriteAllText(o.Out, report);
    Console.WriteLine(report);
}
return rc;

static async Task<System.Net.Sockets.Socket> Connect(NetnsCluster net, CancellationToken ct)
{
    var s = Netns.CreateTcpSocket(net.Ns("client"));
    await s.ConnectAsync(net.Service, ct);
    return s;
}

static async Task<SoakRow> MeasureAsync(NetnsCluster net, Running c, string name, double loss, MixedLoadOptions mix, CancellationToken ct)
{
    var routerTree = c.RouterPid is int pid ? ProcStats.Tree(pid) : [];
    string clientNs = net.Ns("client");
    var backendNs = net.Backends.Select(net.Ns).ToArray();
    var client0 = Netns.TcpCounters(clientNs);
    var backends0 = backendNs.Select(Netns.TcpCounters).ToArray();
    double cpu0 = ProcStats.CpuMicros(routerTree);
    var router0 = Netns.TcpCounters(net.Ns("router"));
    var result = await MixedLoad.RunAsync(ct2 => Connect(net, ct2), mix, ct);
    double cpu1 = ProcStats.CpuMicros(routerTree);
    var client1 = Netns.TcpCounters(clientNs);
    var backends1 = backendNs.Select(Netns.TcpCounters).ToArray();
    var router1 = Netns.TcpCounters(net.Ns("router"));
    // Every counter that moved, per host, on the console: where a retransmission's cause shows.
    foreach (var (host, a, b) in new[] { ("client", client0, client1), ("router", router0, router1) }
        .Concat(net.Backends.Select((be, i) => (be, backends0[i], backends1[i]))))
    {
        var moved = b.Where(kv => kv.Value != a.GetValueOrDefault(kv.Key) && !Quiet.Contains(kv.Key))
            .Select(kv => $"{kv.Key} +{kv.Value - a.GetValueOrDefault(kv.Key)}");
        Console.WriteLine($"    {host}: {string.Join(", ", moved)}");
    }
    long Delta(Dictionary<string, long> a, Dictionary<string, long> b, string k) => b.GetValueOrDefault(k) - a.GetValueOrDefault(k);
    long Backends(string k) => Enumerable.Range(0, backendNs.Length).Sum(i => Delta(backends0[i], backends1[i], k));
    return new SoakRow(name, loss, result,
        Delta(client0, client1, "TcpRetransSegs"), Delta(client0, client1, "TcpExtTCPLossProbes"), Delta(client0, client1, "TcpExtPAWSEstab"),
        Delta(router0, router1, "TcpRetransSegs"), Delta(router0, router1, "TcpExtPAWSEstab"),
        Backends("TcpRetransSegs"), Backends("TcpExtPAWSEstab"),
        result.Requests.Count == 0 ? 0 : (cpu1 - cpu0) / (result.Requests.Count + result.Failures.Count));
}

// The handoff contender with be2's agent SIGKILLed part-way: how many connections were at be2 then
// (established sockets on the service port in its namespace), and what the client lost.
static async Task<Failover> FailoverAsync(Arena arena, NetnsCluster net, SoakOptions o, CancellationToken ct)
{
    Console.WriteLine($"== handoff, be2's agent killed after {o.KillAfter} s ==");
    SetLoss(arena, net, 0);
    var c = await arena.StartAsync("handoff");
    try
    {
        var mix = new MixedLoadOptions
        {
            Connections = o.Connections,
            Requests = o.Requests,
            MaxResponse = o.MaxResponse,
            MaxUpload = o.MaxUpload,
            Prefixes = ["/a", "/b", "/c"],
            Seed = 17,
            RequestTimeout = TimeSpan.FromSeconds(10),
        };
        await MixedLoad.RunAsync(ct2 => Connect(net, ct2), mix with { Requests = o.Warmup, Seed = 7 }, ct);
        int victim = c.BackendPids().ElementAt(net.Backends.ToList().IndexOf("be2"));
        var killer = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(o.KillAfter), ct);
            // Stopped first, so that the count is the connections it holds when it dies: counted
            // while it ran, connections kept arriving in the few ms before the kill (12 counted, 19
            // lost in one run).
            Netns.Exec("kill", "-STOP", victim.ToString(CultureInfo.InvariantCulture));
            int at = Netns.ExecIn(net.Ns("be2"), "ss", "-Htn", "state", "established", "( sport = :80 )")
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
            using var p = System.Diagnostics.Process.GetProcessById(victim); // the agent this bench started
            p.Kill();
            return at;
        }, ct);
        var result = await MixedLoad.RunAsync(ct2 => Connect(net, ct2), mix, ct);
        int atVictim = await killer;
        Console.WriteLine($"  {atVictim} connections at be2 when killed; {result.Summary()}");
        foreach (var f in result.Failures.Take(5)) Console.WriteLine($"  failed: {f}");
        return new Failover(result, atVictim);
    }
    finally
    {
        c.Stop();
    }
}

// Random loss at the client, both ways, on this cluster's service traffic only: nftables numgen
// (this kernel has no netem). 0 removes the table.
static void SetLoss(Arena arena, NetnsCluster net, double percent)
{
    string ns = arena.ClientNs;
    try { Netns.ExecIn(ns, "nft", "delete", "table", "inet", "soakloss"); } catch (InvalidOperationException) { }
    if (percent <= 0) return;
    int perMille = (int)Math.Round(percent * 10);
    string rules =
        $"table inet soakloss {{\n" +
        $"  chain in {{ type filter hook input priority 0; policy accept; ip saddr {net.Vip} numgen random mod 1000 < {perMille} drop; }}\n" +
        $"  chain out {{ type filter hook output priority 0; policy accept; ip daddr {net.Vip} numgen random mod 1000 < {perMille} drop; }}\n" +
        "}\n";
    var file = Path.Combine(Path.GetTempPath(), $"soakloss-{Environment.ProcessId}.nft");
    File.WriteAllText(file, rules);
    try { Netns.ExecIn(ns, "nft", "-f", file); }
    finally { File.Delete(file); }
}

static string Report(SoakOptions o, List<SoakRow> rows, Failover? failover, List<string> failures, DateTime started)
{
    var sb = new StringBuilder();
    sb.AppendLine("# Concurrency soak: handoff, relay and HAProxy, side by side");
    sb.AppendLine();
    sb.AppendLine($"`bench/soak.sh {string.Join(' ', o.Args)}` — {started:yyyy-MM-dd HH:mm} UTC, commit {o.Commit ?? "?"}, kernel {Environment.OSVersion.Version}, {Environment.ProcessorCount} cores (shared: client, router, back-ends and the bench on one host).");
    sb.AppendLine();
    sb.AppendLine($"{o.Connections} keep-alive connections, {o.Requests} requests per run after {o.Warmup} to warm up; each request at random: 10% to `/router/…` (Baton serves it on the router; HAProxy passes it to an origin), 20% POST uploads of 0–{o.MaxUpload} B echoed back, 70% GETs of 0–{o.MaxResponse} B (log-uniform sizes); every byte checked. The same origins (`baton origin` on be1..be3) serve relay and HAProxy; `baton agent` on the same hosts serves handoff. Loss: nftables `numgen random` drops at the client, both ways.");
    sb.AppendLine();
    sb.AppendLine("| loss | contender | ok | failed | req/s | p50 ms | p99 ms | p99.9 ms | max ms | ≥ 200 ms | ≥ 1 s | client retrans (probes) | client PAWS | router retrans | router PAWS | back-end retrans | back-end PAWS | router CPU µs/req |");
    sb.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    foreach (var r in rows)
    {
        var x = r.Result;
        double max = x.Requests.Count == 0 ? 0 : x.Requests.Max(q => q.Milliseconds);
        sb.AppendLine($"| {r.Loss}% | {r.Contender} | {x.Requests.Count} | {x.Failures.Count} | {x.Requests.Count / x.Elapsed.TotalSeconds:F0} | {x.Quantile(0.5):F2} | {x.Quantile(0.99):F1} | {x.Quantile(0.999):F1} | {max:F0} | {x.AtLeast(200)} | {x.AtLeast(1000)} | {r.ClientRetrans} ({r.ClientProbes}) | {r.ClientPaws} | {r.RouterRetrans} | {r.RouterPaws} | {r.BackendRetrans} | {r.BackendPaws} | {r.RouterCpuPerRequest:F1} |");
    }
    sb.AppendLine();
    sb.AppendLine("Retransmissions are `Tcp RetransSegs` (tail loss probes included; the client's probes, `TcpExt TCPLossProbes`, in brackets) in the client's namespace, the router's, and summed over the back-ends'; PAWS drops are `TcpExt PAWSEstab`. Where a response is resent depends on the mode: a hand-off's back-end sends to the client itself, so its resends count at the back-ends; relay's and HAProxy's count at the router, and their back-end counts are the origins' resends to the router. Router CPU is utime + stime of the router process (and its children) over the run, per request.");
    if (failover is { } fo)
    {
        sb.AppendLine();
        sb.AppendLine("## Failover: an agent killed mid-run");
        sb.AppendLine();
        sb.AppendLine($"handoff, no loss, {fo.Result.Requests.Count + fo.Result.Failures.Count} requests on {o.Connections} connections; be2's agent SIGKILLed {o.KillAfter} s in. A request whose hand-off the dead agent never took goes to another destination; only connections at be2 at that moment may be lost.");
        sb.AppendLine();
        sb.AppendLine("| connections at be2 when killed | requests failed (each ends its connection) | requests answered |");
        sb.AppendLine("|---:|---:|---:|");
        sb.AppendLine($"| {fo.AtVictim} | {fo.Result.Failures.Count} | {fo.Result.Requests.Count} |");
        foreach (var f in fo.Result.Failures.Take(8)) sb.AppendLine($"\n- {f}");
    }
    foreach (var f in failures) sb.AppendLine($"\n- did not run: {f}");
    foreach (var r in rows.Where(r => r.Result.Failures.Count > 0))
        sb.AppendLine($"\n- {r.Contender} at {r.Loss}%: {r.Result.Failures.Count} failed, first: {r.Result.Failures[0]}");
    return sb.ToString();
}

internal static partial class Program
{
    // Counters that move with any traffic and say nothing about loss or order.
    private static readonly HashSet<string> Quiet =
    [
        "TcpActiveOpens", "TcpPassiveOpens", "TcpCurrEstab", "TcpInSegs", "TcpOutSegs", "TcpExtTCPHPHits", "TcpExtTCPPureAcks",
        "TcpExtTCPHPAcks", "TcpExtTCPRcvCoalesce", "TcpExtTCPOrigDataSent", "TcpExtTCPDelivered", "TcpExtTCPAutoCorking",
        "TcpExtTCPBacklogCoalesce", "TcpExtDelayedACKs", "TcpExtTW", "TcpExtTCPKeepAlive", "TcpExtTCPHystartTrainDetect",
        "TcpExtTCPHystartTrainCwnd", "TcpExtTCPHystartDelayDetect", "TcpExtTCPHystartDelayCwnd", "TcpEstabResets", "TcpAttemptFails",
    ];
}

internal sealed record Failover(MixedLoadResult Result, int AtVictim);

internal sealed record SoakRow(string Contender, double Loss, MixedLoadResult Result, long ClientRetrans, long ClientProbes, long ClientPaws,
    long RouterRetrans, long RouterPaws, long BackendRetrans, long BackendPaws, double RouterCpuPerRequest);

internal sealed record SoakOptions(string[] Args, string[] Contenders, int Connections, int Requests, int Warmup, long MaxResponse, int MaxUpload,
    double[] LossPercents, int KillAfter, string Out, string? Commit)
{
    public const string Usage =
        "usage: Baton.Soak [--contenders handoff,relay,haproxy (also handoff-xdp, local, nginx, adaptive)] [--connections 64] [--requests 100000] [--warmup 2000]\n" +
        "                  [--max-response 4194304] [--max-upload 1000000] [--loss 0,2] [--kill-after 20 (s; 0: no failover run)]\n" +
        "                  [--out bench/results/soak.md] [--commit REV]";

    public static SoakOptions Parse(string[] args)
    {
        string[] contenders = ["handoff", "relay", "haproxy"];
        int connections = 64, requests = 100_000, warmup = 2000, maxUpload = 1_000_000;
        long maxResponse = 4 << 20;
        double[] loss = [0, 2];
        int killAfter = 20;
        string output = "bench/results/soak.md";
        string? commit = null;
        var shown = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            string a = args[i];
            switch (a)
            {
                case "--contenders": contenders = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--connections": connections = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--requests": requests = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--warmup": warmup = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--max-response": maxResponse = long.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--max-upload": maxUpload = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--loss": loss = Next().Split(',').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--kill-after": killAfter = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--out": output = Next(); continue;
                case "--commit": commit = Next(); continue;
                case "-h" or "--help": throw new ArgumentException("help");
                default: throw new ArgumentException($"unknown argument '{a}'");
            }
            shown.Add(a);
            shown.Add(args[i]);
        }
        foreach (var c in contenders)
            if (c is not ("handoff" or "handoff-xdp" or "relay" or "haproxy" or "local" or "nginx" or "adaptive")) throw new ArgumentException($"unknown contender '{c}'");
        if (connections < 1 || requests < 1 || warmup < 0 || maxResponse < 0 || maxUpload < 0 || loss.Any(l => l is < 0 or >= 100))
            throw new ArgumentException("connections and requests ≥ 1, sizes ≥ 0, loss in [0, 100)");
        return new SoakOptions([.. shown], contenders, connections, requests, warmup, maxResponse, maxUpload, loss, killAfter, output, commit);
    }
}
