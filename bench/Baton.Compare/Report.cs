using System.Globalization;
using System.Text;
using Baton.Lab;

namespace Baton.Compare;

/// <summary>Medians per cell, the markdown report (compare.md) and the plot (cpu-per-request.png).</summary>
internal static class Report
{
    private sealed record Cell(double Rps, double P50Us, double P99Us, double RouterCpu, double BackendCpu, double Tx, double RssMiB, long Errors, int Runs, double RouterCore, double HostBusy);

    private static readonly Dictionary<string, string> Labels = new()
    {
        ["direct"] = "direct (one origin, no router)",
        ["handoff"] = "Baton handoff",
        ["handoff-forward"] = "Baton handoff, agent --forward to the origin",
        ["handoff-aspnet"] = "Baton handoff to the ASP.NET Core sample in-process (UseBatonAgent)",
        ["handoff-forward-copy"] = "Baton handoff, agent --forward, bodies copied (no splice)",
        ["relay-copy"] = "Baton relay, bodies copied (no splice)",
        ["relay-pool"] = "Baton relay, socket continuations on the thread pool",
        ["handoff-pool"] = "Baton handoff, socket continuations on the thread pool",
        ["handoff-xdp"] = "Baton handoff, forwarded frames at XDP",
        ["adaptive"] = "Baton adaptive",
        ["handoff-noshortcut"] = "Baton handoff, no shortcut",
        ["handoff-same"] = "Baton handoff, same back-end",
        ["handoff-same-noshortcut"] = "Baton handoff, same back-end, no shortcut",
        ["local"] = "Baton local",
        ["relay"] = "Baton relay",
        ["yarp"] = "YARP 2.3.0",
        ["haproxy"] = "HAProxy",
        ["nginx"] = "nginx",
    };

    private static string OriginText(string origin) => origin switch
    {
        "nginx" => "Debian's nginx serving `/bytes/N` as static files",
        "sample" => $"the ASP.NET Core sample (`samples/Baton.Sample`, Kestrel), which for `handoff-aspnet` is also its host's agent (`UseBatonAgent`, port {Arena.SampleAgentPort})",
        _ => "`baton origin` (the built-in application)",
    };

    public static string SizeLabel(long size) =>
        size >= 1 << 20 && size % (1 << 20) == 0 ? $"{size >> 20} MiB"
        : size >= 1024 && size % 1024 == 0 ? $"{size >> 10} KiB" : $"{size} B";

    public static Dictionary<string, string> Environment(SweepOptions o)
    {
        string Try(Func<string> f)
        {
            try { return f().Trim(); } catch (Exception e) when (e is InvalidOperationException or IOException or System.ComponentModel.Win32Exception) { return "?"; }
        }
        string FirstLine(string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "?";
        return new Dictionary<string, string>
        {
            ["date"] = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture),
            ["commit"] = o.Commit ?? "?",
            ["kernel"] = Try(() => File.ReadAllText("/proc/sys/kernel/osrelease")),
            ["cores"] = System.Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture),
            ["dotnet"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            ["haproxy"] = Try(() => FirstLine(Netns.Exec("haproxy", "-v"))),
            ["nginx"] = Try(() => FirstLine(ExecBoth("/usr/sbin/nginx", "-v"))),
            ["wrk"] = Try(() => FirstLine(ExecBoth("wrk", "-v"))),
            ["duration_s"] = o.Duration.TotalSeconds.ToString(CultureInfo.InvariantCulture),
            ["runs"] = o.Runs.ToString(CultureInfo.InvariantCulture),
            ["origin"] = o.Origin,
            ["path"] = o.PathOf(0)[..^1] + "N",
        };
    }

