using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using Baton.Bench;
using Baton.Lab;
using Baton.Modes.Handoff.Router;

// Hand-off benchmark: a namespace cluster with real router and agent processes, N hand-off+return
// cycles over a few keep-alive connections, the router's own per-step timings (--timings CSV),
// client-side latency and the router's CPU time per request, next to router-local requests.
// Usage: dotnet Baton.Bench.dll [--cycles 2000] [--connections 4] [--warmup 3000] [--local N] [--out FILE] [--commit REV]

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

BenchOptions opts;
try
{
    opts = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"bench: {e.Message}");
    Console.Error.WriteLine(BenchOptions.Usage);
    return 64;
}

if (!Netns.IsRoot)
{
    Console.Error.WriteLine("bench needs root: it builds network namespaces (btbench-*) and moves TCP connections with TCP_REPAIR (CAP_NET_ADMIN); run it as root: bench/run.sh");
    return 2;
}

// Ctrl-C or SIGTERM: stop driving requests and fall through the lab's teardown (processes, namespaces).
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; HandoffBench.Stop.Cancel(); });
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; HandoffBench.Stop.Cancel(); });
try
{
    return await HandoffBench.RunAsync(opts);
}
catch (OperationCanceledException) when (HandoffBench.Stop.IsCancellationRequested)
{
    Console.Error.WriteLine("bench interrupted; cluster torn down");
    return 130;
}
catch (Exception e) when (e is InvalidOperationException or IOException or System.Net.Sockets.SocketException or TimeoutException or OperationCanceledException)
{
    Console.Error.WriteLine($"bench failed: {e.Message}");
    return 1;
}
finally
{
    // The lab deletes its namespaces; this only catches what a crash in the middle left behind.
    NetnsCluster.RemoveStale(HandoffBench.Prefix);
}

namespace Baton.Bench
{
    internal sealed record BenchOptions(int Cycles, int Connections, int Warmup, int Local, string? Out, string? Commit)
    {
        public const string Usage = "usage: Baton.Bench [--cycles N (2000)] [--connections N (4)] [--warmup N (3000)] [--local N (=cycles)] [--out FILE] [--commit REV]";

        public static BenchOptions Parse(string[] args)
        {
            // 3000, not the 500 used until 2026-12-01: after 500 the tiered JIT was still recompiling
            // hot methods during the measured phase (its thread was half the router's CPU, 310 of
            // 585 µs per request, and the agents' CPU 780 vs 350 µs after 3000), so the numbers
            // described start-up, not a router that has run for a while.
            int cycles = 2000, connections = 4, warmup = 3000;
            int? local = null;
            string? output = null, commit = null;
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                int Int(int min)
                {
                    string name = args[i];
                    return int.TryParse(Next(), NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= min
                        ? v : throw new ArgumentException($"{name} needs an integer ≥ {min}");
                }
                switch (args[i])
                {
                    case "--cycles": cycles = Int(1); break;
                    case "--connections": connections = Int(1); break;
                    case "--warmup": warmup = Int(0); break;
                    case "--local": local = Int(0); break;
                    case "--out": output = Next(); break;
                    case "--commit": commit = Next(); break;
                    case "-h" or "--help": throw new ArgumentException("help");
                    default: throw new ArgumentException($"unknown argument '{args[i]}'");
                }
            }
            return new BenchOptions(cycles, Math.Min(connections, cycles), warmup, local ?? cycles, output, commit);
        }
    }

    internal static class HandoffBench
    {
        public const string Prefix = "btbench";
        private const int Subnet = 9;

        /// <summary>The Python prototype's figures (DESIGN.md §8), µs.</summary>
        private const double PrototypeHandoffUs = 290, PrototypeReturnUs = 270;

        /// <summary>Cancelled on Ctrl-C / SIGTERM.</summary>
        public static readonly CancellationTokenSource Stop = new();

        // The numeric columns; the last one, path, says how the connection came and went.
        private static readonly string[] Columns = HandoffTimings.CsvHeader.Split(',')[..^1];

        private static readonly Dictionary<string, string> ColumnLabels = new()
        {
            ["block_us"] = "hand-off: block (steer → drop)",
            ["dump_us"] = "hand-off: dump (TCP_REPAIR) and close",
            ["control_rtt_us"] = "hand-off: control round trip (Handoff → Ready, agent restores)",
            ["steer_us"] = "hand-off: steer → forward",
            ["go_us"] = "hand-off: send Go",
            ["handoff_total_us"] = "**hand-off total**",
            ["ret_block_us"] = "return: block (on ReturnRequest)",
            ["ret_rtt_us"] = "return: Freeze → Returned round trip (agent dumps)",
            ["restore_us"] = "return: restore (TCP_REPAIR)",
            ["ret_clear_us"] = "return: clear steering entry",
            ["activate_us"] = "return: activate (repair off)",
            ["return_total_us"] = "**return total**",
        };

