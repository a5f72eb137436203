using System.Diagnostics;
using System.Net.NetworkInformation;
using Baton.Interop;
using Microsoft.Win32.SafeHandles;

namespace Baton.Steering.Hold;

/// <summary>
/// The router's hold veth pair, in its own network namespace: eBPF steering redirects a frozen
/// connection's frames out <see cref="Name"/>, they come in at <see cref="QueueName"/>, where the
/// hold queue's packet socket reads them, and frames sent back out <see cref="QueueName"/> come in at
/// <see cref="Name"/> to the router's own stack (a returned connection's replay). Fixed, Baton-owned
/// names: a crashed run's pair is deleted at the next start, the pair is deleted at stop.
/// Made once per router start with iproute2's <c>ip</c> (never per connection).
/// </summary>
internal sealed class HoldDevice : IDisposable
{
    /// <summary>The end steering redirects into, and where replayed frames meet the router's stack.</summary>
    public const string Name = "baton-hold";

    /// <summary>The end the hold queue reads (and sends replays for the router's stack out of).</summary>
    public const string QueueName = "baton-hold-q";

    // The namespace the pair was made in: stop may run on a thread that is elsewhere.
    private readonly SafeFileHandle _netns;
    private bool _deleted;

    private HoldDevice(int ifindex, int queueIfindex, byte[] mac, SafeFileHandle netns)
    {
        _netns = netns;
        IfIndex = ifindex;
        QueueIfIndex = queueIfindex;
        Mac = mac;
    }

    /// <summary>ifindex of <see cref="Name"/>.</summary>
    public int IfIndex { get; }

    /// <summary>ifindex of <see cref="QueueName"/>.</summary>
    public int QueueIfIndex { get; }

    /// <summary>MAC of <see cref="Name"/>: a frame for the router's stack must carry it, or the stack drops it as another host's.</summary>
    public byte[] Mac { get; }

    /// <summary>Deletes a stale pair and makes a fresh one, up, in the calling process's namespace.</summary>
    /// <exception cref="SteeringException">ip failed (no CAP_NET_ADMIN, no iproute2, no veth).</exception>
    public static HoldDevice Create()
    {
        RemoveStale();
        Ip("link", "add", Name, "type", "veth", "peer", "name", QueueName);
        try
        {
            Ip("link", "set", QueueName, "up");
            Ip("link", "set", Name, "up");
            // Replayed frames come in here from the client's address, whose route is the router's
            // uplink: strict reverse-path filtering would drop them. Nothing else ever arrives here.
            WriteSysctl($"/proc/sys/net/ipv4/conf/{Name}/rp_filter", "0");
            foreach (var dev in new[] { Name, QueueName })
                WriteSysctl($"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6", "1", optional: true);
            // Frames for the router's stack come in at Name from two senders on two CPUs: replays
            // from the router's thread and frames the queue end's program sends on. Without RPS
            // each queues on its own CPU's backlog, and the first frames sent on could overtake the
            // last replayed. Optional: a /sys that does not show this namespace's devices leaves it.
            // Not at QueueName: there the frames of a flow already arrive from one CPU (the one
            // the uplink gave the flow), and one more hop between CPUs kept them on the hold path
            // longer: client SACK recoveries per 100,000 soak requests 14 and 9 with it, 1 and 3
            // without (bench/soak.sh --contenders handoff --loss 0).
            Rps.TrySpreadByFlow(Name);
            int i = (int)Libc.IfNameToIndex(Name), q = (int)Libc.IfNameToIndex(QueueName);
            var mac = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == Name)?.GetPhysicalAddress().GetAddressBytes();
            if (i <= 0 || q <= 0 || mac is not { Length: 6 }) throw new SteeringException($"the hold devices {Name}/{QueueName} vanished right after they were made");
            return new HoldDevice(i, q, mac, File.OpenHandle("/proc/thread-self/ns/net"));
        }
        catch
        {
            RemoveStale();
            throw;
        }
    }

    /// <summary>Deletes the pair a crashed run left, if any (deleting one end deletes both).</summary>
    public static void RemoveStale()
    {
        if (Libc.IfNameToIndex(Name) == 0 && Libc.IfNameToIndex(QueueName) == 0) return;
        try { Ip("link", "del", Libc.IfNameToIndex(Name) != 0 ? Name : QueueName); }
        catch (SteeringException) { }
    }

    /// <summary>Deletes the pair, if it is still this one (a later start may have replaced it).</summary>
    public void Dispose()
    {
        if (_deleted) return;
        _deleted = true;
        void DeleteIfOurs()
        {
            if (Libc.IfNameToIndex(Name) == (uint)IfIndex) RemoveStale();
        }
        if (Libc.CurrentNetns() == Libc.NetnsOf(_netns)) DeleteIfOurs();
        else
        {
            // On a thread of its own in the pair's namespace (ip inherits it), as TcIngressFilter
            // detaches; only then, since setns needs CAP_SYS_ADMIN.
            var thread = new Thread(() =>
            {
                if (Libc.SetNs(_netns, Libc.CLONE_NEWNET) == 0) DeleteIfOurs();
            });
            thread.Start();
            thread.Join();
        }
        _netns.Dispose();
    }

    private static void WriteSysctl(string path, string value, bool optional = false)
    {
        try { File.WriteAllText(path, value); }
        catch (Exception e) when (Faults.IsFileUnavailable(e) && optional) { }
        catch (Exception e) when (Faults.IsFileUnavailable(e))
        {
            throw new SteeringException($"cannot write {path}: {e.Message}");
        }
    }

    private static void Ip(params string[] args)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try { p = Process.Start(psi) ?? throw new SteeringException("cannot start ip"); }
        catch (System.ComponentModel.Win32Exception e) { throw new SteeringException($"cannot run ip (Debian package iproute2): {e.Message}"); }
        using (p)
        {
            _ = p.StandardOutput.ReadToEndAsync();
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new SteeringException($"ip {string.Join(' ', args)} failed: {err.Trim()}");
        }
    }
}