    /// <summary>stdout and stderr of a command whatever its exit code (nginx -v and wrk -v print on stderr, wrk exits 1).</summary>
    private static string ExecBoth(string file, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi) ?? throw new InvalidOperationException(file);
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd() + err.Result;
        p.WaitForExit();
        return output;
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Where(x => !double.IsNaN(x)).OrderBy(x => x).ToArray();
        if (v.Length == 0) return double.NaN;
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    private static Dictionary<(string, long, int), Cell> Cells(IEnumerable<RunRow> rows) =>
        rows.GroupBy(r => (r.Contender, r.Size, r.Connections)).ToDictionary(g => g.Key, g => new Cell(
            Median(g.Select(r => r.Rps)), Median(g.Select(r => r.P50Us)), Median(g.Select(r => r.P99Us)),
            Median(g.Select(r => r.RouterCpuPerReq)), Median(g.Select(r => r.BackendCpuPerReq)), Median(g.Select(r => r.TxPerReq)),
            Median(g.Select(r => r.RssKiB / 1024.0)), g.Sum(r => r.Errors), g.Count(), Median(g.Select(r => r.RouterCorePerReq)),
            Median(g.Select(r => r.HostBusyPerReq))));

    private static string N(double v, int digits = 1) =>
        double.IsNaN(v) ? "—" : Math.Abs(v) >= 100 ? v.ToString("F0", CultureInfo.InvariantCulture) : v.ToString("F" + digits, CultureInfo.InvariantCulture);

    private static string Ratio(double a, double b) => double.IsNaN(a) || double.IsNaN(b) || b == 0 ? "—" : (a / b).ToString(a / b < 0.1 ? "F3" : "F2", CultureInfo.InvariantCulture);

