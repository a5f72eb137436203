using System.Globalization;
using System.Text;
using Baton.Bench;

namespace Baton.LocalBench;

/// <summary>The markdown report: pass and return against the prototype, every step, the client's view and the router's CPU.</summary>
internal static class Report
{
    /// <summary>The prototype's medians (DESIGN.md §6, two processes), µs: pass 15–19 (the issue: about 18), return 12–13, round trip 35–40.</summary>
    private const double PrototypePassUs = 18, PrototypeReturnUs = 12.5, PrototypeRoundTripUs = 37.5;

    private static readonly Dictionary<string, string> Labels = new()
    {
        ["pass_prepare_us"] = "pass: prepare (session, SO_COOKIE note, payload)",
        ["pass_send_us"] = "pass: sendmsg with the fd (SCM_RIGHTS)",
        ["pass_release_us"] = "pass: close the router's copy (after the send)",
        ["pass_router_us"] = "**pass, router side** (start → Pass sent)",
        ["pass_worker_us"] = "pass: stamp → worker holds the socket (worker's clock)",
        ["pass_total_us"] = "**pass** (start → worker holds the socket)",
        ["serve_us"] = "worker: the transaction (read request, application, write response)",
        ["ret_link_us"] = "return: worker sendmsg → router's link thread has the message",
        ["ret_adopt_us"] = "return: adopt the fd (SO_COOKIE, dup to a fresh number, wrap)",
        ["ret_wake_us"] = "return: link thread → transfer resumes (thread-pool hop)",
        ["ret_total_us"] = "**return** (worker sends → live at the router)",
        ["round_trip_us"] = "**round trip** (pass + return, without the transaction)",
        ["cycle_us"] = "full cycle at the router (start → live, with the transaction)",
    };

