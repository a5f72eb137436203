using System.Diagnostics;
using System.Globalization;
using Baton.Bench;
using Baton.Lab;
using Baton.Modes.Local.Router;

namespace Baton.LocalBench;

/// <summary>Client-side figures of one measured phase.</summary>
internal sealed record Phase(int Requests, double[] LatencyUs, TimeSpan Wall, long RouterTicks, long WorkerTicks, IReadOnlyDictionary<string, long> RouterThreadTicks,
    Sched Router, Sched Workers)
{
    /// <summary>Sorted latencies (µs).</summary>
    public double[] SortedLatencyUs { get; } = [.. LatencyUs.Order()];

    /// <summary>Both blocks' figures together.</summary>
    public static Phase Merge(Phase? a, Phase b)
    {
        if (a is null) return b;
        var threads = new Dictionary<string, long>(a.RouterThreadTicks);
        foreach (var (name, ticks) in b.RouterThreadTicks) threads[name] = threads.GetValueOrDefault(name) + ticks;
        return new Phase(a.Requests + b.Requests, [.. a.LatencyUs, .. b.LatencyUs], a.Wall + b.Wall, a.RouterTicks + b.RouterTicks, a.WorkerTicks + b.WorkerTicks, threads,
            a.Router + b.Router, a.Workers + b.Workers);
    }

    public double RouterCpuUsPerRequest => ProcStat.Microseconds(RouterTicks) / Requests;
    public double WorkerCpuUsPerRequest => ProcStat.Microseconds(WorkerTicks) / Requests;
}

/// <summary>Run time and run-queue wait (ns) of a process's threads over a phase.</summary>
internal readonly record struct Sched(long RunNs, long WaitNs)
{
    public static Sched operator +(Sched a, Sched b) => new(a.RunNs + b.RunNs, a.WaitNs + b.WaitNs);

    public static Sched operator -(Sched a, Sched b) => new(a.RunNs - b.RunNs, a.WaitNs - b.WaitNs);

    public static Sched Of(int pid)
    {
        var (run, wait) = ProcStat.Sched(pid);
        return new Sched(run, wait);
    }

    public static Sched Of(IEnumerable<int> pids) => pids.Select(Of).Aggregate(default(Sched), (a, b) => a + b);
}

/// <summary>Router CPU with nothing to do: µs per second, in all and by thread name.</summary>
internal sealed record Idle(double UsPerSecond, IReadOnlyDictionary<string, double> ByThread);

/// <summary>Drives the loopback lab and collects the router's per-cycle timings.</summary>
internal static class LocalBench
{
    /// <summary>Cancelled on Ctrl-C / SIGTERM.</summary>
    public static readonly CancellationTokenSource Stop = new();

    public static async Task<int> RunAsync(Options o)
    {
        string csv = Path.Combine(Path.GetTempPath(), $"baton-localbench-{Environment.ProcessId}.csv");
        File.Delete(csv);
        try
        {
            return await RunLabAsync(o, csv).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(csv);
        }
    }

