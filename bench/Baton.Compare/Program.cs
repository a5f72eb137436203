using System.Globalization;
using System.Runtime.InteropServices;
using Baton.Compare;
using Baton.Lab;

// Baton (handoff, local, relay) against YARP, HAProxy and nginx on one namespace cluster: the same
// origins, client (wrk) and load for every contender; router CPU, bytes and memory per request.
// Run it through bench/compare.sh (root). --from-csv FILE only rewrites the report and the plot.

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

SweepOptions o;
try
{
    o = SweepOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"compare: {e.Message}");
    Console.Error.WriteLine(SweepOptions.Usage);
    return 64;
}

Directory.CreateDirectory(o.OutDir);
string csvPath = Path.Combine(o.OutDir, "compare-runs.csv");
if (o.FromCsv is not null)
{
    var rows = RunRow.ReadCsv(o.FromCsv);
    Report.Write(o, rows, new Dictionary<string, string>(), RunRow.ReadMeta(o.FromCsv));
    return 0;
}

if (!Netns.IsRoot)
{
    Console.Error.WriteLine("compare needs root: it builds network namespaces (btbench2-*) and moves TCP connections with TCP_REPAIR; run bench/compare.sh as root");
    return 2;
}

using var stop = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Cancel(); });
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Cancel(); });

var meta = Report.Environment(o);
var all = new List<RunRow>();
var failures = new Dictionary<string, string>();

Console.WriteLine($"building namespace cluster {SweepOptions.Prefix}-* (10.77.{SweepOptions.Subnet}.0/24) ...");
NetnsCluster.RemoveStale(SweepOptions.Prefix);
var dir = Directory.CreateTempSubdirectory("btbench-compare-").FullName;
int rc = 0;
try
{
    using var net = NetnsCluster.Create(SweepOptions.Prefix, SweepOptions.Subnet);
    // Before anything starts: every process started from here on inherits the other CPUs.
    var core = o.Pin ? RouterCore.Claim(net) : null;
    meta["router_core"] = core is null ? "not pinned" : $"CPU {core.Cpu}";
    using var arena = new Arena(net, dir, o.YarpDll, o.Origin);
    meta["wire"] = arena.PrepareWire(o.Contenders);
    File.WriteAllText(csvPath, RunRow.MetaLines(meta) + RunRow.CsvHeader + "\n");
    await arena.StartOriginsAsync(o.Sizes.Append(1024).Append(1 << 20));
    Console.WriteLine($"origins ({o.Origin}) on {string.Join(", ", net.Backends.Select(b => $"{net.AddressOf(b)}:{Arena.OriginPort}"))}");
    var started = DateTime.UtcNow;
    foreach (var name in o.Contenders)
    {
        stop.Token.ThrowIfCancellationRequested();
        Running? c = null;
        try
        {
            Console.WriteLine($"== {name} ==");
            c = core is null ? await arena.StartAsync(name) : await core.StartAsync(() => arena.StartAsync(name), backendsOnRouterHost: name == "local");
            // Warm-up: JIT, pools, connection caches.
            foreach (long size in new long[] { 1024, 1 << 20 })
                await Wrk.RunAsync(arena.ClientNs, c.Url + o.PathOf(size), o.Connections.Max(), TimeSpan.FromSeconds(2), stop.Token);
            foreach (long size in o.Sizes)
                foreach (int conns in o.Connections)
                    for (int run = 1; run <= o.Runs; run++)
                    {
                        var row = await MeasureAsync(arena, c, core, o.PathOf(size), size, conns, run, o.Duration, stop.Token);
                        all.Add(row);
                        File.AppendAllText(csvPath, row.ToCsv() + "\n");
                        Console.WriteLine($"  {Report.SizeLabel(size),7} c={conns,-3} run {run}: {row.Rps,9:F0} req/s  p50 {row.P50Us / 1000,8:F2} ms  p99 {row.P99Us / 1000,8:F2} ms  router {row.RouterCpuPerReq,8:F1} µs/req  router core {row.RouterCorePerReq,8:F1} µs/req  tx {row.TxPerReq,10:F0} B/req  errors {row.Errors}  [{(DateTime.UtcNow - started).TotalMinutes:F1} min]");
                        await Task.Delay(300, stop.Token);
                    }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or System.Net.Sockets.SocketException or TimeoutException)
        {
            failures[name] = e.Message.Split('\n')[0];
            Console.Error.WriteLine($"{name} failed: {e.Message}");
            if (c?.Output is { Length: > 0 } output) Console.Error.WriteLine($"{name}'s router, last lines:\n{output}");
        }
        finally
        {
            c?.Stop();
        }
        Report.Write(o, all, failures, meta);
    }
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    Console.Error.WriteLine("compare interrupted; processes stopped, namespaces deleted");
    rc = 130;
}
finally
{
    NetnsCluster.RemoveStale(SweepOptions.Prefix);
    try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
}
if (all.Count > 0) Report.Write(o, all, failures, meta);
return rc;

static async Task<RunRow> MeasureAsync(Arena arena, Running c, RouterCore? core, string path, long size, int conns, int run, TimeSpan duration, CancellationToken ct)
{
    var routerTree = c.RouterPid is int pid ? ProcStats.Tree(pid) : [];
    var backends = c.BackendPids().ToList();
    double r0 = ProcStats.CpuMicros(routerTree), b0 = ProcStats.CpuMicros(backends), k0 = core?.BusyMicros() ?? double.NaN, h0 = RouterCore.HostBusyMicros();
    long tx0 = Netns.TxBytes(arena.RouterNs, "eth0");
    // Retransmissions (the client's and the back-end hosts'), shown next to the tail latency they explain.
    long Retrans() => Netns.SnmpCounter(arena.ClientNs, "Tcp", "RetransSegs") + arena.BackendNamespaces.Sum(ns => Netns.SnmpCounter(ns, "Tcp", "RetransSegs"));
    long retrans0 = Retrans();
    var w = await Wrk.RunAsync(arena.ClientNs, c.Url + path, conns, duration, ct);
    Console.WriteLine($"    (retransmitted segments, client and back-ends: {Retrans() - retrans0})");
    double r1 = ProcStats.CpuMicros(routerTree), b1 = ProcStats.CpuMicros(backends), k1 = core?.BusyMicros() ?? double.NaN, h1 = RouterCore.HostBusyMicros();
    long tx1 = Netns.TxBytes(arena.RouterNs, "eth0");
    long rss = ProcStats.RssKiB(routerTree);
    return new RunRow(c.Name, size, conns, run, w.Requests, w.Seconds, w.RequestsPerSecond, w.P50Us, w.P99Us, w.Errors,
        c.RouterPid is null ? double.NaN : r1 - r0, b1 - b0, tx1 - tx0, c.RouterPid is null ? 0 : rss, c.RouterPid is null ? double.NaN : k1 - k0, h1 - h0);
}
