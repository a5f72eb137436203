using System.Buffers.Binary;
using System.Net.Sockets;
using Baton.Interop;

namespace Baton.Transfer.Local;

/// <summary>The process at the other end of a Unix socket, as the kernel recorded it at connect (SO_PEERCRED).</summary>
public readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
{
    private const int SO_PEERCRED = 17;

    /// <summary>The uid of this process (the default uid a worker must run as).</summary>
    public static uint CurrentUid => Libc.GetUid();

    /// <summary>Reads SO_PEERCRED of a connected Unix socket.</summary>
    public static PeerCredentials Of(Socket socket)
    {
        Span<byte> b = stackalloc byte[12];
        int n = socket.GetRawSocketOption(Libc.SOL_SOCKET, SO_PEERCRED, b);
        if (n < 12) throw new SocketException((int)SocketError.ProtocolNotSupported);
        return new PeerCredentials(
            BinaryPrimitives.ReadInt32LittleEndian(b),
            BinaryPrimitives.ReadUInt32LittleEndian(b[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(b[8..]));
    }

    /// <summary>Null when a peer with these credentials may register as a worker; otherwise why not.</summary>
    public string? RefusalFor(uint allowedUid) =>
        Uid == allowedUid ? null : $"peer pid {Pid} runs as uid {Uid}, workers must run as uid {allowedUid}";
}