    private static async Task<int> RunLabAsync(Options o, string csv)
    {
        var machine = Machine.Read();
        Console.WriteLine("starting the loopback lab: router and workers be1..be3 on 127.0.0.1 ...");
        await using var lab = await LoopbackLab.StartAsync(LoopbackMode.Local, TimeSpan.FromMinutes(5), echo: null, routerArgs: ["--timings", csv]).ConfigureAwait(false);
        Console.WriteLine($"router pid {lab.Router.Pid}; workers {string.Join(", ", lab.Backends.Select(b => $"{b.Key} pid {b.Value.Pid}"))}");
        var clients = new List<RawClient>();
        try
        {
            for (int c = 0; c < o.Connections; c++)
                clients.Add(new RawClient(await lab.ConnectClientAsync(Stop.Token).ConfigureAwait(false)));

            // Warm-up: JIT (tiered compilation reaches the hot paths), thread pools, both paths.
            Console.WriteLine($"warm-up: {o.Warmup} local and {o.Warmup} router-served requests on {o.Connections} connection(s) ...");
            await DriveAsync(clients, o.Warmup, LocalPath).ConfigureAwait(false);
            await DriveAsync(clients, o.Warmup, RouterPath).ConfigureAwait(false);
            await Task.Delay(500, Stop.Token).ConfigureAwait(false);
            var idleBefore = await IdleAsync(lab, TimeSpan.FromSeconds(2)).ConfigureAwait(false);

            // The two kinds alternate in blocks, so that both see the same background load on a
            // shared machine (other builds come and go within seconds).
            Console.WriteLine($"measuring {o.Cycles} local cycles (/be1/x and /be2/x alternating) and {o.RouterLocal} router-served requests (/router/x), in {o.Blocks} alternating blocks ...");
            Phase? local = null, routed = null;
            for (int b = 0; b < o.Blocks; b++)
            {
                local = Phase.Merge(local, await MeasureAsync(lab, clients, Share(o.Cycles, o.Blocks, b), LocalPath).ConfigureAwait(false));
                int r = Share(o.RouterLocal, o.Blocks, b);
                if (r > 0) routed = Phase.Merge(routed, await MeasureAsync(lab, clients, r, RouterPath).ConfigureAwait(false));
            }
            var idleAfter = await IdleAsync(lab, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            var machineAfter = Machine.Read();
            foreach (var c in clients) c.Close();
            clients.Clear();

            // SIGTERM: the router writes its timings file on the way out.
            lab.Router.Stop(TimeSpan.FromSeconds(15));
            if (!File.Exists(csv))
                throw new InvalidOperationException($"router wrote no timings file:\n{lab.Router.Output}");
            if (o.KeepTimings is not null) File.Copy(csv, o.KeepTimings, overwrite: true); // the raw lines, warm-up included
            var timings = TimingsFile.Read(csv, o.Warmup);
            if (timings.Rows.Count != o.Cycles)
                throw new InvalidOperationException($"timings file has {timings.Rows.Count} measured cycles after {timings.Skipped} warm-up lines, expected {o.Cycles}");

            string md = Report.Build(o, machine, machineAfter, timings, local!, routed, (idleBefore, idleAfter));
            Console.WriteLine();
            Console.WriteLine(md);
            if (o.Out is not null)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(o.Out))!);
                File.WriteAllText(o.Out, md);
                Console.WriteLine($"written to {o.Out}");
            }
            return 0;
        }
        catch when (!Stop.IsCancellationRequested)
        {
            Console.Error.WriteLine("router output:\n" + Tail(lab.Router.Output, 40));
            foreach (var (name, w) in lab.Backends) Console.Error.WriteLine($"worker {name} output:\n" + Tail(w.Output, 20));
            throw;
        }
        finally
        {
            foreach (var c in clients) c.Close();
        }
    }

    /// <summary>
    /// The router's CPU while its connections are open and nothing is asked (µs per second), by
    /// thread: what it burns without requests is in every per-request figure too.
    /// </summary>
    private static async Task<Idle> IdleAsync(LoopbackLab lab, TimeSpan span)
    {
        int pid = lab.Router.Pid;
        var threads0 = ProcStat.ThreadTicks(pid);
        long c0 = ProcStat.CpuTicks(pid);
        long t0 = Stopwatch.GetTimestamp();
        await Task.Delay(span, Stop.Token).ConfigureAwait(false);
        long c1 = ProcStat.CpuTicks(pid);
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        var byName = new Dictionary<string, long>();
        foreach (var (tid, (name, ticks)) in ProcStat.ThreadTicks(pid))
        {
            long d = ticks - (threads0.TryGetValue(tid, out var before) ? before.Ticks : 0);
            if (d > 0) byName[name] = byName.GetValueOrDefault(name) + d;
        }
        return new Idle(ProcStat.Microseconds(c1 - c0) / seconds, byName.ToDictionary(kv => kv.Key, kv => ProcStat.Microseconds(kv.Value) / seconds));
    }

    private static int Share(int total, int blocks, int block) => total / blocks + (block < total % blocks ? 1 : 0);

    // Alternating workers: every pass goes to the other process, as balanced traffic would.
    private static string LocalPath(int connection, int i) => (connection + i) % 2 == 0 ? "/be1/x" : "/be2/x";

    private static string RouterPath(int connection, int i) => "/router/x";

    private static async Task<Phase> MeasureAsync(LoopbackLab lab, List<RawClient> clients, int total, Func<int, int, string> path)
    {
        int router = lab.Router.Pid;
        var workers = lab.Backends.Values.Select(w => w.Pid).ToArray();
        var threads0 = ProcStat.ThreadTicks(router);
        long workers0 = workers.Sum(ProcStat.CpuTicks);
        long router0 = ProcStat.CpuTicks(router);
        var sched0 = (Router: Sched.Of(router), Workers: Sched.Of(workers));
        long t0 = Stopwatch.GetTimestamp();
        var latency = await DriveAsync(clients, total, path).ConfigureAwait(false);
        var wall = Stopwatch.GetElapsedTime(t0);
        long router1 = ProcStat.CpuTicks(router);
        long workers1 = workers.Sum(ProcStat.CpuTicks);
        var sched1 = (Router: Sched.Of(router), Workers: Sched.Of(workers));
        var threads1 = ProcStat.ThreadTicks(router);
        // By thread name (.NET names its threads; the worker links are "baton-worker-beN", cut to 15 characters).
        var byName = new Dictionary<string, long>();
        foreach (var (tid, (name, ticks)) in threads1)
        {
            long d = ticks - (threads0.TryGetValue(tid, out var before) ? before.Ticks : 0);
            if (d > 0) byName[name] = byName.GetValueOrDefault(name) + d;
        }
        return new Phase(total, latency, wall, router1 - router0, workers1 - workers0, byName, sched1.Router - sched0.Router, sched1.Workers - sched0.Workers);
    }

    private static Task<double[]> DriveAsync(List<RawClient> clients, int total, Func<int, int, string> path) =>
        RequestDriver.DriveAsync(clients, total, path, Stop.Token);

    private static string Tail(string text, int lines)
    {
        var l = text.Split('\n');
        return string.Join('\n', l.Skip(Math.Max(0, l.Length - lines)));
    }
}

