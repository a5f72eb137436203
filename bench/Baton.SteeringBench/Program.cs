using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using Baton.Lab;
using Baton.Steering;
using Baton.Steering.Bpf;

// One steering change, nftables against eBPF, in one run on one veth device: block (a new entry),
// forward (change it), clear (delete it), as a hand-off and return do them. The two
// implementations take turns change by change, so both see the same machine state.
// Usage (root): dotnet Baton.SteeringBench.dll [--changes 5000] [--warmup 500] [--prefix btsteer]

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
int changes = 5000, warmup = 500;
string prefix = "btsteer";
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--changes": changes = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--warmup": warmup = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--prefix": prefix = Next(); break;
        default:
            Console.Error.WriteLine("usage: Baton.SteeringBench [--changes N (5000)] [--warmup N (500)] [--prefix NAME (btsteer)]");
            return 64;
    }
}
if (!Netns.IsRoot)
{
    Console.Error.WriteLine("the steering bench needs root: it makes a network namespace and changes tc and nftables state there");
    return 2;
}

string ns = $"{prefix}-{Environment.ProcessId}";
Netns.Exec("ip", "netns", "add", ns);
try
{
    Netns.Exec("ip", "-n", ns, "link", "add", "steer0", "type", "veth", "peer", "name", "steer1");
    Netns.Exec("ip", "-n", ns, "link", "set", "steer0", "up");
    // Map keys only: no packet is sent. Addresses of the project's own range.
    var service = new IPEndPoint(IPAddress.Parse("10.77.42.100"), 80);
    var router = PhysicalAddress.Parse("02-BA-70-2A-00-02");
    var backend = PhysicalAddress.Parse("02-BA-70-2A-00-0B");
    var impls = new (string Name, IFlowSteering Steering)[]
    {
        ("nftables", Netns.Run(ns, () => (IFlowSteering)new NftFlowSteering("steer0", service, router))),
        ("eBPF", Netns.Run(ns, () => (IFlowSteering)new BpfFlowSteering("steer0", service, router))),
    };
    string[] ops = ["block (add)", "forward (change)", "clear (delete)"];
    var samples = impls.ToDictionary(x => x.Name, _ => ops.Select(_ => new List<double>(changes)).ToArray());
    try
    {
        // nftables resolves `fwd to "steer0"` in the calling thread's namespace.
        foreach (var (_, s) in impls) Netns.Run(ns, () => { s.AddBackend("be1", backend); return 0; });
        for (int n = 0; n < warmup + changes; n++)
        {
            var client = new IPEndPoint(IPAddress.Parse("10.77.42.10"), 1024 + n % 60000);
            foreach (var (name, s) in impls)
            {
                long t0 = Stopwatch.GetTimestamp();
                s.Block(client);
                long t1 = Stopwatch.GetTimestamp();
                s.Forward(client, "be1");
                long t2 = Stopwatch.GetTimestamp();
                s.Clear(client);
                long t3 = Stopwatch.GetTimestamp();
                if (n < warmup) continue;
                samples[name][0].Add(Micros(t1 - t0));
                samples[name][1].Add(Micros(t2 - t1));
                samples[name][2].Add(Micros(t3 - t2));
            }
        }
    }
    finally
    {
        foreach (var (_, s) in impls) s.Dispose();
    }
    Console.WriteLine($"steering change, µs per change ({changes} changes each after {warmup} warm-up; kernel {Environment.OSVersion.Version})");
    Console.WriteLine($"{"",-10} {"operation",-18} {"median",8} {"p99",8} {"max",8}");
    foreach (var (name, _) in impls)
        for (int o = 0; o < ops.Length; o++)
        {
            var v = samples[name][o];
            v.Sort();
            Console.WriteLine($"{name,-10} {ops[o],-18} {Pct(v, 0.50),8:F2} {Pct(v, 0.99),8:F2} {v[^1],8:F1}");
        }
    return 0;
}
catch (Exception e) when (e is SteeringException or InvalidOperationException)
{
    Console.Error.WriteLine($"steering bench failed: {e.Message}");
    return 1;
}
finally
{
    Netns.Exec("ip", "netns", "del", ns);
}

// From raw ticks: a TimeSpan would round to 0.1 µs, coarse next to a 1 µs change.
static double Micros(long ticks) => ticks * 1e6 / Stopwatch.Frequency;

static double Pct(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
