using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Baton.Compare;

/// <summary>
/// A contender's process (haproxy, nginx, the YARP host, wrk) started inside a namespace with
/// <c>ip netns exec</c>, which execs in place: the pid we hold is the program's own, and the only
/// one this class ever signals.
/// </summary>
internal sealed partial class Proc : IDisposable
{
    private readonly Process _p;
    private readonly ConcurrentQueue<string> _lines = new();

    private Proc(Process p, string name)
    {
        _p = p;
        Name = name;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
    }

    public string Name { get; }

    public int Pid => _p.Id;

    public bool HasExited => _p.HasExited;

    public string Output => string.Join('\n', _lines);

    public static Proc Start(string ns, string name, string file, params string[] args)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["netns", "exec", ns, file, .. args]) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_NOLOGO"] = "1";
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        return new Proc(p, name);
    }

    public async Task<bool> WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (_lines.Any(l => l.Contains(text, StringComparison.Ordinal))) return true;
            if (_p.HasExited) return false;
            await Task.Delay(50).ConfigureAwait(false);
        }
        return false;
    }

    /// <summary>Waits for exit; on cancellation the process is killed (by its pid) first.</summary>
    public async Task WaitForExitAsync(CancellationToken ct)
    {
        try
        {
            await _p.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Stop(TimeSpan.FromSeconds(2));
            throw;
        }
        _p.WaitForExit(); // drains the readers
    }

    /// <summary>SIGTERM, then SIGKILL after <paramref name="grace"/>.</summary>
    public void Stop(TimeSpan grace)
    {
        if (_p.HasExited) return;
        _ = kill(_p.Id, 15);
        if (!_p.WaitForExit(grace))
        {
            _ = kill(_p.Id, 9);
            _p.WaitForExit(5000);
        }
    }

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(5));
        _p.Dispose();
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}

/// <summary>CPU time and resident memory of a process and its descendants, from /proc.</summary>
internal static class ProcStats
{
    internal const double MicrosPerTick = 1_000_000.0 / 100; // CLK_TCK = 100 on Linux (USER_HZ, also /proc/stat's unit)

    /// <summary>The pids of <paramref name="root"/> and every descendant (nginx's workers).</summary>
    public static List<int> Tree(int root)
    {
        var parent = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            if (Fields(pid) is { } f) parent[pid] = int.Parse(f[1], CultureInfo.InvariantCulture);
        }
        var result = new List<int> { root };
        for (int i = 0; i < result.Count; i++)
            foreach (var (pid, ppid) in parent)
                if (ppid == result[i] && !result.Contains(pid)) result.Add(pid);
        return result;
    }

    /// <summary>utime + stime in µs, summed over <paramref name="pids"/> (threads included).</summary>
    public static double CpuMicros(IEnumerable<int> pids)
    {
        double sum = 0;
        foreach (int pid in pids)
            if (Fields(pid) is { } f)
                sum += (long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)) * MicrosPerTick;
        return sum;
    }

    /// <summary>VmRSS in KiB summed over <paramref name="pids"/>.</summary>
    public static long RssKiB(IEnumerable<int> pids)
    {
        long sum = 0;
        foreach (int pid in pids)
        {
            try
            {
                foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                        sum += long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
            catch (IOException) { }
        }
        return sum;
    }

    // Fields of /proc/PID/stat after "(comm) ": [0] = state, [1] = ppid, [11] = utime, [12] = stime.
    private static string[]? Fields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}