/// <summary>The router's local timings CSV (<see cref="LocalCycleTimings.CsvHeader"/>), warm-up lines dropped.</summary>
internal sealed record TimingsFile(string[] Columns, List<double[]> Rows, int Skipped)
{
    public static TimingsFile Read(string file, int skip)
    {
        var lines = File.ReadAllLines(file);
        if (lines.Length == 0 || lines[0].Trim() != LocalCycleTimings.CsvHeader)
            throw new InvalidOperationException($"unexpected timings header '{(lines.Length > 0 ? lines[0] : "")}' (expected '{LocalCycleTimings.CsvHeader}')");
        var columns = LocalCycleTimings.CsvHeader.Split(',');
        var rows = new List<double[]>();
        int skipped = 0;
        foreach (var line in lines.Skip(1))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            if (skipped < skip) { skipped++; continue; }
            var f = line.Split(',');
            if (f.Length != columns.Length) throw new InvalidOperationException($"bad timings line: {line}");
            rows.Add([.. f.Select(v => double.Parse(v, CultureInfo.InvariantCulture))]);
        }
        return new TimingsFile(columns, rows, skipped);
    }

    /// <summary>One column's values, sorted.</summary>
    public double[] Sorted(string column)
    {
        int c = Array.IndexOf(Columns, column);
        if (c < 0) throw new ArgumentException($"no column {column}", nameof(column));
        var v = Rows.Select(r => r[c]).ToArray();
        Array.Sort(v);
        return v;
    }
}

/// <summary>Facts about the machine, for the report; read at the start and at the end (the load average shows who else ran).</summary>
internal sealed record Machine(string Kernel, string Cpu, int Cores, string LoadAverage)
{
    public static Machine Read()
    {
        static string First(string file, Func<string, bool> match, Func<string, string> take)
        {
            try { return File.ReadLines(file).Where(match).Select(take).FirstOrDefault() ?? "?"; }
            catch (IOException) { return "?"; }
        }
        return new Machine(
            First("/proc/sys/kernel/osrelease", _ => true, l => l.Trim()),
            First("/proc/cpuinfo", l => l.StartsWith("model name", StringComparison.Ordinal), l => l[(l.IndexOf(':') + 1)..].Trim()),
            Environment.ProcessorCount,
            First("/proc/loadavg", _ => true, l => string.Join(' ', l.Split(' ').Take(3))));
    }
}