    public static void Write(SweepOptions o, List<RunRow> rows, IReadOnlyDictionary<string, string> failures, IReadOnlyDictionary<string, string> meta)
    {
        var cells = Cells(rows);
        var contenders = SweepOptions.AllContenders.Concat(SweepOptions.ShortcutVariants).Concat(SweepOptions.CopyVariants).Append(SweepOptions.AspNetContender).Where(c => rows.Any(r => r.Contender == c) || failures.ContainsKey(c)).ToList();
        var sizes = rows.Select(r => r.Size).Distinct().OrderBy(s => s).ToList();
        var conns = rows.Select(r => r.Connections).Distinct().OrderBy(c => c).ToList();
        string M(string k) => meta.TryGetValue(k, out var v) ? v : "?";
        Cell? Get(string c, long s, int n) => cells.TryGetValue((c, s, n), out var cell) ? cell : null;

        var md = new StringBuilder();
        md.AppendLine("# Baton against YARP, HAProxy and nginx: router CPU, bytes and latency by response size");
        md.AppendLine();
        md.AppendLine($"{M("date")} · commit {M("commit")} · kernel {M("kernel")} · {M("cores")} cores · {M("dotnet")} · {M("haproxy")} · {M("nginx")} · {M("wrk")} · Yarp.ReverseProxy 2.3.0");
        md.AppendLine();
        md.AppendLine($"Made by `bench/compare.sh` (`./baton.sh bench compare`). Namespace cluster `{SweepOptions.Prefix}-*` on 10.77.{SweepOptions.Subnet}.0/24: client, router and three back-end hosts on one bridge. " +
            $"Every back-end runs {OriginText(M("origin"))} on its own address, port {Arena.OriginPort}: the origin for every proxy (HTTP/1.1 keep-alive, `{(M("path") is "?" ? "/bytes/N" : M("path"))}`{(M("path") == "/stream/N" ? ", sent chunked" : "")}; `handoff-forward`'s agents forward to it). " +
            "Baton `handoff` runs `baton agent` on the back-ends instead, serving the same application on the handed-off connection; Baton `adaptive` runs both (agent and origin on each back-end) and per request relays or hands off by the response size it learned (`HandoffAbove` 128 KiB); Baton `local` runs three `baton worker` processes in the router namespace. " +
            "Every router listens on the VIP, port 80, in the router namespace, and balances round robin over the three back-ends; `direct` is wrk straight at be1's origin (no router). " +
            $"Load: `wrk --latency` in the client namespace, 2 threads, keep-alive connections, {M("duration_s")} s per run, median of {M("runs")} runs per cell; every request is a routing decision.");
        md.AppendLine();
        md.AppendLine("- **router CPU/request**: utime+stime of the router's process tree (nginx: master and workers) over the run, divided by the requests wrk completed (10 ms ticks).");
        md.AppendLine(M("router_core") is var pinned && pinned.StartsWith("CPU", StringComparison.Ordinal)
            ? $"- **router core/request**: the router host's whole cost. The router's process tree runs alone on {pinned}, the router namespace's `eth0` does its receive processing there (RPS), and wrk, the back-ends and every other veth end run on the other CPUs; that CPU's busy time (user + system + irq + softirq, `/proc/stat`) over the run, divided by the requests. It includes the packet work utime+stime misses: on veth a frame's receive processing runs in the softirq of the CPU that sent it, so unpinned, a proxy pays for its client's receive work and the hand-off's ingress steering is charged to the client or a back-end. Each router starts on that one CPU, so runtimes and servers that size themselves by the CPUs they may use (the .NET thread pool, HAProxy's threads) see one. `local`'s workers run on the router's CPU too (they are on the router host)."
            : "- **router core/request**: not measured (`--no-pin`, or a single-CPU machine).");
        md.AppendLine("- **back-end CPU/request**: the same for the processes that produce the responses: the agents (handoff; on the back-end hosts), the workers (local; *on the router host*), the origins (everything else).");
        md.AppendLine("- **router tx/request**: bytes the router namespace's `eth0` transmitted, divided by requests (response bodies the router relays show up here; hand-off sends only control messages and TCP hand-over traffic).");
        md.AppendLine("- The machine has 2 cores shared by wrk, the router and all back-ends: absolute figures are indicative only. Compare contenders by ratios within this run.");
        md.AppendLine("- Configurations: HAProxy `mode http`, `http-reuse always`, `balance roundrobin`; nginx upstream `keepalive 64`, `proxy_http_version 1.1`, `proxy_buffers 16 64k`, `proxy_max_temp_file_size 0` (no temp files), `worker_processes auto`, access log off; YARP: `bench/YarpHost` (stock `AddReverseProxy().LoadFromConfig`, RoundRobin, logging at Warning); Baton: one route, one cluster, `RoundRobin`.");
        if (failures.Count > 0)
        {
            md.AppendLine();
            foreach (var (c, why) in failures) md.AppendLine($"- **{Labels[c]} failed**: {why}");
        }

        // Hand-written reading of a run, kept across regenerations (--from-csv).
        string notes = Path.Combine(o.OutDir, "compare-notes.md");
        if (File.Exists(notes))
        {
            md.AppendLine();
            md.AppendLine(File.ReadAllText(notes).TrimEnd());
        }

        // One table per connections count: contenders by size, one figure per cell.
        void ByContenderAndSize(string title, Func<Cell, double> figure)
        {
            md.AppendLine();
            md.AppendLine(title);
            foreach (int n in conns)
            {
                md.AppendLine();
                md.AppendLine($"{n} connections:");
                md.AppendLine();
                md.AppendLine("| contender | " + string.Join(" | ", sizes.Select(SizeLabel)) + " |");
                md.AppendLine("|---|" + string.Concat(sizes.Select(_ => "---:|")));
                foreach (var c in contenders.Where(c => c != "direct"))
                    md.AppendLine($"| {Labels[c]} | " + string.Join(" | ", sizes.Select(s => Get(c, s, n) is { } cell ? N(figure(cell)) : N(double.NaN))) + " |");
            }
        }

        if (cells.Values.Any(c => !double.IsNaN(c.RouterCore)))
        {
            ByContenderAndSize("## Router host CPU per request (µs): the router's own core, softirq included", c => c.RouterCore);
            IssueGoals(md, cells, sizes, conns);
        }
        ByContenderAndSize("## Router CPU per request (µs, the router's processes: utime+stime)", c => c.RouterCpu);

        md.AppendLine();
        md.AppendLine("## Targets (ratios within this run)");
        md.AppendLine();
        long mib = 1 << 20;
        md.AppendLine("| target | " + string.Join(" | ", conns.Select(n => $"{n} connections")) + " |");
        md.AppendLine("|---|" + string.Concat(conns.Select(_ => "---:|")));
        double CpuOf(string c, long s, int n) => Get(c, s, n)?.RouterCpu ?? double.NaN;
        md.AppendLine("| handoff ÷ HAProxy router CPU/request at 1 MiB (target ≤ 0.10) | " + string.Join(" | ", conns.Select(n => Ratio(CpuOf("handoff", mib, n), CpuOf("haproxy", mib, n)))) + " |");
        md.AppendLine("| handoff ÷ YARP router CPU/request at 1 MiB (target ≤ 0.05) | " + string.Join(" | ", conns.Select(n => Ratio(CpuOf("handoff", mib, n), CpuOf("yarp", mib, n)))) + " |");
        md.AppendLine("| handoff router tx/request ÷ response size at 1 MiB (target ≤ 2%) | " + string.Join(" | ", conns.Select(n =>
            Get("handoff", mib, n) is { } h ? (100 * h.Tx / mib).ToString("F2", CultureInfo.InvariantCulture) + "%" : "—")) + " |");
        double BackendOf(string c, long s, int n) => Get(c, s, n)?.BackendCpu ?? double.NaN;
        double BestProxy(long s, int n) => new[] { "haproxy", "nginx", "yarp", "relay" }.Select(p => CpuOf(p, s, n)).Where(v => !double.IsNaN(v)).DefaultIfEmpty(double.NaN).Min();
        // Issue 15's targets, for the real servers behind the hand-off: the agent forwarding to the
        // origin, and the ASP.NET Core sample serving in-process.
        foreach (var real in new[] { "handoff-forward", "handoff-aspnet" }.Where(contenders.Contains))
        {
            string what = real == "handoff-forward" ? "agent + origin" : "the sample with its agent";
            foreach (long s in sizes.Where(s => s >= mib))
                md.AppendLine($"| {real} ÷ the best proxy's router CPU/request at {SizeLabel(s)} (target ≤ 0.10) | " + string.Join(" | ", conns.Select(n => Ratio(CpuOf(real, s, n), BestProxy(s, n)))) + " |");
            // The origins alone are what relay's back-ends pay: relay adds nothing on the back-end hosts.
            foreach (long s in sizes)
                md.AppendLine($"| {real} back-end CPU ({what}) ÷ the origin alone (relay's back-ends) at {SizeLabel(s)} (target ≤ 1.3) | " + string.Join(" | ", conns.Select(n => Ratio(BackendOf(real, s, n), BackendOf("relay", s, n)))) + " |");
        }
        foreach (var (spliced, copied) in new[] { ("relay", "relay-copy"), ("handoff-forward", "handoff-forward-copy") }.Where(p => contenders.Contains(p.Item2)))
            foreach (long s in sizes.Where(s => s >= 64 * 1024))
            {
                string whose = spliced == "relay" ? "router" : "back-end";
                md.AppendLine($"| {spliced} spliced ÷ copied, {whose} CPU/request at {SizeLabel(s)} | " + string.Join(" | ", conns.Select(n =>
                    spliced == "relay" ? Ratio(CpuOf(spliced, s, n), CpuOf(copied, s, n)) : Ratio(BackendOf(spliced, s, n), BackendOf(copied, s, n)))) + " |");
            }
        md.AppendLine("| relay ÷ HAProxy router CPU/request, worst size (target ≤ 1.5) | " + string.Join(" | ", conns.Select(n => WorstRatio("relay", "haproxy", n))) + " |");
        md.AppendLine("| relay ÷ YARP router CPU/request, worst size (target ≤ 1.0) | " + string.Join(" | ", conns.Select(n => WorstRatio("relay", "yarp", n))) + " |");
        md.AppendLine("| adaptive ÷ HAProxy router CPU/request at 1 KiB (target ≤ 1.2) | " + string.Join(" | ", conns.Select(n => Ratio(CpuOf("adaptive", 1024, n), CpuOf("haproxy", 1024, n)))) + " |");
        md.AppendLine("| adaptive ÷ the better of handoff and relay, worst size (target ≤ 1.10) | " + string.Join(" | ", conns.Select(n => WorstOfBetter(n))) + " |");
        md.AppendLine();
        md.AppendLine("Per size (router CPU/request ratios):");
        md.AppendLine();
        md.AppendLine("| ratio | connections | " + string.Join(" | ", sizes.Select(SizeLabel)) + " |");
        md.AppendLine("|---|---:|" + string.Concat(sizes.Select(_ => "---:|")));
        foreach (var (a, b) in new[] { ("handoff", "relay"), ("handoff", "haproxy"), ("handoff", "yarp"), ("local", "relay"), ("relay", "haproxy"), ("relay", "yarp"), ("relay", "nginx") })
            foreach (int n in conns)
                md.AppendLine($"| {a} ÷ {b} | {n} | " + string.Join(" | ", sizes.Select(s => Ratio(CpuOf(a, s, n), CpuOf(b, s, n)))) + " |");
        foreach (var (a, b) in new[] { ("handoff", "handoff-noshortcut"), ("handoff-same", "handoff-same-noshortcut"), ("handoff-same", "haproxy") })
            if (contenders.Contains(a) && contenders.Contains(b))
                foreach (int n in conns)
                    md.AppendLine($"| {a} ÷ {b} | {n} | " + string.Join(" | ", sizes.Select(s => Ratio(CpuOf(a, s, n), CpuOf(b, s, n)))) + " |");
        foreach (int n in conns)
            md.AppendLine($"| adaptive ÷ min(handoff, relay) | {n} | " + string.Join(" | ", sizes.Select(s => Ratio(CpuOf("adaptive", s, n), Better(s, n)))) + " |");

        md.AppendLine();
        md.AppendLine("## Where hand-off overtakes relay");
        md.AppendLine();
        foreach (int n in conns)
        {
            var below = sizes.Where(s => CpuOf("handoff", s, n) < CpuOf("relay", s, n)).ToList();
            if (!sizes.Any(s => !double.IsNaN(CpuOf("handoff", s, n)) && !double.IsNaN(CpuOf("relay", s, n))))
            {
                md.AppendLine($"- {n} connections: no data for both.");
                continue;
            }
            var first = sizes.FirstOrDefault(s => below.Contains(s) && sizes.Where(t => t >= s).All(below.Contains));
            string detail = string.Join(", ", sizes.Select(s => $"{SizeLabel(s)} {Ratio(CpuOf("handoff", s, n), CpuOf("relay", s, n))}×"));
            md.AppendLine(first == 0
                ? $"- {n} connections: hand-off costs the router more CPU per request than relay at every size measured up to the largest (handoff ÷ relay: {detail})."
                : $"- {n} connections: from **{SizeLabel(first)}** on, hand-off costs the router less CPU per request than relay; at {SizeLabel(sizes[^1])} it is {Ratio(CpuOf("handoff", sizes[^1], n), CpuOf("relay", sizes[^1], n))}× relay's (handoff ÷ relay by size: {detail}). Requests/s at {SizeLabel(sizes[^1])}: handoff {N(Get("handoff", sizes[^1], n)?.Rps ?? double.NaN)}, relay {N(Get("relay", sizes[^1], n)?.Rps ?? double.NaN)}.");
        }

        md.AppendLine();
        md.AppendLine("## All figures (medians)");
        foreach (int n in conns)
        {
            md.AppendLine();
            md.AppendLine($"### {n} connections");
            md.AppendLine();
            md.AppendLine("| size | contender | req/s | p50 ms | p99 ms | router core µs/req | host busy µs/req | router CPU µs/req | back-end CPU µs/req | router tx B/req | tx ÷ size | router RSS MiB | errors | runs |");
            md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (long s in sizes)
                foreach (var c in contenders)
                {
                    if (Get(c, s, n) is not { } cell) continue;
                    md.AppendLine($"| {SizeLabel(s)} | {Labels[c]} | {N(cell.Rps)} | {N(cell.P50Us / 1000, 2)} | {N(cell.P99Us / 1000, 2)} | {N(cell.RouterCore)} | {N(cell.HostBusy)} | {N(cell.RouterCpu)} | {N(cell.BackendCpu)} | {N(cell.Tx)} | " +
                        $"{(c == "direct" ? "—" : (100 * cell.Tx / s).ToString("F1", CultureInfo.InvariantCulture) + "%")} | {(c == "direct" ? "—" : N(cell.RssMiB))} | {cell.Errors} | {cell.Runs} |");
                }
        }
        md.AppendLine();
        md.AppendLine("Host busy is every CPU's busy time per request (`/proc/stat`: wrk, the back-ends and the switch included), the figure that shows whether work was saved or only moved to another CPU (on veth an XDP program runs on the sending CPU); — in reports made before it was recorded.");
        md.AppendLine();
        md.AppendLine("Errors are wrk's socket errors (connect, read, write, timeout) plus non-2xx responses, summed over the runs. Raw runs: `compare-runs.csv` (rewrite this report and the plot from it: `bench/compare.sh --from-csv docs/benchmarks/compare-runs.csv`).");
        md.AppendLine();
        md.AppendLine("![router CPU per request](cpu-per-request.png)");

        File.WriteAllText(Path.Combine(o.OutDir, "compare.md"), md.ToString());
        Plot(Path.Combine(o.OutDir, "cpu-per-request.png"), cells, contenders.Where(c => c != "direct").ToList(), sizes, conns);
        Console.WriteLine($"report: {Path.Combine(o.OutDir, "compare.md")}");

        // The cheaper of the two mechanisms adaptive chooses between, per cell.
        double Better(long s, int n) => Math.Min(CpuOf("handoff", s, n), CpuOf("relay", s, n));
        string WorstOfBetter(int n)
        {
            var measured = sizes.Where(s => !double.IsNaN(CpuOf("adaptive", s, n)) && !double.IsNaN(Better(s, n))).ToList();
            if (measured.Count == 0) return "—";
            long worst = measured.MaxBy(s => CpuOf("adaptive", s, n) / Better(s, n));
            return $"{Ratio(CpuOf("adaptive", worst, n), Better(worst, n))} ({SizeLabel(worst)})";
        }

        string WorstRatio(string a, string b, int n)
        {
            var ratios = sizes.Select(s => (s, r: CpuOf(a, s, n) / CpuOf(b, s, n))).Where(x => !double.IsNaN(x.r) && !double.IsInfinity(x.r)).ToList();
            if (ratios.Count == 0) return "—";
            var worst = ratios.MaxBy(x => x.r);
            return $"{worst.r.ToString("F2", CultureInfo.InvariantCulture)} ({SizeLabel(worst.s)})";
        }
    }

