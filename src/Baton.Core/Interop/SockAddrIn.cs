using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;

namespace Baton.Interop;

/// <summary>struct sockaddr_in (16 bytes), port and address in network order.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct SockAddrIn
{
    public ushort Family;
    public ushort PortBE;
    public uint AddressBE;
    public ulong Zero;

    public static SockAddrIn From(IPEndPoint endPoint)
    {
        Span<byte> a = stackalloc byte[4];
        if (endPoint.Address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || !endPoint.Address.TryWriteBytes(a, out _))
            throw new ArgumentException($"only IPv4 endpoints can be moved: {endPoint}");
        return new SockAddrIn
        {
            Family = Libc.AF_INET,
            PortBE = BinaryPrimitives.ReverseEndianness((ushort)endPoint.Port),
            AddressBE = MemoryMarshal.Read<uint>(a),
        };
    }
}
