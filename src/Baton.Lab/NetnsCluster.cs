using System.Net;

namespace Baton.Lab;

/// <summary>
/// A small cluster of network-namespace hosts on this machine, for the demo and the tests:
/// <c>{prefix}-client</c>, <c>{prefix}-router</c> and <c>{prefix}-be1..N</c>, each with an
/// <c>eth0</c> of fixed MAC on one bridge that lives in <c>{prefix}-switch</c>. Addresses are in
/// 10.77.{subnet}.0/24 (the project's own range); the VIP is on the router's eth0 and on each
/// back-end's lo, where arp_ignore/arp_announce keep the back-ends from answering ARP for it
/// (direct routing, as IPVS-DR does it). Dispose deletes every namespace it made.
/// </summary>
public sealed class NetnsCluster : IDisposable
{
    /// <summary>Port the router serves on the VIP.</summary>
    public const int ServicePort = 80;

    /// <summary>Port agents listen on for the router's control link (on their real address).</summary>
    public const int ControlPort = 7070;

    private readonly List<string> _created = new();

    private NetnsCluster(string prefix, int subnet, int backends)
    {
        Prefix = prefix;
        Subnet = subnet;
        Backends = Enumerable.Range(1, backends).Select(i => $"be{i}").ToArray();
    }

    /// <summary>Namespace name prefix.</summary>
    public string Prefix { get; }

    /// <summary>The third octet of 10.77.x.0/24.</summary>
    public int Subnet { get; }

    /// <summary>Back-end host names: be1, be2, ...</summary>
    public IReadOnlyList<string> Backends { get; }

    /// <summary>The virtual IP clients connect to.</summary>
    public IPAddress Vip => Address(100);

    /// <summary>The service endpoint on the VIP.</summary>
    public IPEndPoint Service => new(Vip, ServicePort);

    /// <summary>The namespace of host <paramref name="host"/> (client, router, be1, ...).</summary>
    public string Ns(string host) => $"{Prefix}-{host}";

    /// <summary>A host's real address.</summary>
    public IPAddress AddressOf(string host) => Address(HostNumber(host));

    /// <summary>A host's fixed MAC address.</summary>
    public string MacOf(string host) => $"02:ba:70:{Subnet:x2}:00:{HostNumber(host):x2}";

    /// <summary>A back-end's control endpoint.</summary>
    public IPEndPoint ControlEndpointOf(string backend) => new(AddressOf(backend), ControlPort);

    /// <summary>Deletes namespaces a crashed run left under <paramref name="prefix"/>.</summary>
    public static void RemoveStale(string prefix)
    {
        foreach (var ns in Netns.List().Where(n => n.StartsWith(prefix + "-", StringComparison.Ordinal)))
            TryDelete(ns);
    }

