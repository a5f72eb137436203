using System.Globalization;
using System.Runtime.InteropServices;
using Baton.Lab;

namespace Baton.Compare;

/// <summary>
/// The router host's whole cost, counted the same way for every contender (issue 16, goal 7): the
/// router's process tree runs alone on the last CPU, the router namespace's <c>eth0</c> does its
/// receive processing there (RPS), and everything else (wrk, the origins, the agents, this program
/// and every other veth end) runs on the other CPUs. That CPU's busy time (user + system + irq +
/// softirq, from <c>/proc/stat</c>) per request is then what the router host paid, including the
/// packet work that utime+stime misses: on veth a frame's receive processing runs in the softirq of
/// whichever CPU the sender ran on, so without this a proxy is charged for its client's receive
/// work and the hand-off's ingress steering is charged to the client or a back-end.
/// </summary>
internal sealed partial class RouterCore
{
    private readonly ulong _routerMask;
    private readonly ulong _otherMask;

    private RouterCore(int cpu, int cpus)
    {
        Cpu = cpu;
        _routerMask = 1UL << cpu;
        _otherMask = ((1UL << cpus) - 1) & ~_routerMask;
    }

    /// <summary>The CPU the router runs on (the last one).</summary>
    public int Cpu { get; }

    /// <summary>
    /// Gives the router namespace's receive processing the last CPU and every other veth end the
    /// rest, and moves this program to the rest; null on a single-CPU machine (nothing to split).
    /// </summary>
    public static RouterCore? Claim(NetnsCluster net)
    {
        int cpus = Environment.ProcessorCount;
        if (cpus < 2 || cpus > 32) return null;
        var core = new RouterCore(cpus - 1, cpus);
        foreach (var host in new[] { "client", "router" }.Concat(net.Backends))
            net.SetReceiveCpus(host, inside: host == "router" ? core._routerMask : core._otherMask, switchSide: core._otherMask);
        PinSelf(core._otherMask);
        return core;
    }

    /// <summary>
    /// Starts a contender with the router CPU as this program's affinity, so that the router's
    /// processes start on it (a runtime sizes its pools by the CPUs it may use at start: one
    /// here), then moves the processes that are not on the router host (agents) and this
    /// program back to the other CPUs. The router's tree, and every process it forks later, stays.
    /// </summary>
    public async Task<Running> StartAsync(Func<Task<Running>> start, bool backendsOnRouterHost)
    {
        PinSelf(_routerMask);
        Running c;
        try
        {
            c = await start().ConfigureAwait(false);
        }
        finally
        {
            PinSelf(_otherMask);
        }
        if (c.RouterPid is int pid) Pin(ProcStats.Tree(pid), _routerMask);
        Pin(c.BackendPids(), backendsOnRouterHost ? _routerMask : _otherMask);
        return c;
    }

    /// <summary>The router CPU's busy time so far in µs: user, nice, system, irq, softirq and steal (10 ms ticks).</summary>
    public double BusyMicros() => BusyMicros("cpu" + Cpu.ToString(CultureInfo.InvariantCulture) + " ");

    /// <summary>
    /// Every CPU's busy time so far in µs, counted as <see cref="BusyMicros()"/> is: the whole host,
    /// client and back-ends included. Work that only moves off the router's CPU (e.g. an XDP
    /// program, which on veth runs on the sender's CPU) still shows here.
    /// </summary>
    public static double HostBusyMicros() => BusyMicros("cpu ");

    private static double BusyMicros(string label)
    {
        foreach (var line in File.ReadLines("/proc/stat"))
        {
            if (!line.StartsWith(label, StringComparison.Ordinal)) continue;
            // cpuN user nice system idle iowait irq softirq steal guest guest_nice
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long ticks = new[] { 1, 2, 3, 6, 7, 8 }.Sum(i => long.Parse(f[i], CultureInfo.InvariantCulture));
            return ticks * ProcStats.MicrosPerTick;
        }
        throw new InvalidOperationException($"/proc/stat has no line '{label.Trim()}'");
    }

    // Every thread of this program: threads made later inherit the affinity of the one that made them.
    private static void PinSelf(ulong mask) => Pin([Environment.ProcessId], mask);

    private static void Pin(IEnumerable<int> pids, ulong mask)
    {
        foreach (int pid in pids)
        {
            IEnumerable<string> tasks;
            try { tasks = Directory.EnumerateDirectories($"/proc/{pid}/task").ToList(); }
            catch (DirectoryNotFoundException) { continue; } // ended meanwhile
            foreach (var task in tasks)
            {
                int tid = int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture);
                ulong m = mask;
                // ESRCH: the thread ended meanwhile. Anything else means the split does not hold.
                if (SchedSetAffinity(tid, sizeof(ulong), ref m) != 0 && Marshal.GetLastPInvokeError() is var errno and not 3)
                    throw new InvalidOperationException($"sched_setaffinity({tid}, {mask:x}) failed: errno {errno}");
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nint size, ref ulong mask);
}
