using System.Net;

namespace Baton.Modes.Handoff.Repair;

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

    /// <inheritdoc />
    public override string ToString() =>
        $"{Remote}->{Local} snd={SendSeq} rcv={ReceiveSeq} sndq={SendQueue.Length}({SendUnsent} unsent) rcvq={ReceiveQueue.Length} mss={Mss}";
}

/// <summary>
/// struct tcp_repair_window (TCP_REPAIR_WINDOW): five u32 in the host's order, exactly 20 bytes, so
/// the kernel's struct is read and written as this one.
/// </summary>
public readonly record struct TcpRepairWindow(uint SndWl1, uint SndWnd, uint MaxWindow, uint RcvWnd, uint RcvWup);