        public static async Task<int> RunAsync(BenchOptions o)
        {
            string csv = Path.Combine(Path.GetTempPath(), $"btbench-timings-{Environment.ProcessId}.csv");
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

        private static async Task<int> RunLabAsync(BenchOptions o, string csv)
        {
            Console.WriteLine($"building namespace cluster {Prefix}-* (10.77.{Subnet}.0/24), starting router and agents ...");
            // Every request comes back (no stay, no pass) until the pass phase at the end: the
            // phases before it measure the hand-off + return cycle.
            await using var lab = await BatonLab.StartAsync(Prefix, Subnet, TimeSpan.FromSeconds(120), echo: null, routerArgs: ["--timings", csv],
                configure: c => c["Baton"]!["SameTargetShortcut"] = false).ConfigureAwait(false);
            int pid = lab.Router.Pid;
            string clientNs = lab.Net.Ns("client");
            Console.WriteLine($"router pid {pid}; agents {string.Join(", ", lab.Agents.Select(a => $"{a.Key} pid {a.Value.Pid}"))}");

            var clients = new List<RawClient>();
            try
            {
                await ConnectAsync(lab, clients, o.Connections).ConfigureAwait(false);

                // Warm-up: JIT, agent links, nftables context, both hand-off and local paths.
                Console.WriteLine($"warm-up: {o.Warmup} hand-off requests and {Math.Min(o.Warmup, 50)} router-local requests on {o.Connections} connections ...");
                await DriveAsync(clients, o.Warmup, HandoffPath).ConfigureAwait(false);
                await DriveAsync(clients, Math.Min(o.Warmup, 50), LocalPath).ConfigureAwait(false);
                await Task.Delay(300, Stop.Token).ConfigureAwait(false); // let the last returns complete: their CSV lines belong to the warm-up
                double idleBefore = await IdleCpuAsync(pid, TimeSpan.FromSeconds(1)).ConfigureAwait(false);

                // Measured hand-off phase.
                Console.WriteLine($"measuring {o.Cycles} hand-off+return cycles (/be1/ and /be2/ alternating) ...");
                long retrans0 = Netns.SnmpCounter(clientNs, "Tcp", "RetransSegs");
                long resets0 = Netns.SnmpCounter(clientNs, "Tcp", "EstabResets");
                var handoff = await MeasureAsync(clients, lab, o.Cycles, HandoffPath).ConfigureAwait(false);
                handoff.Retransmits = Netns.SnmpCounter(clientNs, "Tcp", "RetransSegs") - retrans0;
                handoff.Resets = Netns.SnmpCounter(clientNs, "Tcp", "EstabResets") - resets0;
                await Task.Delay(300, Stop.Token).ConfigureAwait(false);

                // Measured router-local phase, for reference.
                PhaseResult? local = null;
                if (o.Local > 0)
                {
                    Console.WriteLine($"measuring {o.Local} router-local requests (/router/x) ...");
                    retrans0 = Netns.SnmpCounter(clientNs, "Tcp", "RetransSegs");
                    resets0 = Netns.SnmpCounter(clientNs, "Tcp", "EstabResets");
                    local = await MeasureAsync(clients, lab, o.Local, LocalPath).ConfigureAwait(false);
                    local.Retransmits = Netns.SnmpCounter(clientNs, "Tcp", "RetransSegs") - retrans0;
                    local.Resets = Netns.SnmpCounter(clientNs, "Tcp", "EstabResets") - resets0;
                }

                // Pipelining clients: two requests written back to back, so the second often
                // arrives while the first one's hand-off (or the return before it) has the
                // connection frozen: what the hold queue is for.
                Console.WriteLine($"measuring {o.Cycles} pipelined hand-off requests (2 in flight per connection) ...");
                var pipelined = await MeasureClientAsync(clients, clientNs, () => DrivePipelinedAsync(clients, o.Cycles)).ConfigureAwait(false);

                double idleAfter = await IdleCpuAsync(pid, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                foreach (var c in clients) c.Close();
                clients.Clear();

                // SIGTERM: the router writes its timings file on the way out.
                lab.Router.Stop(TimeSpan.FromSeconds(15));
                if (!File.Exists(csv))
                    throw new InvalidOperationException($"router wrote no timings file (exit code {(lab.Router.HasExited ? lab.Router.ExitCode.ToString(CultureInfo.InvariantCulture) : "?")}):\n{lab.Router.Output}");
                var (paths, skipped) = ReadTimings(csv, o.Warmup);
                var rows = paths.GetValueOrDefault(CyclePath, []);
                if (rows.Count == 0) throw new InvalidOperationException($"timings file has no measured cycles ({skipped} warm-up lines)");

                // The router says so only when it falls back (event 114); eBPF is the default.
                string steering = lab.Router.Output.Contains("flow steering with nftables", StringComparison.Ordinal) ? "nftables steering (eBPF did not load)" : "eBPF steering (tc ingress)";
                // The same two workloads on a router with Baton:HoldQueue off: frozen packets dropped.
                Console.WriteLine("restarting the router with Baton:HoldQueue false (frozen packets dropped) ...");
                var config = JsonNode.Parse(File.ReadAllText(lab.ConfigFile))!;
                config["Baton"]!["HoldQueue"] = false;
                File.WriteAllText(lab.ConfigFile, config.ToJsonString());
                await lab.StartRouterAsync().ConfigureAwait(false);
                await ConnectAsync(lab, clients, o.Connections).ConfigureAwait(false);
                await DriveAsync(clients, Math.Min(o.Warmup, 200), HandoffPath).ConfigureAwait(false);
                Console.WriteLine($"measuring {o.Cycles} hand-off+return cycles and {o.Cycles} pipelined requests without the hold queue ...");
                var dropSequential = await MeasureClientAsync(clients, clientNs, () => DriveAsync(clients, o.Cycles, HandoffPath)).ConfigureAwait(false);
                var dropPipelined = await MeasureClientAsync(clients, clientNs, () => DrivePipelinedAsync(clients, o.Cycles)).ConfigureAwait(false);
                foreach (var c in clients) c.Close();
                clients.Clear();
                lab.Router.Stop(TimeSpan.FromSeconds(15));

                // The sequential hand-off phase once more on a router steering with nftables (the
                // fallback; no hold queue there, as in the phase above), warmed up the same way: the
                // router's cost per cycle with each steering, side by side.
                Console.WriteLine("restarting the router with Baton:Steering nftables ...");
                config["Baton"]!["Steering"] = "nftables";
                File.WriteAllText(lab.ConfigFile, config.ToJsonString());
                var (nft, nftPaths) = await TimedPhaseAsync(lab, clients, o, csv + ".nft", "hand-off+return cycles with nftables steering").ConfigureAwait(false);
                var nftRows = nftPaths.GetValueOrDefault(CyclePath, []);

                // The sequential hand-off workload once more on the default router (eBPF, hold queue,
                // same-target shortcut): each next request is at the agent when the transaction
                // ends and goes to the other back-end, so the connection passes from agent to agent.
                Console.WriteLine("restarting the router with its defaults (same-target shortcut on) ...");
                config["Baton"]!.AsObject().Remove("Steering");
                config["Baton"]!["HoldQueue"] = true;
                config["Baton"]!["SameTargetShortcut"] = true;
                File.WriteAllText(lab.ConfigFile, config.ToJsonString());
                var (pass, passPaths) = await TimedPhaseAsync(lab, clients, o, csv + ".pass", "requests passed from agent to agent").ConfigureAwait(false);
                var passRows = passPaths.GetValueOrDefault("pass>pass", []);
                int returned = passPaths.Where(p => p.Key.EndsWith(">return", StringComparison.Ordinal)).Sum(p => p.Value.Count);

                string md = Report(o, rows, skipped, handoff, local, (idleBefore, idleAfter), steering)
                    + SteeringReport(rows, handoff, nftRows, nft)
                    + HoldReport(handoff, pipelined, dropSequential, dropPipelined)
                    + PassReport(rows, handoff, passRows, pass, returned);
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
                if (!lab.Router.HasExited) lab.Router.Stop(TimeSpan.FromSeconds(5));
                Console.Error.WriteLine("router output:\n" + Tail(lab.Router.Output, 40));
                foreach (var (name, a) in lab.Agents) Console.Error.WriteLine($"agent {name} output:\n" + Tail(a.Output, 20));
                throw;
            }
            finally
            {
                foreach (var c in clients) c.Close();
            }
        }

        /// <summary>
        /// Pairs of requests written back to back on each connection (the second without waiting for
        /// the first's response), then both responses read; each latency is from its pair's write.
        /// </summary>
        private static async Task<double[]> DrivePipelinedAsync(List<RawClient> clients, int total)
        {
            var tasks = new Task<double[]>[clients.Count];
            for (int c = 0; c < clients.Count; c++)
            {
                int conn = c;
                int pairs = (total / clients.Count + (c < total % clients.Count ? 1 : 0) + 1) / 2;
                tasks[c] = Task.Run(async () =>
                {
                    var lat = new double[pairs * 2];
                    for (int i = 0; i < pairs; i++)
                    {
                        string p1 = HandoffPath(conn, 2 * i), p2 = HandoffPath(conn, 2 * i + 1);
                        long t0 = Stopwatch.GetTimestamp();
                        await clients[conn].SendGetAsync(p1, Stop.Token).ConfigureAwait(false);
                        await clients[conn].SendGetAsync(p2, Stop.Token).ConfigureAwait(false);
                        foreach (var (p, k) in new[] { (p1, 0), (p2, 1) })
                        {
                            var r = await clients[conn].ReadResponseAsync(p, Stop.Token).ConfigureAwait(false);
                            lat[2 * i + k] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                            if (r.Status != 200 || r.Host != p.Split('/')[1])
                                throw new InvalidOperationException($"pipelined GET {p} on connection {conn}: {r.Status} from '{r.Host}'");
                        }
                    }
                    return lat;
                });
            }
            return (await Task.WhenAll(tasks).ConfigureAwait(false)).SelectMany(x => x).ToArray();
        }

        /// <summary>Client-side figures only (latency, retransmissions, resets) of one driven phase.</summary>
        private static async Task<PhaseResult> MeasureClientAsync(List<RawClient> clients, string clientNs, Func<Task<double[]>> drive)
        {
            long retrans0 = Netns.SnmpCounter(clientNs, "Tcp", "RetransSegs");
            long resets0 = Netns.SnmpCounter(clientNs, "Tcp", "EstabResets");
            long t0 = Stopwatch.GetTimestamp();
            var lat = await drive().ConfigureAwait(false);
            var wall = Stopwatch.GetElapsedTime(t0);
            Array.Sort(lat);
            return new PhaseResult(lat.Length, lat, wall, 0)
            {
                Retransmits = Netns.SnmpCounter(clientNs, "Tcp", "RetransSegs") - retrans0,
                Resets = Netns.SnmpCounter(clientNs, "Tcp", "EstabResets") - resets0,
            };
        }

        /// <summary>Opens <paramref name="count"/> keep-alive client connections to the router.</summary>
        private static async Task ConnectAsync(BatonLab lab, List<RawClient> clients, int count)
        {
            for (int c = 0; c < count; c++)
                clients.Add(new RawClient(await lab.ConnectClientAsync().ConfigureAwait(false)));
        }

        private static int Col(string name) => Array.IndexOf(Columns, name);

        /// <summary>Router time of one cycle: hand-off plus return.</summary>
        private static double CycleTotal(double[] r) => r[Col("handoff_total_us")] + r[Col("return_total_us")];

        /// <summary>
        /// The same cycle without the two waits on the agent (its wake-up, restore or dump, and
        /// reply): what the router itself spends on the connection's steps.
        /// </summary>
        private static double OwnSteps(double[] r) => CycleTotal(r) - r[Col("control_rtt_us")] - r[Col("ret_rtt_us")];

        private static double[] Sorted(IEnumerable<double> values)
        {
            var v = values.ToArray();
            Array.Sort(v);
            return v;
        }

        /// <summary>Per-cycle router time with eBPF and with nftables steering, medians, and the phases' CPU.</summary>
        private static string SteeringReport(List<double[]> bpfRows, PhaseResult bpf, List<double[]> nftRows, PhaseResult nft)
        {
            int Col(string name) => Array.IndexOf(Columns, name);
            double Median(List<double[]> rows, Func<double[], double> f) => Stats.Median(Sorted(rows.Select(f)));
            double Steering(double[] r) => r[Col("block_us")] + r[Col("steer_us")] + r[Col("ret_block_us")] + r[Col("ret_clear_us")];
            var sb = new StringBuilder();
            sb.AppendLine();
            sb.AppendLine("## eBPF vs nftables steering (router per cycle, same run)");
            sb.AppendLine();
            sb.AppendLine($"The sequential hand-off phase above, then again on a router restarted with `Baton:Steering: nftables` and warmed up the same way ({nftRows.Count} cycles measured). Medians of the per-cycle sums, µs.");
            sb.AppendLine();
            sb.AppendLine("| measure | eBPF | nftables | eBPF ÷ nftables |");
            sb.AppendLine("|---|---:|---:|---:|");
            void Row(string label, double b, double n) => sb.AppendLine($"| {label} | {Us(b)} | {Us(n)} | {b / n:F2} |");
            Row("the 4 steering changes of a cycle", Median(bpfRows, Steering), Median(nftRows, Steering));
            Row("the router's own steps per cycle (without the two round trips)", Median(bpfRows, OwnSteps), Median(nftRows, OwnSteps));
            Row("**hand-off + return (router wall time per cycle)**", Median(bpfRows, CycleTotal), Median(nftRows, CycleTotal));
            Row("router CPU per request (utime+stime)", bpf.CpuUsPerRequest, nft.CpuUsPerRequest);
            Row("client latency median", Stats.Percentile(bpf.LatencyUs, 0.5), Stats.Percentile(nft.LatencyUs, 0.5));
            sb.AppendLine($"| requests/s (all connections) | {bpf.Requests / bpf.Wall.TotalSeconds:F0} | {nft.Requests / nft.Wall.TotalSeconds:F0} | |");
            return sb.ToString();
        }

        /// <summary>The alternating workload with every request coming back, and with the connection passed from agent to agent.</summary>
        private static string PassReport(List<double[]> cycleRows, PhaseResult cycles, List<double[]> passRows, PhaseResult pass, int returned)
        {
            double Median(List<double[]> rows, Func<double[], double> f) => rows.Count == 0 ? double.NaN : Stats.Median(Sorted(rows.Select(f)));
            var sb = new StringBuilder();
            sb.AppendLine();
            sb.AppendLine("## Return + hand-off vs pass (alternating back-ends, same run)");
            sb.AppendLine();
            sb.AppendLine("The sequential hand-off workload of the first phase (`/be1/`, `/be2/` alternating: every request goes to the other back-end) on the router's defaults: " +
                "the same-target shortcut on, so the agent reports the next request's head, the router routes it, and the connection goes from the agent's " +
                "dump straight to the other agent's restore (a pass): no restore, read, parse, block, dump and close at the router. " +
                $"Router time per request: there, a return and the next hand-off (one cycle); here, the pass (block and Freeze → Returned at the old agent, " +
                $"Handoff → Ready, steer and Go at the new one). {passRows.Count} passes measured; {returned} connections came back instead (the next request not yet at the agent). Medians, µs.");
            sb.AppendLine();
            sb.AppendLine("| measure | return + hand-off | pass | pass ÷ return + hand-off |");
            sb.AppendLine("|---|---:|---:|---:|");
            void Row(string label, double c, double p) => sb.AppendLine($"| {label} | {Us(c)} | {Us(p)} | {p / c:F2} |");
            Row("the router's own steps per request (without the two round trips)", Median(cycleRows, OwnSteps), Median(passRows, OwnSteps));
            Row("**router wall time per request**", Median(cycleRows, CycleTotal), Median(passRows, CycleTotal));
            Row("router CPU per request (utime+stime)", cycles.CpuUsPerRequest, pass.CpuUsPerRequest);
            Row("agents' CPU per request (be1..be3 summed)", cycles.AgentTicks * 1_000_000.0 / ProcStat.TicksPerSecond / cycles.Requests, pass.AgentTicks * 1_000_000.0 / ProcStat.TicksPerSecond / pass.Requests);
            Row("client latency median", Stats.Percentile(cycles.LatencyUs, 0.5), Stats.Percentile(pass.LatencyUs, 0.5));
            Row("client latency p99", Stats.Percentile(cycles.LatencyUs, 0.99), Stats.Percentile(pass.LatencyUs, 0.99));
            sb.AppendLine($"| requests/s (all connections) | {cycles.Requests / cycles.Wall.TotalSeconds:F0} | {pass.Requests / pass.Wall.TotalSeconds:F0} | |");
            return sb.ToString();
        }

        private static string HoldReport(PhaseResult holdSequential, PhaseResult holdPipelined, PhaseResult dropSequential, PhaseResult dropPipelined)
        {
            var sb = new StringBuilder();
            sb.AppendLine();
            sb.AppendLine("## Hold queue vs drop (client view, same run)");
            sb.AppendLine();
            sb.AppendLine("The same hand-off workloads on the router above (`Baton:HoldQueue` on, the default with eBPF steering: packets of a connection frozen in transit are kept " +
                "and replayed when it lands) and then on a router restarted with `Baton:HoldQueue: false` (they are dropped and the client resends them after its RTO). " +
                "Sequential: one request at a time per connection. Pipelined: two requests written back to back per connection, latency of each from the pair's write.");
            sb.AppendLine();
            sb.AppendLine("| measure | sequential, hold | sequential, drop | pipelined, hold | pipelined, drop |");
            sb.AppendLine("|---|---:|---:|---:|---:|");
            PhaseResult[] cols = [holdSequential, dropSequential, holdPipelined, dropPipelined];
            void Row(string name, Func<PhaseResult, string> f) => sb.AppendLine($"| {name} | {string.Join(" | ", cols.Select(f))} |");
            Row("requests", p => p.Requests.ToString(CultureInfo.InvariantCulture));
            Row("requests/s (all connections)", p => (p.Requests / p.Wall.TotalSeconds).ToString("F0", CultureInfo.InvariantCulture));
            Row("client latency median (µs)", p => Us(Stats.Percentile(p.LatencyUs, 0.5)));
            Row("client latency p99 (µs)", p => Us(Stats.Percentile(p.LatencyUs, 0.99)));
            Row("client latency p99.9 (µs)", p => Us(Stats.Percentile(p.LatencyUs, 0.999)));
            Row("client latency max (µs)", p => Us(p.LatencyUs[^1]));
            Row("requests over 200 ms (an RTO)", p => p.LatencyUs.Count(l => l >= 200_000).ToString(CultureInfo.InvariantCulture));
            Row("client TCP retransmitted segments", p => p.Retransmits.ToString(CultureInfo.InvariantCulture));
            Row("client TCP resets", p => p.Resets.ToString(CultureInfo.InvariantCulture));
            return sb.ToString();
        }

        private static string HandoffPath(int connection, int i) => (connection + i) % 2 == 0 ? "/be1/x" : "/be2/x";

        private static string LocalPath(int connection, int i) => "/router/x";

        private static Task<double[]> DriveAsync(List<RawClient> clients, int total, Func<int, int, string> path) =>
            RequestDriver.DriveAsync(clients, total, path, Stop.Token);

        private static async Task<PhaseResult> MeasureAsync(List<RawClient> clients, BatonLab lab, int total, Func<int, int, string> path)
        {
            int pid = lab.Router.Pid;
            var agentPids = lab.Agents.Values.Select(a => a.Pid).ToArray();
            var threads0 = ProcStat.ThreadTicks(pid);
            long agents0 = agentPids.Sum(ProcStat.CpuTicks);
            var cpu0 = ProcStat.CpuTicks(pid);
            long t0 = Stopwatch.GetTimestamp();
            var lat = await DriveAsync(clients, total, path).ConfigureAwait(false);
            var wall = Stopwatch.GetElapsedTime(t0);
            var cpu1 = ProcStat.CpuTicks(pid);
            long agents1 = agentPids.Sum(ProcStat.CpuTicks);
            var threads1 = ProcStat.ThreadTicks(pid);
            Array.Sort(lat);
            // Per thread name (.NET names its threads: ".NET TP Worker", ".NET Sockets", ...); threads that
            // exited during the phase are missing from the second reading and so from this breakdown.
            var byName = new Dictionary<string, long>();
            foreach (var (tid, (name, ticks)) in threads1)
            {
                long d = ticks - (threads0.TryGetValue(tid, out var before) ? before.Ticks : 0);
                if (d > 0) byName[name] = byName.GetValueOrDefault(name) + d;
            }
            return new PhaseResult(total, lat, wall, cpu1 - cpu0) { AgentTicks = agents1 - agents0, ThreadTicks = byName };
        }

        /// <summary>Router CPU while nothing happens, in µs per second, so the per-request figures can be judged.</summary>
        private static async Task<double> IdleCpuAsync(int pid, TimeSpan span)
        {
            long c0 = ProcStat.CpuTicks(pid);
            long t0 = Stopwatch.GetTimestamp();
            await Task.Delay(span, Stop.Token).ConfigureAwait(false);
            long c1 = ProcStat.CpuTicks(pid);
            return (c1 - c0) * 1_000_000.0 / ProcStat.TicksPerSecond / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }

        /// <summary>The path of a connection that was handed off and came back (no stay, no pass).</summary>
        private const string CyclePath = "handoff>return";

        /// <summary>
        /// The timing lines after the first <paramref name="skip"/> (the warm-up's), by how the
        /// connection came and went (handoff or pass, &gt;, return or pass).
        /// </summary>
        private static (Dictionary<string, List<double[]>> ByPath, int Skipped) ReadTimings(string file, int skip)
        {
            var lines = File.ReadAllLines(file);
            if (lines.Length == 0 || lines[0].Trim() != HandoffTimings.CsvHeader)
                throw new InvalidOperationException($"unexpected timings header: '{(lines.Length > 0 ? lines[0] : "")}' (expected '{HandoffTimings.CsvHeader}')");
            var byPath = new Dictionary<string, List<double[]>>();
            int skipped = 0;
            foreach (var line in lines.Skip(1))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                if (skipped < skip) { skipped++; continue; }
                var f = line.Split(',');
                if (f.Length != Columns.Length + 1) throw new InvalidOperationException($"bad timings line: {line}");
                if (!byPath.TryGetValue(f[^1], out var rows)) byPath[f[^1]] = rows = [];
                rows.Add(f[..^1].Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray());
            }
            return (byPath, skipped);
        }

        /// <summary>
        /// One sequential hand-off phase on a router restarted (with its configuration as the file
        /// has it now) to write its timings to <paramref name="csv"/>: warmed up like the first
        /// phase, measured, stopped; its timing lines after the warm-up's, by path.
        /// </summary>
        private static async Task<(PhaseResult Phase, Dictionary<string, List<double[]>> ByPath)> TimedPhaseAsync(
            BatonLab lab, List<RawClient> clients, BenchOptions o, string csv, string what)
        {
            File.Delete(csv);
            await lab.StartRouterAsync("--timings", csv).ConfigureAwait(false);
            try
            {
                await ConnectAsync(lab, clients, o.Connections).ConfigureAwait(false);
                await DriveAsync(clients, o.Warmup, HandoffPath).ConfigureAwait(false);
                await Task.Delay(300, Stop.Token).ConfigureAwait(false);
                Console.WriteLine($"measuring {o.Cycles} {what} ...");
                var phase = await MeasureAsync(clients, lab, o.Cycles, HandoffPath).ConfigureAwait(false);
                foreach (var c in clients) c.Close();
                clients.Clear();
                lab.Router.Stop(TimeSpan.FromSeconds(15));
                if (!File.Exists(csv)) throw new InvalidOperationException($"router wrote no timings file ({what}):\n{lab.Router.Output}");
                return (phase, ReadTimings(csv, o.Warmup).ByPath);
            }
            finally
            {
                File.Delete(csv);
            }
        }

        private static string Report(BenchOptions o, List<double[]> rows, int skipped, PhaseResult handoff, PhaseResult? local, (double Before, double After) idle, string steering)
        {
            var sb = new StringBuilder();
            string kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : "?";
            sb.AppendLine("# Baton hand-off benchmark");
            sb.AppendLine();
            sb.AppendLine($"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC · commit {o.Commit ?? "?"} · kernel {kernel} · {Environment.ProcessorCount} cores · .NET {Environment.Version} · " +
                $"namespace cluster {Prefix}-* (router, be1..be3, client on one bridge), {steering}");
            sb.AppendLine();
            sb.AppendLine($"Workload: `GET /be1/x` and `GET /be2/x` alternating on {o.Connections} keep-alive connections (raw sockets in the client namespace), " +
                $"each request a hand-off to the back-end and a return to the router (`Baton:SameTargetShortcut` off until the last section); tiny responses (~60 B body). " +
                $"{o.Warmup} warm-up hand-offs run first and their {skipped} timing lines are dropped. Median and p99 of {rows.Count} cycles; " +
                "the machine is small and shared, so read medians and treat p99 as noise-sensitive.");
            sb.AppendLine();
            sb.AppendLine("## Router-side steps (µs, from `baton router --timings`)");
            sb.AppendLine();
            sb.AppendLine("| step | median | p99 | max |");
            sb.AppendLine("|---|---:|---:|---:|");
            var medians = new Dictionary<string, double>();
            var p99s = new Dictionary<string, double>();
            for (int c = 0; c < Columns.Length; c++)
            {
                var v = Sorted(rows.Select(r => r[c]));
                medians[Columns[c]] = Stats.Percentile(v, 0.5);
                p99s[Columns[c]] = Stats.Percentile(v, 0.99);
                sb.AppendLine($"| {ColumnLabels.GetValueOrDefault(Columns[c], Columns[c])} | {Us(medians[Columns[c]])} | {Us(p99s[Columns[c]])} | {Us(v[^1])} |");
            }
            var cycleTotals = Sorted(rows.Select(CycleTotal));
            sb.AppendLine($"| **hand-off + return (router time per cycle)** | {Us(Stats.Percentile(cycleTotals, 0.5))} | {Us(Stats.Percentile(cycleTotals, 0.99))} | {Us(cycleTotals[^1])} |");
            var ownTotals = Sorted(rows.Select(OwnSteps));
            sb.AppendLine($"| **the router's own steps per cycle (without the two round trips)** | {Us(Stats.Percentile(ownTotals, 0.5))} | {Us(Stats.Percentile(ownTotals, 0.99))} | {Us(ownTotals[^1])} |");
            sb.AppendLine();

            sb.AppendLine("## Client view and router CPU");
            sb.AppendLine();
            sb.AppendLine(local is null ? "| measure | hand-off (/be1, /be2) |" : "| measure | hand-off (/be1, /be2) | router-local (/router, reference) |");
            sb.AppendLine(local is null ? "|---|---:|" : "|---|---:|---:|");
            void Row(string name, Func<PhaseResult, string> f) =>
                sb.AppendLine(local is null ? $"| {name} | {f(handoff)} |" : $"| {name} | {f(handoff)} | {f(local)} |");
            Row("requests", p => p.Requests.ToString(CultureInfo.InvariantCulture));
            Row("requests/s (all connections)", p => (p.Requests / p.Wall.TotalSeconds).ToString("F0", CultureInfo.InvariantCulture));
            Row("client latency median (µs)", p => Us(Stats.Percentile(p.LatencyUs, 0.5)));
            Row("client latency p99 (µs)", p => Us(Stats.Percentile(p.LatencyUs, 0.99)));
            Row("client latency max (µs)", p => Us(p.LatencyUs[^1]));
            Row("router CPU per request (µs, utime+stime)", p => Us(p.CpuUsPerRequest));
            Row("router CPU ticks in phase (resolution)", p => $"{p.CpuTicks} × {1_000_000 / ProcStat.TicksPerSecond} µs");
            Row("router CPU by thread, top 3 (µs per request)", p => string.Join(", ", p.ThreadTicks.OrderByDescending(kv => kv.Value).Take(3)
                .Select(kv => $"{kv.Key.Replace("|", "/", StringComparison.Ordinal)} {Us(kv.Value * 1_000_000.0 / ProcStat.TicksPerSecond / p.Requests)}")));
            Row("agents' CPU per request (µs, be1..be3 summed)", p => Us(p.AgentTicks * 1_000_000.0 / ProcStat.TicksPerSecond / p.Requests));
            Row("client TCP retransmitted segments", p => p.Retransmits.ToString(CultureInfo.InvariantCulture));
            Row("client TCP resets", p => p.Resets.ToString(CultureInfo.InvariantCulture));
            sb.AppendLine();
            sb.AppendLine($"Router CPU while idle (connections open, no requests, 1 s): {Us(idle.Before)} µs/s right after the warm-up, {Us(idle.After)} µs/s after the measured phases. " +
                $"The hand-off phase took {handoff.Wall.TotalSeconds:F2} s{(local is null ? "" : $", the router-local phase {local.Wall.TotalSeconds:F2} s")}. " +
                "Thread names are as the kernel shows them (15 characters): `.NET TP Worker` is the thread pool, `.NET Tiered Com` the tiered JIT's background compiler.");
            sb.AppendLine();

            double ho = medians["handoff_total_us"], ret = medians["return_total_us"];
            sb.AppendLine("## Against the Python prototype (DESIGN.md §8: 0.29 ms hand-off + 0.27 ms return)");
            sb.AppendLine();
            sb.AppendLine($"- hand-off median {Us(ho)} µs = **{ho / PrototypeHandoffUs:F2}×** the prototype's 290 µs; " +
                $"return median {Us(ret)} µs = **{ret / PrototypeReturnUs:F2}×** its 270 µs; " +
                $"together {Us(ho + ret)} µs = **{(ho + ret) / (PrototypeHandoffUs + PrototypeReturnUs):F2}×** its 560 µs (below 1 is faster).");
            sb.AppendLine($"- Prism's hand-off ≈ 232 µs: ratio {ho / 232:F2}.");
            var steps = Columns.Where(c => !c.EndsWith("total_us", StringComparison.Ordinal)).ToArray();
            string Top(IEnumerable<string> cols)
            {
                var top = cols.OrderByDescending(c => medians[c]).First();
                return $"{ColumnLabels[top].Split(": ", 2)[^1]} ({Us(medians[top])} µs)";
            }
            // The CSV lays out the hand-off's steps, its total, then the return's steps and total.
            int handoffTotal = Array.IndexOf(Columns, "handoff_total_us");
            var handoffSteps = Columns[..handoffTotal];
            var returnSteps = Columns[(handoffTotal + 1)..^1];
            string dominant = steps.OrderByDescending(c => medians[c]).First();
            double stepSum = steps.Sum(c => medians[c]);
            sb.AppendLine($"- Dominant step: **{ColumnLabels[dominant]}**, median {Us(medians[dominant])} µs " +
                $"({100 * medians[dominant] / stepSum:F0}% of the summed step medians). In the hand-off: {Top(handoffSteps)}; in the return: {Top(returnSteps)}.");
            string[] steerCols = ["block_us", "steer_us", "ret_block_us", "ret_clear_us"];
            string[] kernelCols = ["dump_us", "restore_us", "activate_us"];
            string[] messageCols = ["control_rtt_us", "go_us", "ret_rtt_us"];
            sb.AppendLine($"- By kind (sum of medians): steering changes (4 per cycle) {Us(steerCols.Sum(c => medians[c]))} µs, " +
                $"router-side TCP_REPAIR work {Us(kernelCols.Sum(c => medians[c]))} µs, control messaging incl. the agent's restore/dump {Us(messageCols.Sum(c => medians[c]))} µs.");
            if (handoff.Retransmits > 0)
                sb.AppendLine($"- The client retransmitted {handoff.Retransmits} segments in {handoff.Requests} hand-off requests (≈ one per {handoff.Requests / (double)handoff.Retransmits:F0}), " +
                    "each one a segment sent while its connection was frozen in transit that the hold queue did not keep (resent after the ≥ 200 ms RTO, DESIGN.md §3; " +
                    "the hold queue vs drop section below has both side by side).");
            if (local is not null && local.CpuUsPerRequest > 0)
                sb.AppendLine($"- Router CPU per hand-off request {Us(handoff.CpuUsPerRequest)} µs vs {Us(local.CpuUsPerRequest)} µs for a request the router serves itself " +
                    $"({handoff.CpuUsPerRequest / local.CpuUsPerRequest:F1}×); for reference, DESIGN.md §8 has HAProxy at 19 µs and YARP at 56 µs per 1 KiB request.");
            return sb.ToString();
        }

        private static string Us(double v) => v >= 100 ? v.ToString("F0", CultureInfo.InvariantCulture) : v.ToString("F1", CultureInfo.InvariantCulture);

        private static string Tail(string text, int lines)
        {
            var l = text.Split('\n');
            return string.Join('\n', l.Skip(Math.Max(0, l.Length - lines)));
        }
    }

    internal sealed class PhaseResult(int requests, double[] latencyUs, TimeSpan wall, long cpuTicks)
    {
        public int Requests { get; } = requests;
        /// <summary>Sorted.</summary>
        public double[] LatencyUs { get; } = latencyUs;
        public TimeSpan Wall { get; } = wall;
        public long CpuTicks { get; } = cpuTicks;
        public double CpuUsPerRequest => CpuTicks * 1_000_000.0 / ProcStat.TicksPerSecond / Requests;
        public long Retransmits { get; set; }
        public long Resets { get; set; }
        public long AgentTicks { get; init; }
        public Dictionary<string, long> ThreadTicks { get; init; } = new();
    }
}