    /// <summary>Builds the cluster. On any failure, whatever was made is deleted before the exception leaves.</summary>
    public static NetnsCluster Create(string prefix, int subnet, int backends = 3)
    {
        if (!Netns.IsRoot) throw new InvalidOperationException("building namespace hosts needs root");
        RemoveStale(prefix);
        var c = new NetnsCluster(prefix, subnet, backends);
        try
        {
            c.Build();
            return c;
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    private void Build()
    {
        string sw = Ns("switch");
        AddNamespace(sw);
        Ip("-n", sw, "link", "add", "br0", "type", "bridge");
        Ip("-n", sw, "link", "set", "br0", "up");
        foreach (var host in new[] { "client", "router" }.Concat(Backends))
        {
            string ns = Ns(host);
            AddNamespace(ns);
            Ip("-n", sw, "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns);
            Ip("-n", sw, "link", "set", host, "master", "br0", "up");
            Ip("-n", ns, "link", "set", "eth0", "address", MacOf(host));
            Ip("-n", ns, "addr", "add", $"{AddressOf(host)}/24", "dev", "eth0");
            Ip("-n", ns, "link", "set", "eth0", "up");
            Ip("-n", ns, "link", "set", "lo", "up");
            KeepFlowOrder(sw, host);
            KeepFlowOrder(ns, "eth0");
        }
        Ip("-n", Ns("router"), "addr", "add", $"{Vip}/32", "dev", "eth0");
        foreach (var be in Backends)
        {
            string ns = Ns(be);
            Ip("-n", ns, "addr", "add", $"{Vip}/32", "dev", "lo");
            // The back-ends hold the VIP but must never answer ARP for it, nor use it as ARP source.
            Sysctl(ns, "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.eth0.arp_ignore=1",
                "net.ipv4.conf.all.arp_announce=2", "net.ipv4.conf.eth0.arp_announce=2");
        }
    }

    /// <summary>
    /// Turns on RPS for a veth end, over every CPU. A veth hands each frame to the backlog of the
    /// CPU that sent it, and TCP sends one flow from two CPUs (the process, and the TSQ/pacing
    /// softirq on the other): without RPS the peer received a flow's segments out of order, and
    /// the sender's RACK (a reordering window of microseconds on veth) took the late ones as lost.
    /// One connection, 1,200 sequential requests across be1..be3, no loss: 82 spurious fast
    /// retransmissions at the back-ends without RPS, 0 with it. RPS queues a flow on one CPU by
    /// its hash, as a real NIC's per-flow queue keeps its order.
    /// </summary>
    private static void KeepFlowOrder(string ns, string device) => SetRps(ns, device, Steering.Rps.CpuMask(Environment.ProcessorCount));

    /// <summary>
    /// Where <paramref name="host"/>'s frames are received: its own <c>eth0</c> on the CPUs of
    /// <paramref name="inside"/>, the switch's port for it (what the host transmits) on those of
    /// <paramref name="switchSide"/> (bit masks, CPUs 0-31). Each flow still stays on one CPU of
    /// its mask. For benchmarks that give a host CPUs of its own.
    /// </summary>
    public void SetReceiveCpus(string host, ulong inside, ulong switchSide)
    {
        if ((inside | switchSide) > uint.MaxValue || inside == 0 || switchSide == 0)
            throw new ArgumentException($"CPU masks {inside:x} and {switchSide:x}: CPUs 0-31, at least one each");
        SetRps(Ns(host), "eth0", inside.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        SetRps(Ns("switch"), host, switchSide.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Makes the lab's wire fit for the router's XDP forwarding (<c>Baton:Xdp</c>), for as long as
    /// the cluster lasts. The switch's port for the router gets an XDP program of its own
    /// (<see cref="VethXdpPeer"/>), and <paramref name="clients"/> compute their TCP checksums
    /// themselves: a veth passes a locally sent frame with its checksum left to "offload"
    /// (CHECKSUM_PARTIAL), a frame sent back out by XDP loses that mark, and the back-end then
    /// drops it as corrupt. Frames from a real NIC carry their checksum.
    /// </summary>
    public void PrepareForXdp(params string[] clients)
    {
        VethXdpPeer.AttachPassAll(Ns("switch"), "router");
        foreach (var c in clients) Netns.ExecIn(Ns(c), "ethtool", "-K", "eth0", "tx", "off");
    }

    private static void SetRps(string ns, string device, string mask) =>
        Netns.ExecIn(ns, "sh", "-c", $"echo {mask} > /sys/class/net/{device}/queues/rx-0/rps_cpus");

    private void AddNamespace(string ns)
    {
        Netns.Exec("ip", "netns", "add", ns);
        _created.Add(ns);
        // No IPv6 chatter (router solicitations, DAD) in byte counts.
        Sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
    }

    private static void Sysctl(string ns, params string[] settings) =>
        Netns.ExecIn(ns, "sysctl", ["-q", "-w", .. settings]);

    private static void Ip(params string[] args) => Netns.Exec("ip", args);

    private IPAddress Address(int host) => IPAddress.Parse($"10.77.{Subnet}.{host}");

    private int HostNumber(string host) => host switch
    {
        "client" => 10,
        "router" => 2,
        _ when host.StartsWith("be", StringComparison.Ordinal) && int.TryParse(host.AsSpan(2), out int i) => 10 + i,
        _ => throw new ArgumentException($"unknown host '{host}'"),
    };

    private static void TryDelete(string ns)
    {
        try { Netns.Exec("ip", "netns", "del", ns); } catch (InvalidOperationException) { }
    }

    /// <summary>Deletes every namespace this cluster created (and with them their interfaces).</summary>
    public void Dispose()
    {
        for (int i = _created.Count - 1; i >= 0; i--) TryDelete(_created[i]);
        _created.Clear();
    }
}