    /// <summary>
    /// Issue 16's goals that this run measures, on the router core's figure (the processes' own in
    /// brackets). Goal 4 (router wall time) is bench/run.sh's, goal 7 is the figure itself.
    /// </summary>
    private static void IssueGoals(StringBuilder md, Dictionary<(string, long, int), Cell> cells, List<long> sizes, List<int> conns)
    {
        Cell? Get(string c, long s, int n) => cells.TryGetValue((c, s, n), out var cell) ? cell : null;
        double Core(string c, long s, int n) => Get(c, s, n)?.RouterCore ?? double.NaN;
        double Proc(string c, long s, int n) => Get(c, s, n)?.RouterCpu ?? double.NaN;
        double Min(Func<string, long, int, double> f, long s, int n, params string[] of) =>
            of.Select(c => f(c, s, n)).Where(v => !double.IsNaN(v)).DefaultIfEmpty(double.NaN).Min();
        string Both(Func<Func<string, long, int, double>, double> ratio) => $"{R(ratio(Core))} ({R(ratio(Proc))})";
        static string R(double v) => double.IsNaN(v) || double.IsInfinity(v) ? "—" : v.ToString(v < 0.1 ? "F3" : "F2", CultureInfo.InvariantCulture);
        string Worst(int n, Func<Func<string, long, int, double>, long, double> ratio)
        {
            var core = sizes.Select(s => (s, r: ratio(Core, s))).Where(x => !double.IsNaN(x.r) && !double.IsInfinity(x.r)).ToList();
            if (core.Count == 0) return "—";
            var w = core.MaxBy(x => x.r);
            return $"{R(w.r)} at {SizeLabel(w.s)} ({R(ratio(Proc, w.s))})";
        }
        string[] proxies = ["haproxy", "nginx", "yarp", "relay"];
        long kib = 1024, mib = 1 << 20;
        md.AppendLine();
        md.AppendLine("Issue 16's goals on this figure (the processes' utime+stime figure in brackets):");
        md.AppendLine();
        md.AppendLine("| goal | target | " + string.Join(" | ", conns.Select(n => $"{n} connections")) + " |");
        md.AppendLine("|---|---|" + string.Concat(conns.Select(_ => "---:|")));
        void Row(string goal, string target, Func<int, string> cell) => md.AppendLine($"| {goal} | {target} | " + string.Join(" | ", conns.Select(cell)) + " |");
        Row("1. handoff ÷ min(HAProxy, nginx) at 1 KiB", "≤ 1", n => Both(f => f("handoff", kib, n) / Min(f, kib, n, "haproxy", "nginx")));
        Row("1. handoff ÷ the best proxy, worst size ≥ 16 KiB", "< 1", n => Worst(n, (f, s) => s < 16 * kib ? double.NaN : f("handoff", s, n) / Min(f, s, n, proxies)));
        Row("1. handoff ÷ the best proxy at 1 MiB", "≤ 0.05", n => Both(f => f("handoff", mib, n) / Min(f, mib, n, proxies)));
        Row("2. handoff at the largest size ÷ at 1 KiB", "≤ 1.3", n => Both(f => f("handoff", sizes[^1], n) / f("handoff", kib, n)));
        Row("3. handoff back-end CPU − the origin's alone (relay's back-ends) at 1 KiB, µs", "≤ 60", n =>
            N((Get("handoff", kib, n)?.BackendCpu ?? double.NaN) - (Get("relay", kib, n)?.BackendCpu ?? double.NaN)));
        Row("5. relay ÷ nginx, worst size", "≤ 1", n => Worst(n, (f, s) => f("relay", s, n) / f("nginx", s, n)));
        Row("5. relay ÷ HAProxy at 1 KiB", "≤ 1", n => Both(f => f("relay", kib, n) / f("haproxy", kib, n)));
        Row("6. adaptive ÷ min(handoff, relay), worst size", "≤ 1.1", n => Worst(n, (f, s) => f("adaptive", s, n) / Min(f, s, n, "handoff", "relay")));
    }

