namespace Baton.Steering;

/// <summary>
/// Receive packet steering on a device's first receive queue: every frame of one flow is queued
/// on one CPU's backlog (by its hash), so frames enqueued in order are processed in order. A veth
/// otherwise queues each frame on the backlog of the CPU that sent it, and two senders of one
/// flow on two CPUs (a process and a softirq, or a replay and a tc program) reorder it.
/// </summary>
internal static class Rps
{
    /// <summary>
    /// Spreads <paramref name="device"/>'s flows over every CPU, through sysfs; false when this
    /// process's /sys does not show the device (a process that entered the namespace without
    /// mounting its sysfs) or does not let it write.
    /// </summary>
    public static bool TrySpreadByFlow(string device)
    {
        try
        {
            File.WriteAllText($"/sys/class/net/{device}/queues/rx-0/rps_cpus", CpuMask(Environment.ProcessorCount));
            return true;
        }
        catch (Exception e) when (Faults.IsFileUnavailable(e))
        {
            return false;
        }
    }

    /// <summary>The sysfs bitmap of CPUs 0..<paramref name="cpus"/>-1: hex, in comma-separated 32-bit groups.</summary>
    public static string CpuMask(int cpus)
    {
        var groups = new List<string>();
        for (int low = 0; low < cpus; low += 32)
        {
            int n = Math.Min(32, cpus - low);
            uint bits = n == 32 ? uint.MaxValue : (1u << n) - 1;
            groups.Insert(0, bits.ToString("x8", System.Globalization.CultureInfo.InvariantCulture));
        }
        groups[0] = groups[0].TrimStart('0');
        return string.Join(',', groups);
    }
}
