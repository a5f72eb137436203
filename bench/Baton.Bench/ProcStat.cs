using System.Globalization;
using System.Runtime.InteropServices;

namespace Baton.Bench;

/// <summary>
/// CPU time of a process from /proc: utime + stime in clock ticks (the kernel's resolution, usually
/// 10 ms). Shared by the hand-off and the local bench (linked into Baton.LocalBench).
/// </summary>
internal static partial class ProcStat
{
    private const int SC_CLK_TCK = 2;

    public static long TicksPerSecond { get; } = SysConf(SC_CLK_TCK) is var t && t > 0 ? t : 100;

    /// <summary>utime + stime of every thread of <paramref name="pid"/>, alive or exited (fields 14 and 15 of /proc/PID/stat).</summary>
    public static long CpuTicks(int pid) => Parse(File.ReadAllText($"/proc/{pid}/stat")).Ticks;

    /// <summary>utime + stime per live thread, keyed by thread id, with the thread's name.</summary>
    public static Dictionary<int, (string Name, long Ticks)> ThreadTicks(int pid)
    {
        var result = new Dictionary<int, (string, long)>();
        foreach (var dir in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try { result[int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture)] = Parse(File.ReadAllText(Path.Combine(dir, "stat"))); }
            catch (IOException) { } // the thread exited meanwhile
        }
        return result;
    }

    /// <summary>
    /// Time on a CPU and time runnable but waiting for one (ns, /proc/PID/task/TID/schedstat), summed
    /// over the live threads: the wait is what the machine's other work costs this process.
    /// </summary>
    public static (long RunNs, long WaitNs) Sched(int pid)
    {
        long run = 0, wait = 0;
        foreach (var dir in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var f = File.ReadAllText(Path.Combine(dir, "schedstat")).Split(' ');
                run += long.Parse(f[0], CultureInfo.InvariantCulture);
                wait += long.Parse(f[1], CultureInfo.InvariantCulture);
            }
            catch (IOException) { } // the thread exited meanwhile
        }
        return (run, wait);
    }

    public static double Microseconds(long ticks) => ticks * 1_000_000.0 / TicksPerSecond;

    private static (string Name, long Ticks) Parse(string stat)
    {
        // Field 2 (comm) is in parentheses and may hold spaces or ')': the fields after it start after the last ')'.
        int open = stat.IndexOf('('), close = stat.LastIndexOf(')');
        var fields = stat[(close + 2)..].Split(' ');
        // fields[0] is field 3 (state), so field N is fields[N - 3].
        long utime = long.Parse(fields[14 - 3], CultureInfo.InvariantCulture), stime = long.Parse(fields[15 - 3], CultureInfo.InvariantCulture);
        return (stat[(open + 1)..close], utime + stime);
    }

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long SysConf(int name);
}