    private static void Plot(string path, Dictionary<(string, long, int), Cell> cells, List<string> contenders, List<long> sizes, List<int> conns)
    {
        // The router core's figure when the run has it (the one issue 16 judges by), else the processes'.
        bool core = cells.Values.Any(c => !double.IsNaN(c.RouterCore));
        double Plotted(Cell c) => core ? c.RouterCore : c.RouterCpu;
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < contenders.Count; i++)
        {
            var color = palette.GetColor(i);
            for (int k = 0; k < conns.Count; k++)
            {
                int n = conns[k];
                var pts = sizes.Select(s => (s, cpu: cells.TryGetValue((contenders[i], s, n), out var c) ? Plotted(c) : double.NaN))
                    .Where(p => p.cpu > 0).ToList();
                if (pts.Count == 0) continue;
                var sc = plot.Add.Scatter(pts.Select(p => Math.Log10(p.s)).ToArray(), pts.Select(p => Math.Log10(p.cpu)).ToArray());
                sc.Color = color;
                sc.LineWidth = 2;
                sc.MarkerSize = 7;
                sc.LinePattern = k == conns.Count - 1 ? ScottPlot.LinePattern.Solid : ScottPlot.LinePattern.Dashed;
                sc.LegendText = $"{Labels[contenders[i]]}, {n} conn";
            }
        }
        plot.Axes.Bottom.SetTicks(sizes.Select(s => Math.Log10(s)).ToArray(), sizes.Select(SizeLabel).ToArray());
        // Log scale: values are plotted as log10; ticks at 1, 2 and 5 of every decade in range.
        var ys = cells.Values.Select(Plotted).Where(v => v > 0).ToList();
        if (ys.Count > 0)
        {
            int lo = (int)Math.Floor(Math.Log10(ys.Min())), hi = (int)Math.Ceiling(Math.Log10(ys.Max()));
            var ticks = Enumerable.Range(lo, hi - lo + 1).SelectMany(d => new[] { 1.0, 2, 5 }.Select(m => m * Math.Pow(10, d))).ToArray();
            plot.Axes.Left.SetTicks(ticks.Select(Math.Log10).ToArray(), ticks.Select(t => t.ToString("0.###", CultureInfo.InvariantCulture)).ToArray());
        }
        plot.Title(core
            ? "Router host CPU per request vs response size (log-log; the router's own core, softirq included)"
            : "Router CPU per request vs response size (log-log; 2 shared cores, compare ratios)");
        plot.XLabel("response size");
        plot.YLabel(core ? "router core busy time per request (µs)" : "router CPU per request (µs, utime+stime)");
        plot.ShowLegend(ScottPlot.Edge.Right);
        plot.SavePng(path, 1300, 700);
    }
}
