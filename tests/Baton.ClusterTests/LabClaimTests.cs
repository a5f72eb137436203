using System.Diagnostics;
using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>
/// A lab's namespace prefix belongs to the process that built it while that process runs: a second
/// demo used to kill a running demo's processes and delete its hosts, leaving the first "holding"
/// nothing. Claiming a prefix whose owner still runs is refused, naming the owner; an owner that
/// died leaves its prefix free (and its processes are ended, as before).
/// </summary>
public sealed class LabClaimTests
{
    [Fact]
    public void A_prefix_whose_owner_runs_is_refused_and_one_whose_owner_died_is_taken()
    {
        Assert.True(Netns.IsRoot, "cluster tests need root (they write /run/baton-lab)");
        const string prefix = "btclaim";
        using var owner = Process.Start(new ProcessStartInfo("sleep", "30") { RedirectStandardOutput = true })!;
        try
        {
            Directory.CreateDirectory("/run/baton-lab");
            File.WriteAllText($"/run/baton-lab/{prefix}.pids", $"owner {owner.Id} {StartTime(owner.Id)}\n");
            var e = Assert.Throws<LabInUseException>(() => StaleProcesses.Claim(prefix));
            Assert.Equal(owner.Id, e.Owner);
            Assert.Contains($"process {owner.Id}", e.Message);

            owner.Kill();
            owner.WaitForExit();
            StaleProcesses.Claim(prefix); // the owner is gone: taken
            Assert.StartsWith($"owner {Environment.ProcessId} ", File.ReadAllText($"/run/baton-lab/{prefix}.pids"));
        }
        finally
        {
            if (!owner.HasExited) owner.Kill();
            StaleProcesses.Forget(prefix);
        }
    }

    private static string StartTime(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19];
    }
}
