using System.Buffers.Binary;
using System.Net;

namespace Baton.Steering.Hold;

/// <summary>
/// A frame as a PACKET_VNET_HDR packet socket reads and sends it: a 10-byte struct virtio_net_hdr
/// (checksum and GSO state: a held frame may still need its TCP checksum, or be a 64 KiB GSO
/// aggregate, DESIGN.md §5), then the Ethernet frame. Sent back with the same header, the kernel
/// finishes the checksum and segments as it would have, so the frame's bytes are never touched
/// beyond its MACs.
/// </summary>
internal static class HeldFrame
{
    /// <summary>sizeof(struct virtio_net_hdr).</summary>
    public const int VnetHeaderLength = 10;

    private const int EthernetHeaderLength = 14, MacLength = 6;
    private const ushort EtherTypeIPv4 = 0x0800;
    private const byte Tcp = 6;

    /// <summary>The TCP source (the client) of an IPv4 frame; null for anything else.</summary>
    public static IPEndPoint? ClientOf(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < VnetHeaderLength + EthernetHeaderLength + 20) return null;
        var eth = frame[VnetHeaderLength..];
        if (BinaryPrimitives.ReadUInt16BigEndian(eth[12..]) != EtherTypeIPv4) return null;
        var ip = eth[EthernetHeaderLength..];
        int ihl = (ip[0] & 0x0f) * 4;
        if (ip[0] >> 4 != 4 || ihl < 20 || ip[9] != Tcp || ip.Length < ihl + 4) return null;
        return new IPEndPoint(new IPAddress(ip.Slice(12, 4)), BinaryPrimitives.ReadUInt16BigEndian(ip[ihl..]));
    }

    /// <summary>Rewrites the Ethernet destination and source in place.</summary>
    public static void SetMacs(Span<byte> frame, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> source)
    {
        destination.CopyTo(frame.Slice(VnetHeaderLength, MacLength));
        source.CopyTo(frame.Slice(VnetHeaderLength + MacLength, MacLength));
    }
}
