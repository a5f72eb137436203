using System.Globalization;

namespace Baton.Compare;

internal sealed record SweepOptions(
    string[] Contenders, long[] Sizes, int[] Connections, int Runs, TimeSpan Duration,
    string OutDir, string YarpDll, string? Commit, string? FromCsv, string Origin = "baton", bool Pin = true, bool Chunked = false)
{
    /// <summary>The path wrk asks for, N bytes each: <c>/stream/N</c> (the sample sends it chunked) with --chunked, else <c>/bytes/N</c> (with a length).</summary>
    public string PathOf(long size) => $"/{(Chunked ? "stream" : "bytes")}/{size}";

    /// <summary>The ASP.NET Core sample as its own agent: only with --origin sample.</summary>
    public const string AspNetContender = Arena.AspNetContender;

    public const string Prefix = "btbench2";
    public const int Subnet = 11;

    public static readonly string[] AllContenders = ["direct", "handoff", "handoff-forward", "adaptive", "local", "relay", "yarp", "haproxy", "nginx"];

    /// <summary>Hand-off variants for the same-target shortcut, run only when named in --contenders.</summary>
    public static readonly string[] ShortcutVariants = ["handoff-noshortcut", "handoff-same", "handoff-same-noshortcut"];

    /// <summary>
    /// Run only when named: bodies copied instead of spliced (BATON_SPLICE=0), the zero-copy pump
    /// against a plain copy; the router's socket continuations on the thread pool (the .NET default,
    /// DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0) against its own inline mode.
    /// </summary>
    public static readonly string[] CopyVariants = ["relay-copy", "handoff-forward-copy", "relay-pool", "handoff-pool"];

    public const string Usage =
        "usage: Baton.Compare --yarp YarpHost.dll [--contenders direct,handoff,handoff-forward,adaptive,local,relay,yarp,haproxy,nginx (also: handoff-noshortcut,handoff-same,handoff-same-noshortcut; relay-copy,handoff-forward-copy; relay-pool,handoff-pool; handoff-xdp; handoff-aspnet with --origin sample)] [--sizes 1024,16384,262144,1048576,10485760]\n" +
        "                     [--origin baton|nginx|sample] [--chunked (responses chunked: --origin sample's /stream/N)] [--no-pin (no core of its own for the router: no router-core figure)]\n" +
        "                     [--connections 4,32] [--runs 3] [--duration 5] [--out docs/benchmarks] [--commit REV] | --from-csv FILE [--out DIR]";

    public static SweepOptions Parse(string[] args)
    {
        string[] contenders = AllContenders;
        long[] sizes = [1024, 16 * 1024, 256 * 1024, 1 << 20, 10 << 20];
        int[] connections = [4, 32];
        int runs = 3;
        double duration = 5;
        string outDir = "docs/benchmarks";
        string? yarp = null, commit = null, fromCsv = null;
        string origin = "baton";
        bool pin = true, chunked = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--contenders":
                    contenders = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    foreach (var c in contenders)
                        if (!AllContenders.Contains(c) && !ShortcutVariants.Contains(c) && !CopyVariants.Contains(c) && !Arena.XdpContenders.Contains(c) && c != AspNetContender) throw new ArgumentException($"unknown contender '{c}'");
                    break;
                case "--origin":
                    origin = Next();
                    if (!Arena.Origins.Contains(origin)) throw new ArgumentException($"--origin: '{origin}' is not one of {string.Join(", ", Arena.Origins)}");
                    break;
                case "--no-pin": pin = false; break;
                case "--chunked": chunked = true; break;
                case "--sizes": sizes = Next().Split(',').Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--connections": connections = Next().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--runs": runs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--duration": duration = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--out": outDir = Next(); break;
                case "--yarp": yarp = Next(); break;
                case "--commit": commit = Next(); break;
                case "--from-csv": fromCsv = Next(); break;
                case "-h" or "--help": throw new ArgumentException("help");
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        if (fromCsv is null && (yarp is null || !File.Exists(yarp))) throw new ArgumentException("--yarp must name the built YarpHost.dll");
        if (runs < 1 || duration < 1 || sizes.Length == 0 || connections.Length == 0) throw new ArgumentException("runs ≥ 1, duration ≥ 1 s, and some sizes and connections");
        if (contenders.Contains(AspNetContender) && origin != "sample") throw new ArgumentException($"{AspNetContender} needs --origin sample (the sample application is its own agent)");
        if (chunked && origin != "sample") throw new ArgumentException("--chunked needs --origin sample (its /stream/N is sent chunked)");
        return new SweepOptions(contenders, sizes, connections, runs, TimeSpan.FromSeconds(duration), outDir, yarp ?? "", commit, fromCsv, origin, pin, chunked);
    }
}

