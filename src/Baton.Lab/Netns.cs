using System.Diagnostics;
using System.Net.Sockets;
using Baton.Interop;

namespace Baton.Lab;

/// <summary>
/// Network namespace helpers. setns(2) affects only the calling thread, and a socket keeps the
/// namespace it was created in, so one process can hold sockets in several namespaces: each is
/// created on a short-lived thread that entered the namespace first (DESIGN.md §6).
/// </summary>
public static class Netns
{
    /// <summary>Runs <paramref name="action"/> on a fresh thread inside namespace <paramref name="name"/>.</summary>
    public static T Run<T>(string name, Func<T> action)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle($"/var/run/netns/{name}");
                if (Libc.SetNs(ns, Libc.CLONE_NEWNET) != 0) throw Libc.Error($"setns({name})");
                result = action();
            }
            catch (Exception e) { error = e; }
        });
        thread.Start();
        thread.Join();
        if (error is not null) throw new InvalidOperationException($"in namespace {name}: {error.Message}", error);
        return result;
    }

    /// <summary>A TCP socket that lives in namespace <paramref name="name"/>, not yet connected.</summary>
    public static Socket CreateTcpSocket(string name) =>
        Run(name, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true });

    /// <summary>Runs a command to completion; throws with its stderr when it fails.</summary>
    public static string Exec(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {stderr.Trim()}");
        return stdout.Result;
    }

    /// <summary>Runs a command inside namespace <paramref name="name"/> (ip netns exec, which also remounts /sys).</summary>
    public static string ExecIn(string name, string file, params string[] args) =>
        Exec("ip", ["netns", "exec", name, file, .. args]);

    /// <summary>Names of the namespaces that exist.</summary>
    public static IReadOnlyList<string> List() =>
        Directory.Exists("/var/run/netns") ? Directory.GetFiles("/var/run/netns").Select(f => Path.GetFileName(f)).ToList() : [];

    /// <summary>A kernel counter from /proc/net/snmp (e.g. Tcp EstabResets) inside a namespace.</summary>
    public static long SnmpCounter(string name, string protocol, string counter)
    {
        var lines = ExecIn(name, "cat", "/proc/net/snmp").Split('\n');
        for (int i = 0; i + 1 < lines.Length; i++)
        {
            if (!lines[i].StartsWith(protocol + ":", StringComparison.Ordinal)) continue;
            var keys = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var values = lines[i + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int k = Array.IndexOf(keys, counter);
            if (k > 0) return long.Parse(values[k]);
        }
        throw new InvalidOperationException($"no counter {protocol}:{counter} in /proc/net/snmp");
    }

    /// <summary>
    /// Every Tcp counter (/proc/net/snmp) and TcpExt counter (/proc/net/netstat) of a namespace,
    /// named as nstat names them (TcpRetransSegs, TcpExtPAWSEstab, ...).
    /// </summary>
    public static Dictionary<string, long> TcpCounters(string name)
    {
        var all = new Dictionary<string, long>();
        foreach (var (file, protocol) in new[] { ("/proc/net/snmp", "Tcp"), ("/proc/net/netstat", "TcpExt") })
        {
            var lines = ExecIn(name, "cat", file).Split('\n');
            for (int i = 0; i + 1 < lines.Length; i++)
            {
                if (!lines[i].StartsWith(protocol + ":", StringComparison.Ordinal)) continue;
                var keys = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var values = lines[i + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                for (int k = 1; k < keys.Length && k < values.Length; k++)
                    if (long.TryParse(values[k], System.Globalization.CultureInfo.InvariantCulture, out long v)) all[protocol + keys[k]] = v;
                break;
            }
        }
        return all;
    }

    /// <summary>Bytes an interface has transmitted, read inside its namespace.</summary>
    public static long TxBytes(string name, string device) =>
        long.Parse(ExecIn(name, "cat", $"/sys/class/net/{device}/statistics/tx_bytes").Trim());

    /// <summary>
    /// Frames a veth sent back out from its XDP program (XDP_TX), read inside its namespace: the sum
    /// of its per-queue <c>xdp_tx</c> counters (<c>ethtool -S</c>).
    /// </summary>
    public static long XdpTxFrames(string name, string device) =>
        ExecIn(name, "ethtool", "-S", device).Split('\n')
            .Select(l => l.Trim().Split(':'))
            .Where(p => p.Length == 2 && p[0].StartsWith("rx_queue_", StringComparison.Ordinal) && p[0].EndsWith("_xdp_tx", StringComparison.Ordinal))
            .Sum(p => long.Parse(p[1].Trim(), System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Whether this process runs as root (euid 0).</summary>
    public static bool IsRoot => Environment.UserName == "root" || GetEuid() == 0;

    private static uint GetEuid()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                    return uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2]);
        }
        catch (IOException) { }
        return uint.MaxValue;
    }
}