    public static string Build(Options o, Machine before, Machine after, TimingsFile t, Phase local, Phase? routed, (Idle Before, Idle After) idle)
    {
        var sb = new StringBuilder();
        string command = "bench/run.sh local" + (o.Given.Count > 0 ? " " + string.Join(' ', o.Given) : "");
        sb.AppendLine("# Baton local-mode benchmark: one pass and one return");
        sb.AppendLine();
        sb.AppendLine($"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC · commit {o.Commit ?? "?"} · kernel {before.Kernel} · {before.Cpu}, {before.Cores} cores · .NET {Environment.Version} · " +
            $"load average {before.LoadAverage} at the start, {after.LoadAverage} at the end");
        sb.AppendLine();
        sb.AppendLine($"Command: `{command}` (no root). A real `baton router` process and `baton worker` processes be1..be3 on 127.0.0.1 " +
            $"(the loopback lab), `GET /be1/x` and `GET /be2/x` alternating on {o.Connections} keep-alive connection(s), each connection sequential: " +
            "every request is one pass of the client socket's descriptor to a worker (SCM_RIGHTS over the Unix socket), one transaction there, one return. " +
            $"Tiny responses (~60 B body). The local cycles and the router-served reference requests alternate in {o.Blocks} blocks, so both meet the same background load. " +
            $"{o.Warmup} warm-up cycles first; their {t.Skipped} timing lines are dropped. " +
            $"Timings: the router's own per-cycle lines (`baton router --timings`), {t.Rows.Count} cycles; the worker's two stamps (it holds the socket; it sends it back) " +
            "travel in the Return message and share the router's clock (CLOCK_MONOTONIC, one host). " +
            "Start is the router's call into the transfer, right after it picked the route and the worker; live is the transfer handing the socket back to the connection's read loop, which reads the next request. " +
            "The machine has 2 cores shared with other engineers' builds: read medians and ratios; p99 and max also measure whatever else ran.");
        sb.AppendLine();

        var median = t.Columns.ToDictionary(c => c, c => Stats.Median(t.Sorted(c)));
        sb.AppendLine("## Pass and return (µs)");
        sb.AppendLine();
        sb.AppendLine("| measure | median | p99 | p10 | prototype (DESIGN.md §6) | median ÷ prototype | p10 ÷ prototype |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        void Headline(string column, string prototype, double prototypeUs)
        {
            var v = t.Sorted(column);
            string Ratio(double x) => prototypeUs > 0 ? $"{x / prototypeUs:F2}×" : "–";
            sb.AppendLine($"| {Labels[column]} | {Us(Stats.Median(v))} | {Us(Stats.P99(v))} | {Us(Stats.Percentile(v, 0.1))} | {prototype} | {Ratio(Stats.Median(v))} | {Ratio(Stats.Percentile(v, 0.1))} |");
        }
        Headline("pass_router_us", "–", 0);
        Headline("pass_total_us", "≈ 18 (15–19)", PrototypePassUs);
        Headline("ret_total_us", "12–13", PrototypeReturnUs);
        Headline("round_trip_us", "35–40", PrototypeRoundTripUs);
        Headline("serve_us", "–", 0);
        Headline("cycle_us", "–", 0);
        sb.AppendLine();
        sb.AppendLine("p10 is there because the distributions are long-tailed on this machine: it is close to what a cycle costs when little else wants the two cores.");
        sb.AppendLine();

        sb.AppendLine("## Every step (µs)");
        sb.AppendLine();
        sb.AppendLine("| step | p10 | median | mean | p99 | max |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var c in t.Columns)
        {
            var v = t.Sorted(c);
            sb.AppendLine($"| {Labels.GetValueOrDefault(c, c)} | {Us(Stats.Percentile(v, 0.1))} | {Us(Stats.Median(v))} | {Us(v.Average())} | {Us(Stats.P99(v))} | {Us(v[^1])} |");
        }
        sb.AppendLine();

        sb.AppendLine("## Client view and router CPU");
        sb.AppendLine();
        sb.AppendLine(routed is null ? "| measure | local (/be1, /be2) |" : "| measure | local (/be1, /be2) | router-served (/router, reference) |");
        sb.AppendLine(routed is null ? "|---|---:|" : "|---|---:|---:|");
        void Row(string name, Func<Phase, string> f) =>
            sb.AppendLine(routed is null ? $"| {name} | {f(local)} |" : $"| {name} | {f(local)} | {f(routed)} |");
        Row("requests", p => p.Requests.ToString(CultureInfo.InvariantCulture));
        Row("requests/s (all connections)", p => (p.Requests / p.Wall.TotalSeconds).ToString("F0", CultureInfo.InvariantCulture));
        Row("client latency median (µs)", p => Us(Stats.Median(p.SortedLatencyUs)));
        Row("client latency p99 (µs)", p => Us(Stats.P99(p.SortedLatencyUs)));
        Row("client latency max (µs)", p => Us(p.SortedLatencyUs[^1]));
        Row("**router CPU per request** (µs, utime+stime)", p => Us(p.RouterCpuUsPerRequest));
        Row("router CPU ticks in the phase (resolution)", p => $"{p.RouterTicks} × {1_000_000 / ProcStat.TicksPerSecond} µs");
        Row("router CPU by thread, top 3 (µs per request)", p => string.Join(", ", p.RouterThreadTicks.OrderByDescending(kv => kv.Value).Take(3)
            .Select(kv => $"{kv.Key.Replace("|", "/", StringComparison.Ordinal)} {Us(ProcStat.Microseconds(kv.Value) / p.Requests)}")));
        Row("workers' CPU per request (µs, be1..be3 summed)", p => Us(p.WorkerCpuUsPerRequest));
        Row("router on-CPU per request (µs, schedstat, ns resolution, live threads)", p => Us(p.Router.RunNs / 1000.0 / p.Requests));
        Row("router runnable but waiting for a CPU, per request (µs, schedstat)", p => Us(p.Router.WaitNs / 1000.0 / p.Requests));
        Row("workers runnable but waiting for a CPU, per request (µs, schedstat)", p => Us(p.Workers.WaitNs / 1000.0 / p.Requests));
        sb.AppendLine();
        sb.AppendLine("Thread names are as the kernel keeps them (15 characters): `.NET TP Worker` is the thread pool, `baton-worker-be` the router's link threads (one per worker, blocking reads), " +
            "`.NET Sockets` the socket engine's epoll thread.");
        sb.AppendLine();

        static string Threads(Idle i) => i.ByThread.Count == 0 ? "no thread ran a tick"
            : string.Join(", ", i.ByThread.OrderByDescending(kv => kv.Value).Take(3).Select(kv => $"{kv.Key} {Us(kv.Value)}"));
        sb.AppendLine($"Router CPU while idle (connections open, no requests, 2 s): {Us(idle.Before.UsPerSecond)} µs/s after the warm-up ({Threads(idle.Before)}), " +
            $"{Us(idle.After.UsPerSecond)} µs/s after the measured blocks ({Threads(idle.After)}).");
        sb.AppendLine();

        sb.AppendLine("## Reading");
        sb.AppendLine();
        double pass = median["pass_total_us"], ret = median["ret_total_us"], rt = median["round_trip_us"];
        double P10(string c) => Stats.Percentile(t.Sorted(c), 0.1);
        sb.AppendLine($"- Pass median {Us(pass)} µs = **{pass / PrototypePassUs:F2}×** the prototype's ≈ 18 µs; return {Us(ret)} µs = **{ret / PrototypeReturnUs:F2}×** its 12–13 µs; " +
            $"round trip {Us(rt)} µs = **{rt / PrototypeRoundTripUs:F2}×** its 35–40 µs (below 1 is faster). At p10: pass {Us(P10("pass_total_us"))}, return {Us(P10("ret_total_us"))}, " +
            $"round trip {Us(P10("round_trip_us"))} µs ({P10("round_trip_us") / PrototypeRoundTripUs:F2}×). The router's own share of the pass (start → sent) is {Us(median["pass_router_us"])} µs at the median.");
        // The parts that add up to the round trip, row by row: the pass is prepare + sendmsg + (the rest
        // until the worker holds it); the return is link + adopt + wake. Means add up, medians do not.
        int Col(string c) => Array.IndexOf(t.Columns, c);
        var parts = new (string Name, double[] Values)[]
        {
            ("pass: prepare", t.Sorted("pass_prepare_us")),
            ("pass: sendmsg", t.Sorted("pass_send_us")),
            ("pass: the worker wakes, receives and adopts the fd", [.. t.Rows.Select(r => r[Col("pass_worker_us")] - r[Col("pass_send_us")]).Order()]),
            ("return: worker sendmsg → router's link thread has it", t.Sorted("ret_link_us")),
            ("return: adopt", t.Sorted("ret_adopt_us")),
            ("return: thread-pool hop to the transfer", t.Sorted("ret_wake_us")),
        };
        double sum = parts.Sum(p => p.Values.Average());
        sb.AppendLine($"- What dominates the round trip (mean {Us(sum)} µs; each part's mean, its share, and its median): " +
            string.Join("; ", parts.OrderByDescending(p => p.Values.Average()).Select(p => $"{p.Name} {Us(p.Values.Average())} ({100 * p.Values.Average() / sum:F0}%, median {Us(Stats.Median(p.Values))})")) + ".");
        sb.AppendLine($"- The return is long-tailed: p25 {Us(Stats.Percentile(t.Sorted("ret_total_us"), 0.25))}, median {Us(ret)}, p75 {Us(Stats.Percentile(t.Sorted("ret_total_us"), 0.75))}, p99 {Us(Stats.P99(t.Sorted("ret_total_us")))} µs. " +
            "Each step is fixed work (a sendmsg/recvmsg, a handful of syscalls to adopt the fd, a thread-pool dispatch), so the spread is time off-CPU: " +
            "the client reading its response, the worker closing its copy and the router's link thread are runnable at once on 2 cores, next to other tenants. " +
            $"Per local request the router's threads spent {Us(local.Router.WaitNs / 1000.0 / local.Requests)} µs and the workers' {Us(local.Workers.WaitNs / 1000.0 / local.Requests)} µs runnable but waiting for a CPU " +
            "(schedstat, summed over threads, so more than the wall time when several wait at once). " +
            "And a sendmsg that wakes the peer's blocked reader may be preempted by it, so a step can include the other process's run.");
        sb.AppendLine($"- The worker's transaction (parse, application, response write) takes {Us(median["serve_us"])} µs of the {Us(median["cycle_us"])} µs cycle the router sees.");
        if (routed is not null && routed.RouterCpuUsPerRequest > 0)
        {
            double l = Stats.Median(local.SortedLatencyUs), r = Stats.Median(routed.SortedLatencyUs);
            sb.AppendLine($"- Router CPU per local request {Us(local.RouterCpuUsPerRequest)} µs vs {Us(routed.RouterCpuUsPerRequest)} µs for a request it serves itself " +
                $"({local.RouterCpuUsPerRequest / routed.RouterCpuUsPerRequest:F2}×). A local request's response is parsed, made and written by the worker, not the router: " +
                $"the workers add {Us(local.WorkerCpuUsPerRequest)} µs, so the host spends {Us(local.RouterCpuUsPerRequest + local.WorkerCpuUsPerRequest)} µs per local request " +
                $"({(local.RouterCpuUsPerRequest + local.WorkerCpuUsPerRequest) / routed.RouterCpuUsPerRequest:F2}× the router-served one).");
            sb.AppendLine($"- Client latency median {Us(l)} µs local vs {Us(r)} µs router-served: going through a worker costs {Us(Math.Abs(l - r))} µs {(l >= r ? "more" : "less")} at the median " +
                $"(p99 {Us(Stats.P99(local.SortedLatencyUs))} vs {Us(Stats.P99(routed.SortedLatencyUs))} µs). " +
                "Less than the round trip, because the client does not wait for the return: the worker writes the response before it passes the socket back, " +
                "so only the pass and the transaction are on the client's path, and the return runs while the client reads the response and sends its next request " +
                "(which waits in the socket's receive queue when the return takes longer).");
        }
        sb.AppendLine($"- CPU figures come from /proc/PID/stat in {1_000_000 / ProcStat.TicksPerSecond} µs ticks: with {local.RouterTicks} ticks in the local phase one tick is {100.0 / Math.Max(1, local.RouterTicks):F1}% of the local phase's figure.");
        return sb.ToString();
    }

    private static string Us(double v) => Math.Abs(v) >= 100 ? v.ToString("F0", CultureInfo.InvariantCulture) : v.ToString("F1", CultureInfo.InvariantCulture);
}