/// <summary>One wrk run of one contender, with the router's and back-ends' counters around it.</summary>
internal sealed record RunRow(
    string Contender, long Size, int Connections, int Run, long Requests, double Seconds, double Rps,
    double P50Us, double P99Us, long Errors, double RouterCpuUs, double BackendCpuUs, long TxBytes, long RssKiB, double RouterCoreUs = double.NaN, double HostBusyUs = double.NaN)
{
    public const string CsvHeader = "contender,size,connections,run,requests,seconds,rps,p50_us,p99_us,errors,router_cpu_us,backend_cpu_us,router_tx_bytes,router_rss_kib,router_core_us,host_busy_us";

    public double RouterCpuPerReq => Requests > 0 ? RouterCpuUs / Requests : double.NaN;

    public double BackendCpuPerReq => Requests > 0 ? BackendCpuUs / Requests : double.NaN;

    /// <summary>The router core's busy time per request (<see cref="RouterCore"/>); NaN when not pinned.</summary>
    public double RouterCorePerReq => Requests > 0 ? RouterCoreUs / Requests : double.NaN;

    /// <summary>Every CPU's busy time per request (<see cref="RouterCore.HostBusyMicros"/>): the whole host, wrk included.</summary>
    public double HostBusyPerReq => Requests > 0 ? HostBusyUs / Requests : double.NaN;

    public double TxPerReq => Requests > 0 ? (double)TxBytes / Requests : double.NaN;

    public string ToCsv() => string.Join(',', Contender, Size, Connections, Run, Requests, F(Seconds), F(Rps), F(P50Us), F(P99Us), Errors,
        F(RouterCpuUs), F(BackendCpuUs), TxBytes, RssKiB, F(RouterCoreUs), F(HostBusyUs));

    private static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    /// <summary>"# key: value" lines at the top of the CSV: the environment the runs were made in.</summary>
    public static string MetaLines(IReadOnlyDictionary<string, string> meta) =>
        string.Concat(meta.Select(kv => $"# {kv.Key}: {kv.Value}\n"));

    public static Dictionary<string, string> ReadMeta(string path) =>
        File.ReadLines(path).Where(l => l.StartsWith("# ", StringComparison.Ordinal))
            .Select(l => l[2..].Split(": ", 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);

    public static List<RunRow> ReadCsv(string path) =>
        File.ReadLines(path).Where(l => l.Length > 0 && !l.StartsWith('#') && !l.StartsWith("contender,", StringComparison.Ordinal))
            .Select(l => l.Split(','))
            .Select(f => new RunRow(f[0], long.Parse(f[1], CultureInfo.InvariantCulture), int.Parse(f[2], CultureInfo.InvariantCulture),
                int.Parse(f[3], CultureInfo.InvariantCulture), long.Parse(f[4], CultureInfo.InvariantCulture), D(f[5]), D(f[6]), D(f[7]), D(f[8]),
                long.Parse(f[9], CultureInfo.InvariantCulture), D(f[10]), D(f[11]), long.Parse(f[12], CultureInfo.InvariantCulture),
                long.Parse(f[13], CultureInfo.InvariantCulture), f.Length > 14 ? D(f[14]) : double.NaN, f.Length > 15 ? D(f[15]) : double.NaN))
            .ToList();
}
