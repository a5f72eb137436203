using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using Baton.Interop;
using Baton.Lab;
using Baton.Tests.Support;

namespace Baton.Tests.Steering;

/// <summary>
/// A router's interface to test steering on: a namespace with a veth pair <c>btbpf0</c> (the
/// router's side: its address, the VIP, the steering) and <c>btbpf1</c> (the wire: the test writes
/// client frames into it, which arrive at btbpf0's ingress, and reads what comes back out of
/// btbpf0). Addresses in 10.77.42.0/24. Dispose deletes the namespace, and with it the veth pair.
/// </summary>
internal sealed class SteeringLink : IDisposable
{
    public const string Device = "btbpf0", Wire = "btbpf1";

    public static readonly IPEndPoint Service = new(IPAddress.Parse("10.77.42.100"), 80);
    public static readonly IPAddress RouterAddress = IPAddress.Parse("10.77.42.2");
    public static readonly IPAddress ClientAddress = IPAddress.Parse("10.77.42.10");
    public static readonly PhysicalAddress RouterMac = PhysicalAddress.Parse("02-BA-70-2A-00-02");
    public static readonly PhysicalAddress ClientMac = PhysicalAddress.Parse("02-BA-70-2A-00-0A");

    private readonly TempNetns _ns = new("btbpf");

    public SteeringLink()
    {
        try
        {
            Ip("link", "add", Device, "address", "02:ba:70:2a:00:02", "type", "veth", "peer", "name", Wire, "address", "02:ba:70:2a:00:0a");
            Netns.ExecIn(Name, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
            Ip("addr", "add", $"{RouterAddress}/24", "dev", Device);
            Ip("addr", "add", $"{Service.Address}/32", "dev", Device);
            // The router's replies to the client go out btbpf0 without asking ARP first.
            Ip("neigh", "add", ClientAddress.ToString(), "lladdr", "02:ba:70:2a:00:0a", "dev", Device, "nud", "permanent");
            Ip("link", "set", Device, "up");
            Ip("link", "set", Wire, "up");
        }
        catch
        {
            _ns.Dispose();
            throw;
        }
    }

    public string Name => _ns.Name;

    public T Run<T>(Func<T> action) => _ns.Run(action);

    public string Tc(params string[] args) => Netns.ExecIn(Name, "tc", args);

    /// <summary>A packet socket on the wire end: sends frames towards btbpf0, receives what btbpf0 sends.</summary>
    public WireSocket OpenWire(int receiveBuffer = 0) => _ns.Run(() => new WireSocket(Wire, receiveBuffer));

    private void Ip(params string[] args) => Netns.Exec("ip", ["-n", Name, .. args]);

    public void Dispose() => _ns.Dispose();

    /// <summary>A TCP SYN from <paramref name="client"/> to <paramref name="to"/>, addressed to the router's MAC, checksums right.</summary>
    public static byte[] Syn(IPEndPoint client, IPEndPoint to, uint? sequence = null)
    {
        var f = new byte[14 + 20 + 20];
        RouterMac.GetAddressBytes().CopyTo(f, 0);
        ClientMac.GetAddressBytes().CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        var ip = f.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 40);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)Random.Shared.Next());
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000); // DF
        ip[8] = 64;
        ip[9] = 6;
        client.Address.TryWriteBytes(ip[12..], out _);
        to.Address.TryWriteBytes(ip[16..], out _);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip, 0));
        var tcp = f.AsSpan(34, 20);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, (ushort)client.Port);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], (ushort)to.Port);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence ?? (uint)Random.Shared.Next());
        tcp[12] = 5 << 4;
        tcp[13] = 0x02; // SYN
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        // Pseudo header: source, destination, protocol, TCP length.
        uint pseudo = Sum(ip.Slice(12, 8)) + 6 + 20;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Checksum(tcp, pseudo));
        return f;
    }

    private static uint Sum(ReadOnlySpan<byte> b)
    {
        uint s = 0;
        for (int i = 0; i + 1 < b.Length; i += 2) s += BinaryPrimitives.ReadUInt16BigEndian(b[i..]);
        return s;
    }

    private static ushort Checksum(ReadOnlySpan<byte> b, uint initial)
    {
        uint s = initial + Sum(b);
        while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
        return (ushort)~s;
    }
}

/// <summary>An AF_PACKET socket bound to one device; it ignores its own outgoing frames.</summary>
internal sealed unsafe class WireSocket : IDisposable
{
    private const int AF_PACKET = 17, SOCK_RAW = 3, SOL_PACKET = 263, PACKET_IGNORE_OUTGOING = 23;
    private const ushort ETH_P_ALL = 0x0003;
    private readonly int _fd;

    public WireSocket(string device, int receiveBuffer = 0, int mark = 0)
    {
        ushort proto = BinaryPrimitives.ReverseEndianness(ETH_P_ALL);
        _fd = Libc.Socket(AF_PACKET, SOCK_RAW | Libc.SOCK_CLOEXEC, proto);
        Libc.Check(_fd, "socket(AF_PACKET)");
        if (receiveBuffer > 0) Libc.SetSockOpt(_fd, Libc.SOL_SOCKET, 33 /* SO_RCVBUFFORCE */, receiveBuffer, "setsockopt(SO_RCVBUFFORCE)");
        if (mark != 0) Libc.SetSockOpt(_fd, Libc.SOL_SOCKET, 36 /* SO_MARK */, mark, "setsockopt(SO_MARK)");
        Libc.SetSockOpt(_fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "setsockopt(PACKET_IGNORE_OUTGOING)");
        byte* sll = stackalloc byte[20]; // sockaddr_ll
        new Span<byte>(sll, 20).Clear();
        *(ushort*)sll = AF_PACKET;
        *(ushort*)(sll + 2) = proto;
        *(int*)(sll + 4) = (int)Libc.IfNameToIndex(device);
        Libc.Check(Libc.Bind(_fd, sll, 20), "bind(AF_PACKET)");
    }

    public void Send(byte[] frame)
    {
        fixed (byte* p = frame)
            if (Libc.Send(_fd, p, (nuint)frame.Length, 0) != frame.Length) throw Libc.Error("send(AF_PACKET)");
    }

    /// <summary>The first frame within <paramref name="timeout"/> that <paramref name="match"/> accepts, or null.</summary>
    public byte[]? Receive(Func<byte[], bool> match, TimeSpan timeout)
    {
        var buffer = new byte[2048];
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            nint n;
            fixed (byte* p = buffer) n = Libc.Recv(_fd, p, (nuint)buffer.Length, Libc.MSG_DONTWAIT);
            if (n > 0)
            {
                var frame = buffer[..(int)n];
                if (match(frame)) return frame;
                continue;
            }
            Thread.Sleep(2);
        }
        return null;
    }

    /// <summary>Whether <paramref name="frame"/> is IPv4 TCP from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static bool IsTcp(byte[] frame, IPEndPoint from, IPEndPoint to)
    {
        if (frame.Length < 54 || BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) != 0x0800 || frame[23] != 6) return false;
        int ihl = (frame[14] & 0xf) * 4;
        var f = frame.AsSpan();
        return new IPAddress(f.Slice(26, 4)).Equals(from.Address) && new IPAddress(f.Slice(30, 4)).Equals(to.Address)
            && BinaryPrimitives.ReadUInt16BigEndian(f[(14 + ihl)..]) == from.Port
            && BinaryPrimitives.ReadUInt16BigEndian(f[(16 + ihl)..]) == to.Port;
    }

    public void Dispose() => Libc.Close(_fd);
}
