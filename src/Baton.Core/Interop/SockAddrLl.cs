using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Baton.Interop;

/// <summary>struct sockaddr_ll (20 bytes): an AF_PACKET address, protocol in network order.</summary>
[StructLayout(LayoutKind.Sequential, Size = 20)]
internal struct SockAddrLl
{
    internal const ushort AF_PACKET = 17;
    internal const int SOL_PACKET = 263;
    internal const int PACKET_VNET_HDR = 15;
    internal const int PACKET_IGNORE_OUTGOING = 23;
    internal const ushort ETH_P_ALL = 0x0003;
    internal const ushort ETH_P_IP = 0x0800;

    public ushort Family;
    public ushort ProtocolBE;
    public int IfIndex;
    public ushort HaType;
    public byte PktType;
    public byte HaLength;
    public ulong Address;

    /// <summary>Device <paramref name="ifindex"/>, EtherType <paramref name="protocol"/> (host order; 0: receive nothing).</summary>
    public static SockAddrLl For(int ifindex, ushort protocol) => new()
    {
        Family = AF_PACKET,
        ProtocolBE = BinaryPrimitives.ReverseEndianness(protocol),
        IfIndex = ifindex,
    };
}
