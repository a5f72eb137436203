using System.Buffers.Binary;
using System.Net.Sockets;
using Baton.Interop;

namespace Baton.Modes.Local.Protocol;

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

    /// <summary>
    /// Null when a peer with these credentials may register as a worker: it runs as
    /// <paramref name="allowedUid"/>, or its primary group is <paramref name="allowedGid"/> when one
    /// is set (workers deployed under their own user in the router's group). Otherwise why not.
    /// </summary>
    public string? RefusalFor(uint allowedUid, uint? allowedGid = null)
    {
        if (Uid == allowedUid || (allowedGid is { } g && Gid == g)) return null;
        return allowedGid is { } gid
            ? $"peer pid {Pid} runs as uid {Uid} gid {Gid}, workers must run as uid {allowedUid} or gid {gid}"
            : $"peer pid {Pid} runs as uid {Uid}, workers must run as uid {allowedUid}";
    }
}
