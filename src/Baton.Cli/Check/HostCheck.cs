using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Baton.Modes.Handoff.Repair;

namespace Baton.Cli.Check;

/// <summary>How one check came out.</summary>
internal enum Verdict { Ok, Warn, Fail }

/// <summary>One line of <c>baton check</c>: what was checked, the verdict, and for a problem how to fix it.</summary>
internal sealed record Finding(Verdict Verdict, string What, string? Fix = null)
{
    public override string ToString() => $"{Verdict switch { Verdict.Ok => "ok  ", Verdict.Warn => "warn", _ => "FAIL" }}  {What}{(Fix is null ? "" : $". Fix: {Fix}")}";
}

/// <summary>
/// What a router or agent host needs for hand-offs, each read from the host itself: privilege,
/// libraries, addresses, the ARP and reverse-path settings of direct routing, the shared L2
/// segment. Each probe returns findings; none changes anything.
/// </summary>
internal static class HostCheck
{
    /// <summary>CAP_NET_ADMIN, proven the way hand-offs use it: a socket put into TCP_REPAIR.</summary>
    public static Finding Privilege()
    {
        try
        {
            TcpRepair.EnsurePrivilege();
            return new(Verdict.Ok, "CAP_NET_ADMIN: held (a socket entered TCP_REPAIR)");
        }
        catch (MissingPrivilegeException)
        {
            return new(Verdict.Fail, "CAP_NET_ADMIN: missing (TCP_REPAIR refused)", "run baton as root, or give it CAP_NET_ADMIN (systemd: AmbientCapabilities=CAP_NET_ADMIN)");
        }
    }

    /// <summary>libbpf (eBPF steering) and libnftables (its fallback): one of them is needed.</summary>
    public static IEnumerable<Finding> SteeringLibraries()
    {
        bool bpf = Loads("libbpf.so.1"), nft = Loads("libnftables.so.1");
        yield return bpf
            ? new(Verdict.Ok, "libbpf.so.1: loads (eBPF steering)")
            : new(nft ? Verdict.Warn : Verdict.Fail, "libbpf.so.1: missing (eBPF steering and the hold queue)", "apt-get install libbpf1");
        if (!bpf)
            yield return nft
                ? new(Verdict.Ok, "libnftables.so.1: loads (the nftables fallback steers instead)")
                : new(Verdict.Fail, "libnftables.so.1: missing too: nothing can steer", "apt-get install libnftables1");
    }

    private static bool Loads(string library)
    {
        if (!NativeLibrary.TryLoad(library, out var handle)) return false;
        NativeLibrary.Free(handle);
        return true;
    }

