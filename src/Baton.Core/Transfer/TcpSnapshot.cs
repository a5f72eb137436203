using System.Buffers.Binary;
using System.Net;

namespace Baton.Transfer;

/// <summary>
/// The kernel state of one ESTABLISHED TCP connection, as TCP_REPAIR dumps it: enough to rebuild
/// the same connection in another network stack without the peer noticing.
/// </summary>
public sealed record TcpSnapshot
{
    /// <summary>Our side of the connection (the VIP and the service port).</summary>
    public required IPEndPoint Local { get; init; }

    /// <summary>The client.</summary>
    public required IPEndPoint Remote { get; init; }

    /// <summary>write_seq: the sequence number after the last byte in the send queue.</summary>
    public required uint SendSeq { get; init; }

    /// <summary>rcv_nxt: the next sequence number expected from the peer.</summary>
    public required uint ReceiveSeq { get; init; }

    /// <summary>Send queue bytes: first the sent-but-unacknowledged part, then the never-sent tail.</summary>
    public required byte[] SendQueue { get; init; }

    /// <summary>How many bytes at the end of <see cref="SendQueue"/> were never sent (SIOCOUTQNSD).</summary>
    public required int SendUnsent { get; init; }

    /// <summary>Bytes received from the peer and not yet read by an application.</summary>
    public required byte[] ReceiveQueue { get; init; }

    /// <summary>The MSS clamp (TCP_MAXSEG).</summary>
    public required ushort Mss { get; init; }

    public required bool Timestamps { get; init; }
    public required bool Sack { get; init; }
    public required bool WindowScaling { get; init; }
    public required byte SendWindowScale { get; init; }
    public required byte ReceiveWindowScale { get; init; }

    /// <summary>TCP_TIMESTAMP: the connection's timestamp clock when it was dumped.</summary>
    public required uint Timestamp { get; init; }

    public required TcpRepairWindow Window { get; init; }

    /// <summary>
    /// The same connection with <paramref name="prefix"/> put back in front of the receive queue.
    /// A side that has already read bytes the next owner must see (a request head it parsed, a
    /// pipelined request it buffered) gives them back this way: the restored socket's queue then
    /// starts that many bytes earlier, as if they had never been read.
    /// </summary>
    public TcpSnapshot WithUnreadPrefix(ReadOnlySpan<byte> prefix)
    {
        if (prefix.IsEmpty) return this;
        var queue = new byte[prefix.Length + ReceiveQueue.Length];
        prefix.CopyTo(queue);
        ReceiveQueue.CopyTo(queue, prefix.Length);
        return this with { ReceiveQueue = queue };
    }

    /// <summary>Serialized size in bytes.</summary>
    public int EncodedLength => FixedLength + SendQueue.Length + ReceiveQueue.Length;

    private const int FixedLength = 6 + 6 + 4 + 4 + 4 + 4 + 4 + 2 + 1 + 1 + 1 + 4 + 20;

    /// <summary>Writes the snapshot in the control protocol's binary layout (big-endian).</summary>
    public void Encode(Span<byte> destination)
    {
        if (destination.Length < EncodedLength) throw new ArgumentException("destination too small");
        var d = destination;
        WriteEndPoint(d, Local); d = d[6..];
        WriteEndPoint(d, Remote); d = d[6..];
        BinaryPrimitives.WriteUInt32BigEndian(d, SendSeq); d = d[4..];
        BinaryPrimitives.WriteUInt32BigEndian(d, ReceiveSeq); d = d[4..];
        BinaryPrimitives.WriteInt32BigEndian(d, SendQueue.Length); d = d[4..];
        BinaryPrimitives.WriteInt32BigEndian(d, SendUnsent); d = d[4..];
        BinaryPrimitives.WriteInt32BigEndian(d, ReceiveQueue.Length); d = d[4..];
        BinaryPrimitives.WriteUInt16BigEndian(d, Mss); d = d[2..];
        d[0] = (byte)((Timestamps ? 1 : 0) | (Sack ? 2 : 0) | (WindowScaling ? 4 : 0));
        d[1] = SendWindowScale;
        d[2] = ReceiveWindowScale;
        d = d[3..];
        BinaryPrimitives.WriteUInt32BigEndian(d, Timestamp); d = d[4..];
        Window.Encode(d); d = d[20..];
        SendQueue.CopyTo(d); d = d[SendQueue.Length..];
        ReceiveQueue.CopyTo(d);
    }

    /// <summary>Reads a snapshot written by <see cref="Encode"/>; throws <see cref="FormatException"/> on bad input.</summary>
    public static TcpSnapshot Decode(ReadOnlySpan<byte> s)
    {
        if (s.Length < FixedLength) throw new FormatException("snapshot truncated");
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
        var window = TcpRepairWindow.Decode(s); s = s[20..];
        if (sendLen < 0 || recvLen < 0 || unsent < 0 || unsent > sendLen || s.Length != (long)sendLen + recvLen)
            throw new FormatException("snapshot queue lengths do not match its size");
        return new TcpSnapshot
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
    }

    private static void WriteEndPoint(Span<byte> d, IPEndPoint ep)
    {
        if (!ep.Address.TryWriteBytes(d[..4], out int n) || n != 4) throw new ArgumentException($"not IPv4: {ep}");
        BinaryPrimitives.WriteUInt16BigEndian(d[4..], (ushort)ep.Port);
    }

    private static IPEndPoint ReadEndPoint(ReadOnlySpan<byte> s) =>
        new(new IPAddress(s[..4]), BinaryPrimitives.ReadUInt16BigEndian(s[4..]));

    /// <inheritdoc />
    public override string ToString() =>
        $"{Remote}->{Local} snd={SendSeq} rcv={ReceiveSeq} sndq={SendQueue.Length}({SendUnsent} unsent) rcvq={ReceiveQueue.Length} mss={Mss}";
}

/// <summary>struct tcp_repair_window (TCP_REPAIR_WINDOW, exactly 20 bytes).</summary>
public readonly record struct TcpRepairWindow(uint SndWl1, uint SndWnd, uint MaxWindow, uint RcvWnd, uint RcvWup)
{
    internal void Encode(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32BigEndian(d, SndWl1);
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], SndWnd);
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], MaxWindow);
        BinaryPrimitives.WriteUInt32BigEndian(d[12..], RcvWnd);
        BinaryPrimitives.WriteUInt32BigEndian(d[16..], RcvWup);
    }

    internal static TcpRepairWindow Decode(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt32BigEndian(s),
        BinaryPrimitives.ReadUInt32BigEndian(s[4..]),
        BinaryPrimitives.ReadUInt32BigEndian(s[8..]),
        BinaryPrimitives.ReadUInt32BigEndian(s[12..]),
        BinaryPrimitives.ReadUInt32BigEndian(s[16..]));
}
