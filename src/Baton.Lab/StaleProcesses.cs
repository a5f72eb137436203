using Baton.Interop;

namespace Baton.Lab;

/// <summary>
/// Remembers the router and agent processes a lab started (pid and kernel start time, in
/// /run/baton-lab/PREFIX.pids), so that the next lab with the same prefix can end the ones a crashed
/// run left behind: only those, identified by pid *and* start time, never anything else. The first
/// line names the lab's owner, the process that built it, so that a lab still running is not taken.
/// </summary>
internal static class StaleProcesses
{
    private const string Folder = "/run/baton-lab";

    public static void Record(string prefix, int pid)
    {
        if (StartTime(pid) is not { } start) return;
        Directory.CreateDirectory(Folder);
        File.AppendAllText(PidFile(prefix), $"{pid} {start}\n");
    }

    /// <summary>
    /// Takes <paramref name="prefix"/> for this process before its lab is built. A lab whose owner
    /// still runs keeps it (a second demo used to kill a running one's processes and delete its
    /// hosts): <see cref="LabInUseException"/>. What an owner that died left is ended.
    /// </summary>
    public static void Claim(string prefix)
    {
        var file = PidFile(prefix);
        if (File.Exists(file) && File.ReadLines(file).FirstOrDefault()?.Split(' ') is ["owner", var p, var start]
            && int.TryParse(p, out int owner) && owner != Environment.ProcessId && StartTime(owner) == start)
            throw new LabInUseException(prefix, owner);
        Kill(prefix);
        Directory.CreateDirectory(Folder);
        File.WriteAllText(file, $"owner {Environment.ProcessId} {StartTime(Environment.ProcessId)}\n");
    }

    public static void Kill(string prefix)
    {
        var file = PidFile(prefix);
        if (!File.Exists(file)) return;
        foreach (var line in File.ReadAllLines(file))
        {
            var parts = line.Split(' ');
            if (parts.Length == 2 && int.TryParse(parts[0], out int pid) && StartTime(pid) == parts[1])
                Libc.Kill(pid, Libc.SIGKILL);
        }
        File.Delete(file);
    }

    public static void Forget(string prefix)
    {
        try { File.Delete(PidFile(prefix)); } catch (IOException) { }
    }

    private static string PidFile(string prefix) => Path.Combine(Folder, prefix + ".pids");

    // Field 22 of /proc/PID/stat: start time since boot, which a reused pid does not share.
    private static string? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[19];
        }
        catch (IOException) { return null; }
    }
}

/// <summary>Another process's lab runs on the namespace prefix this one asked for.</summary>
public sealed class LabInUseException(string prefix, int owner)
    : InvalidOperationException($"a Baton lab with hosts {prefix}-* is running (process {owner}); stop it first (kill {owner})")
{
    /// <summary>The process that owns the running lab.</summary>
    public int Owner => owner;
}