    /// <summary>The interface named <paramref name="name"/>, up, holding <paramref name="address"/> (when given).</summary>
    public static Finding Interface(string name, IPAddress? address, string role)
    {
        var nic = NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => n.Name == name);
        if (nic is null) return new(Verdict.Fail, $"interface {name}: does not exist ({role})", $"name one of: {string.Join(", ", NetworkInterface.GetAllNetworkInterfaces().Select(n => n.Name))}");
        if (nic.OperationalStatus is OperationalStatus.Down) return new(Verdict.Fail, $"interface {name}: down", $"ip link set {name} up");
        if (address is not null && !Holds(nic, address))
            return new(Verdict.Fail, $"{address} on {name}: missing ({role})", $"ip addr add {address}/32 dev {name}");
        return new(Verdict.Ok, address is null ? $"interface {name}: up" : $"{address} on {name}: present ({role})");
    }

    /// <summary>The interface that holds <paramref name="address"/>, or null.</summary>
    public static NetworkInterface? InterfaceHolding(IPAddress address) =>
        NetworkInterface.GetAllNetworkInterfaces().FirstOrDefault(n => Holds(n, address));

    private static bool Holds(NetworkInterface nic, IPAddress address) =>
        nic.GetIPProperties().UnicastAddresses.Any(u => u.Address.Equals(address));

    /// <summary>
    /// A back-end's ARP settings on <paramref name="device"/>: it holds the VIP on lo but must
    /// neither answer ARP for it (arp_ignore ≥ 1) nor use it as an ARP source (arp_announce = 2).
    /// The kernel uses the larger of <c>all</c> and the device's own value.
    /// </summary>
    public static IEnumerable<Finding> DirectRoutingArp(string device)
    {
        int ignore = Effective("arp_ignore", device), announce = Effective("arp_announce", device);
        yield return ignore >= 1
            ? new(Verdict.Ok, $"arp_ignore on {device}: {ignore} (no ARP answers for the VIP)")
            : new(Verdict.Fail, $"arp_ignore on {device}: {ignore}: this host answers ARP for the VIP and steals the router's clients",
                $"sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.{device}.arp_ignore=1");
        yield return announce >= 2
            ? new(Verdict.Ok, $"arp_announce on {device}: {announce}")
            : new(Verdict.Fail, $"arp_announce on {device}: {announce}: ARP requests may carry the VIP as their source",
                $"sysctl -w net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.{device}.arp_announce=2");
    }

    /// <summary>
    /// The router's reverse-path filter: frames the hold queue replays to the router's own stack
    /// come in on the hold device, which strict mode (1, the larger of <c>all</c> and the device's)
    /// drops; the client's RTO then covers them.
    /// </summary>
    public static Finding RouterReversePath(bool holdQueue)
    {
        int all = Sysctl("all", "rp_filter") ?? 0;
        if (all != 1) return new(Verdict.Ok, $"rp_filter (all): {all}");
        return new(holdQueue ? Verdict.Warn : Verdict.Ok, $"rp_filter (all): 1 (strict){(holdQueue ? ": frames the hold queue replays to this host are dropped, and clients resend them after their RTO" : "")}",
            holdQueue ? "sysctl -w net.ipv4.conf.all.rp_filter=2 (loose), or 0" : null);
    }

    private static int Effective(string setting, string device) => Math.Max(Sysctl("all", setting) ?? 0, Sysctl(device, setting) ?? 0);

    private static int? Sysctl(string device, string setting) =>
        File.Exists($"/proc/sys/net/ipv4/conf/{device}/{setting}") && int.TryParse(File.ReadAllText($"/proc/sys/net/ipv4/conf/{device}/{setting}").Trim(), out int v) ? v : null;

    /// <summary>
    /// Whether <paramref name="peer"/> is on this host's L2 segment, as direct routing needs: the
    /// kernel's route to it has no gateway (<c>ip route get</c>), and it goes out of <paramref name="device"/> when given.
    /// </summary>
    public static Finding SameSegment(IPAddress peer, string what, string? device)
    {
        string route;
        try
        {
            route = Baton.Lab.Netns.Exec("ip", "-o", "route", "get", peer.ToString());
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return new(Verdict.Fail, $"{what} {peer}: no route ({e.Message.Trim()})", "put it on the router's L2 segment");
        }
        var words = route.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string? Word(string key) { int i = Array.IndexOf(words, key); return i >= 0 && i + 1 < words.Length ? words[i + 1] : null; }
        if (Word("via") is { } gateway)
            return new(Verdict.Fail, $"{what} {peer}: routed via {gateway}, not on this L2 segment (hand-off forwards frames at layer 2)", "put router and back-ends on one segment, or use Transfer: relay for it");
        if (device is not null && Word("dev") is { } dev && dev != device)
            return new(Verdict.Fail, $"{what} {peer}: reached through {dev}, not {device}", $"set Baton:Interface to {dev}, or fix the addresses");
        return new(Verdict.Ok, $"{what} {peer}: on the segment (dev {Word("dev")})");
    }

    /// <summary>Whether something accepts TCP connections at <paramref name="endpoint"/> within 2 s.</summary>
    public static async Task<Finding> Listening(IPEndPoint endpoint, string what, string fix)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await s.ConnectAsync(endpoint, timeout.Token);
            return new(Verdict.Ok, $"{what} {endpoint}: accepts connections");
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return new(Verdict.Fail, $"{what} {endpoint}: {(e is SocketException se ? se.Message : "no answer in 2 s")}", fix);
        }
    }

    /// <summary>Whether this host can listen at <paramref name="endpoint"/> (free), or something already does.</summary>
    public static Finding CanListen(IPEndPoint endpoint, string what)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            s.Bind(endpoint);
            return new(Verdict.Ok, $"{what} {endpoint}: free");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return new(Verdict.Warn, $"{what} {endpoint}: in use (an agent already running here?)");
        }
        catch (SocketException e)
        {
            return new(Verdict.Fail, $"{what} {endpoint}: cannot listen: {e.Message}", "give an address of this host");
        }
    }
}
