using System.Buffers.Binary;
using System.Net;
using Baton.Modes.Handoff.Repair;

namespace Baton.Modes.Handoff.Protocol;

/// <summary>
/// A <see cref="TcpSnapshot"/> as <see cref="HandoffRequest"/> and <see cref="Returned"/> carry it
/// (big-endian): local and remote address and port (6 + 6), send and receive sequence (4 + 4), send
/// queue length, its unsent tail and receive queue length (4 + 4 + 4), MSS (2), option flags
/// (timestamps 1, SACK 2, window scaling 4), both window scales (1 + 1), the timestamp clock (4),
/// the repair window's five words (20), then the send queue and the receive queue.
/// </summary>
public static class SnapshotLayout
{
    private const int FixedLength = 6 + 6 + 4 + 4 + 4 + 4 + 4 + 2 + 1 + 1 + 1 + 4 + 20;

    /// <summary>Bytes <paramref name="s"/> takes on the wire.</summary>
    public static int Length(TcpSnapshot s) => FixedLength + s.SendQueue.Length + s.ReceiveQueue.Length;

    /// <summary>Writes <paramref name="s"/> at the start of <paramref name="destination"/>.</summary>
    public static void Write(TcpSnapshot s, Span<byte> destination)
    {
        if (destination.Length < Length(s)) throw new ArgumentException("destination too small");
        var d = destination;
        WriteEndPoint(d, s.Local); d = d[6..];
        WriteEndPoint(d, s.Remote); d = d[6..];
        BinaryPrimitives.WriteUInt32BigEndian(d, s.SendSeq); d = d[4..];
        BinaryPrimitives.WriteUInt32BigEndian(d, s.ReceiveSeq); d = d[4..];
        BinaryPrimitives.WriteInt32BigEndian(d, s.SendQueue.Length); d = d[4..];
        BinaryPrimitives.WriteInt32BigEndian(d, s.SendUnsent); d = d[4..];
        BinaryPrimitives.WriteInt32BigEndian(d, s.ReceiveQueue.Length); d = d[4..];
        BinaryPrimitives.WriteUInt16BigEndian(d, s.Mss); d = d[2..];
        d[0] = (byte)((s.Timestamps ? 1 : 0) | (s.Sack ? 2 : 0) | (s.WindowScaling ? 4 : 0));
        d[1] = s.SendWindowScale;
        d[2] = s.ReceiveWindowScale;
        d = d[3..];
        BinaryPrimitives.WriteUInt32BigEndian(d, s.Timestamp); d = d[4..];
        var w = s.Window;
        BinaryPrimitives.WriteUInt32BigEndian(d, w.SndWl1);
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], w.SndWnd);
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], w.MaxWindow);
        BinaryPrimitives.WriteUInt32BigEndian(d[12..], w.RcvWnd);
        BinaryPrimitives.WriteUInt32BigEndian(d[16..], w.RcvWup);
        d = d[20..];
        s.SendQueue.CopyTo(d); d = d[s.SendQueue.Length..];
        s.ReceiveQueue.CopyTo(d);
    }

    /// <summary>Reads a snapshot <see cref="Write"/> wrote, filling exactly <paramref name="source"/>; false on anything else.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out TcpSnapshot? snapshot)
    {
        snapshot = null;
        var s = source;
        if (s.Length < FixedLength) return false;
        var local = ReadEndPoint(s); s = s[6..];
        var remote = ReadEndPoint(s); s = s[6..];
        uint sendSeq = BinaryPrimitives.ReadUInt32BigEndian(s); s = s[4..];
        uint recvSeq = BinaryPrimitives.ReadUInt32BigEndian(s); s = s[4..];
        int sendLen = BinaryPrimitives.ReadInt32BigEndian(s); s = s[4..];
        int unsent = BinaryPrimitives.ReadInt32BigEndian(s); s = s[4..];
        int recvLen = BinaryPrimitives.ReadInt32BigEndian(s); s = s[4..];
        ushort mss = BinaryPrimitives.ReadUInt16BigEndian(s); s = s[2..];
        byte flags = s[0], sws = s[1], rws = s[2]; s = s[3..];
        uint ts = BinaryPrimitives.ReadUInt32BigEndian(s); s = s[4..];
        var window = new TcpRepairWindow(
            BinaryPrimitives.ReadUInt32BigEndian(s),
            BinaryPrimitives.ReadUInt32BigEndian(s[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(s[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(s[12..]),
            BinaryPrimitives.ReadUInt32BigEndian(s[16..]));
        s = s[20..];
        // The queue lengths must account for the rest exactly: a frame cut short or padded is not a snapshot.
        if (sendLen < 0 || recvLen < 0 || unsent < 0 || unsent > sendLen || s.Length != (long)sendLen + recvLen) return false;
        snapshot = new TcpSnapshot
        {
            Local = local,
            Remote = remote,
            SendSeq = sendSeq,
            ReceiveSeq = recvSeq,
            SendQueue = s[..sendLen].ToArray(),
            SendUnsent = unsent,
            ReceiveQueue = s.Slice(sendLen, recvLen).ToArray(),
            Mss = mss,
            Timestamps = (flags & 1) != 0,
            Sack = (flags & 2) != 0,
            WindowScaling = (flags & 4) != 0,
            SendWindowScale = sws,
            ReceiveWindowScale = rws,
            Timestamp = ts,
            Window = window,
        };
        return true;
    }

    private static void WriteEndPoint(Span<byte> d, IPEndPoint ep)
    {
        if (!ep.Address.TryWriteBytes(d[..4], out int n) || n != 4) throw new ArgumentException($"not IPv4: {ep}");
        BinaryPrimitives.WriteUInt16BigEndian(d[4..], (ushort)ep.Port);
    }

    private static IPEndPoint ReadEndPoint(ReadOnlySpan<byte> s) =>
        new(new IPAddress(s[..4]), BinaryPrimitives.ReadUInt16BigEndian(s[4..]));
}
