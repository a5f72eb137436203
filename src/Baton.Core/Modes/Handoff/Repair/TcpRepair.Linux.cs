using System.Net;
using System.Net.Sockets;
using Baton.Interop;

namespace Baton.Modes.Handoff.Repair;

/// <summary>
/// Linux TCP_REPAIR: freezes a live connection into a <see cref="TcpSnapshot"/> and rebuilds it
/// in another stack. The order of calls is the one measured in DESIGN.md §4; each deviation we
/// tried there failed with EPERM/EINVAL/EADDRINUSE, so keep it.
/// </summary>
internal static class TcpRepair
{
    private const int TCP_MAXSEG = 2;
    private const int TCP_NODELAY = 1;
    private const int TCP_INFO = 11;
    private const int TCP_REPAIR = 19;
    private const int TCP_REPAIR_QUEUE = 20;
    private const int TCP_QUEUE_SEQ = 21;
    private const int TCP_REPAIR_OPTIONS = 22;
    private const int TCP_TIMESTAMP = 24;
    private const int TCP_REPAIR_WINDOW = 29;
    private const int SO_REUSEADDR = 2;
    private const int SO_SNDBUF = 7, SO_SNDBUFFORCE = 32, SO_RCVBUF = 8, SO_RCVBUFFORCE = 33;

    private const int TCP_RECV_QUEUE = 1, TCP_SEND_QUEUE = 2;
    private const int TCP_REPAIR_ON = 1, TCP_REPAIR_OFF = 0, TCP_REPAIR_OFF_NO_WP = -1;
    private const int TCP_ESTABLISHED = 1;

    private const int TCPI_OPT_TIMESTAMPS = 1, TCPI_OPT_SACK = 2, TCPI_OPT_WSCALE = 4;
    private const uint TCPOPT_MSS = 2, TCPOPT_WINDOW = 3, TCPOPT_SACK_PERM = 4, TCPOPT_TIMESTAMP = 8;

    /// <summary>Fails fast, with the one-line privilege error, where TCP_REPAIR is not allowed.</summary>
    public static void EnsurePrivilege()
    {
        int fd = Libc.Socket(Libc.AF_INET, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, Libc.IPPROTO_TCP);
        Libc.Check(fd, "socket");
        try { EnterRepair(fd); }
        finally { Libc.Close(fd); }
    }

    /// <summary>Bytes the kernel has not sent yet (SIOCOUTQNSD).</summary>
    public static int Unsent(Socket socket)
    {
        using var fd = new FdLease(socket.SafeHandle);
        return Libc.IoctlInt(fd.Fd, Libc.SIOCOUTQNSD, "ioctl(SIOCOUTQNSD)");
    }

    /// <summary>Bytes in the send queue: sent but not acknowledged, and unsent (SIOCOUTQ).</summary>
    public static int Unacknowledged(Socket socket)
    {
        using var fd = new FdLease(socket.SafeHandle);
        return Libc.IoctlInt(fd.Fd, Libc.SIOCOUTQ, "ioctl(SIOCOUTQ)");
    }

    /// <summary>
    /// Puts <paramref name="socket"/> in repair mode and dumps it. Packets for the connection must
    /// already be blocked: a socket in repair mode still queues and ACKs input. On success the
    /// socket stays in repair mode (dispose it to drop it silently, or <see cref="Resume"/> it);
    /// on failure it is left live, as it was.
    /// </summary>
    public static TcpSnapshot Dump(Socket socket)
    {
        // Leased for the whole dump: a close on another path waits for it, rather than the dump
        // reading a number that meanwhile belongs to another socket.
        using var lease = new FdLease(socket.SafeHandle);
        int fd = lease.Fd;
        EnterRepair(fd);
        try
        {
            // A segment that passed steering just before the hold can still reach the socket while
            // it is read: the socket queues and ACKs it (repair mode stops neither), so the client
            // counts it delivered, and a snapshot read before it arrived lacks it: the new owner
            // waits for bytes the client never sends again, and the connection hangs (seen at 64
            // connections once RPS spread the lab's softirq work over both CPUs: ~1 upload in
            // 13,000 stuck for good). So the receive sequence is read before the receive queue and
            // again after it, and a dump during which it moved is read again.
            // The window is read last and checked too: an ACK the socket sent while it was read
            // moves it on, and a snapshot with the window from before that ACK gave the new owner a
            // smaller window than the client had seen. Since 6.17 a segment ending beyond the window
            // is dropped when the receive queue is not empty (TcpExtBeyondWindow), and the client
            // resent the whole aggregate after SACKs: 10 such drops and 5 client SACK recoveries in
            // 76,800 demo requests at 64 connections, read from captures on the bridge.
            // The send side is checked the same way, and then frozen. A socket in repair mode with
            // no queue or the receive queue selected still transmits for real when its pacing or
            // TSQ timer or a loss probe pushes it: bytes the snapshot counts as unsent then reach
            // the client, whose ACKs the new owner drops as ACKs of data it never sent
            // (TcpExtTCPACKSkippedChallenge), and the connection crawled on 524-byte retransmissions
            // after a 3 s RTO (TcpRepairTests, 4 MiB queued: 1 run in 20-30 under load). With the
            // send queue selected, what the kernel would send is marked sent without leaving: the
            // client may lack bytes the snapshot counts as in flight, which the new owner resends,
            // never the other way round. With nothing unsent there is nothing to push (the hand-off
            // path: the router's socket, and the agent's after its delivery wait), so no extra calls.
            for (int attempt = 1; ; attempt++)
            {
                var snapshot = ReadState(socket, fd);
                // The receive queue is still selected.
                if (snapshot is not null && QueueSeq(fd) == snapshot.ReceiveSeq && ReadWindow(fd) == snapshot.Window)
                {
                    if (snapshot.SendUnsent == 0) return snapshot;
                    Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "setsockopt(TCP_REPAIR_QUEUE)");
                    if (SendSide(fd) == (snapshot.SendQueue.Length, snapshot.SendUnsent)) return snapshot;
                }
                if (attempt == MaxDumpReads)
                    throw new ConnectionNotMovableException($"data kept arriving during {attempt} dumps: the connection's packets are not held back");
            }
        }
        catch
        {
            Resume(socket);
            throw;
        }
    }

    private const int MaxDumpReads = 4;

    // The send queue's length (SIOCOUTQ) and how much of it was not sent yet (SIOCOUTQNSD), as a snapshot holds them.
    private static (int Queued, int Unsent) SendSide(int fd)
    {
        int outq = Libc.IoctlInt(fd, Libc.SIOCOUTQ, "ioctl(SIOCOUTQ)");
        return (outq, Math.Min(Libc.IoctlInt(fd, Libc.SIOCOUTQNSD, "ioctl(SIOCOUTQNSD)"), outq));
    }

    // TCP_QUEUE_SEQ of the selected queue: write_seq of the send queue, rcv_nxt of the receive queue.
    private static uint QueueSeq(int fd) =>
        (uint)Libc.GetSockOptInt(fd, Libc.IPPROTO_TCP, TCP_QUEUE_SEQ, "getsockopt(TCP_QUEUE_SEQ)");

    // One read of the whole state, in repair mode. The receive side comes last, its sequence
    // before the queue's length and the window after it, so that Dump's one more read of both, with
    // the receive queue still selected, shows whether anything arrived or was ACKed in between.
    // Null when an ACK took bytes off the send queue between its length and its peek (bench/run.sh,
    // pipelined phase: "send queue peek returned 0 of 146 bytes", once in three runs): read again.
    private static TcpSnapshot? ReadState(Socket socket, int fd)
    {
        // Through tcpi_pacing_rate (offset 104): the struct's first 112 bytes.
        Span<byte> info = stackalloc byte[112];
        Libc.GetSockOpt(fd, Libc.IPPROTO_TCP, TCP_INFO, info, "getsockopt(TCP_INFO)");
        if (info[0] != TCP_ESTABLISHED)
            throw new ConnectionNotMovableException($"connection is in TCP state {StateName(info[0])}, only ESTABLISHED can be moved");
        byte options = info[5];
        byte wscale = info[6];
        int mss = Libc.GetSockOptInt(fd, Libc.IPPROTO_TCP, TCP_MAXSEG, "getsockopt(TCP_MAXSEG)");
        uint timestamp = (uint)Libc.GetSockOptInt(fd, Libc.IPPROTO_TCP, TCP_TIMESTAMP, "getsockopt(TCP_TIMESTAMP)")
            + PacingLeadMs(System.Runtime.InteropServices.MemoryMarshal.Read<ulong>(info[104..]));
        var (outq, unsent) = SendSide(fd);
        Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "setsockopt(TCP_REPAIR_QUEUE)");
        uint sendSeq = QueueSeq(fd);
        byte[] sendQueue = PeekQueue(fd, outq, "send");
        if (sendQueue.Length < outq) return null;

        Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "setsockopt(TCP_REPAIR_QUEUE)");
        uint recvSeq = QueueSeq(fd);
        int inq = Libc.IoctlInt(fd, Libc.SIOCINQ, "ioctl(SIOCINQ)");
        byte[] recvQueue = PeekQueue(fd, inq, "receive");
        if (recvQueue.Length < inq) return null;
        var window = ReadWindow(fd);
        // No TCP_REPAIR_QUEUE = NO_QUEUE after: Dump's check reads the receive queue's sequence
        // and then, with bytes unsent, selects the send queue for good (the socket is closed in
        // repair mode or resumed, and TCP_REPAIR = on resets the selection).

        return new TcpSnapshot
        {
            Local = (IPEndPoint)socket.LocalEndPoint!,
            Remote = (IPEndPoint)socket.RemoteEndPoint!,
            SendSeq = sendSeq,
            ReceiveSeq = recvSeq,
            SendQueue = sendQueue,
            SendUnsent = unsent,
            ReceiveQueue = recvQueue,
            Mss = (ushort)mss,
            Timestamps = (options & TCPI_OPT_TIMESTAMPS) != 0,
            Sack = (options & TCPI_OPT_SACK) != 0,
            WindowScaling = (options & TCPI_OPT_WSCALE) != 0,
            SendWindowScale = (byte)(wscale & 0xF),
            ReceiveWindowScale = (byte)(wscale >> 4),
            Timestamp = timestamp,
            Window = window,
        };
    }

    private static TcpRepairWindow ReadWindow(int fd)
    {
        Span<byte> win = stackalloc byte[20];
        Libc.GetSockOpt(fd, Libc.IPPROTO_TCP, TCP_REPAIR_WINDOW, win, "getsockopt(TCP_REPAIR_WINDOW)");
        return System.Runtime.InteropServices.MemoryMarshal.Read<TcpRepairWindow>(win);
    }

    /// <summary>
    /// <see cref="Dump"/>, then closes the socket at once, still in repair mode: nothing is sent and
    /// every timer stops (tcp_disconnect). Open in repair mode, a copy still fires its delayed ACK
    /// and window updates; even the few calls between a dump and the caller's close were enough for
    /// that once in ~6 runs of OneOwnerTests (an ACK 7.7 ms after the dump, across a pause of the
    /// dumping thread), so the close follows the last read here. The ownership trace's release is
    /// stamped after the close.
    /// </summary>
    public static TcpSnapshot DumpAndClose(Socket socket)
    {
        var snapshot = Dump(socket);
        socket.Dispose();
        OwnershipTrace.Released(snapshot.Remote);
        return snapshot;
    }

    /// <summary>
    /// How far the socket's TSvals may run ahead of its clock. A paced socket (BBR, the default
    /// congestion control here, paces inside TCP) moves its departure time (tcp_wstamp_ns) one
    /// skb's length / pacing rate into the future after each send, and a pure ACK sent then carries
    /// that future time as its TSval, while TCP_TIMESTAMP reads the clock itself. Restored from the
    /// clock alone, the next owner's first segments came with TSvals up to 14 ms older than the
    /// previous owner's last ACK (OneOwnerTests), and the client drops such segments (PAWS). The
    /// lead is one skb (at most 64 KiB, veth's gso_max_size) over the pacing rate when that skb
    /// left, which may have been lower than the rate read at the dump: with 64 connections a bound
    /// of 64 KiB over the rate now still fell 13 ms short once in 4,000 requests (misses seen: 9,
    /// 13, 14 ms). So the clock moves on by that bound but at least 20 ms, at most 1 s, also when
    /// the socket reports no pacing rate (0 or ~0). A later clock is not free:
    /// TSvals may step forward, but the new owner's first RTT samples from the TSecr of the old
    /// owner's segments come out that much longer (a 50 ms floor, in a 2%-loss soak of 30,000
    /// requests: p99.9 949 ms, max 10.3 s, 21 requests over 1 s; without a floor 661 ms, 2.4 s, 18:
    /// one run each, within the noise of such runs, so only a hint).
    /// Always even: bit 0 of TCP_TIMESTAMP is the microsecond flag, and an odd sum switched the
    /// restored connection to µs timestamps (its TSvals then ran 1000× faster, and stepped back
    /// on the next move).
    /// </summary>
    internal static uint PacingLeadMs(ulong pacingRate)
    {
        // Not paced (0 or ~0): still the floor. A fresh-clone CI run saw a 3 ms step-back after a
        // dump that added nothing this way; where that socket's lead came from is not known yet.
        ulong bound = pacingRate == 0 || pacingRate == ulong.MaxValue ? 0 : (65536UL * 1000 + pacingRate - 1) / pacingRate + 1;
        uint ms = (uint)Math.Clamp(bound, MinPacingLeadMs, 1000);
        return (ms + 1) & ~1u;
    }

    private const ulong MinPacingLeadMs = 20;

    /// <summary>Takes a socket out of repair mode, live again, without a window probe.</summary>
    public static void Resume(Socket socket)
    {
        using var fd = new FdLease(socket.SafeHandle);
        Libc.SetSockOpt(fd.Fd, Libc.IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP, "setsockopt(TCP_REPAIR=off)");
    }

    /// <summary>
    /// Rebuilds the connection in this network namespace, in repair mode: it exists and holds its
    /// queues but sends nothing until <see cref="RepairedSocket.Activate"/>. Call it only while the
    /// connection's packets are kept away from this host, else its kernel may answer with a reset.
    /// </summary>
    public static RepairedSocket Restore(TcpSnapshot s)
    {
        // A blocking fd, as the managed Socket made of it at activation expects, but every queue
        // write is MSG_DONTWAIT: a queue that does not fit must fail (EAGAIN) and leave the
        // connection with its previous owner, never hang a control loop while the flow is blocked.
        // (A SOCK_NONBLOCK fd cost two fcntl calls per activation to undo.)
        int fd = Libc.Socket(Libc.AF_INET, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, Libc.IPPROTO_TCP);
        Libc.Check(fd, "socket");
        try
        {
            // TCP_REPAIR sets the forced-reuse mode; SO_REUSEADDR now would overwrite it and bind()
            // would then fail against the listener on VIP:port.
            EnterRepair(fd);
            Bind(fd, s.Local);
            Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "setsockopt(TCP_REPAIR_QUEUE=recv)");
            Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_QUEUE_SEQ, unchecked((int)(s.ReceiveSeq - (uint)s.ReceiveQueue.Length)), "setsockopt(TCP_QUEUE_SEQ=recv)");
            Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "setsockopt(TCP_REPAIR_QUEUE=send)");
            Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_QUEUE_SEQ, unchecked((int)(s.SendSeq - (uint)s.SendQueue.Length)), "setsockopt(TCP_QUEUE_SEQ=send)");
            // Without the clamp the restored socket starts at 524-byte segments; above 32767 is EINVAL.
            if (s.Mss is > 0 and <= 32767)
                Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_MAXSEG, s.Mss, "setsockopt(TCP_MAXSEG)");
            Connect(fd, s.Remote);
            SetRepairOptions(fd, s);
            // Since 6.7 bit 0 of the value is the microsecond flag and a read clears it; +2 keeps
            // the clock from stepping back 1 ms at the client.
            Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_TIMESTAMP, unchecked((int)(s.Timestamp + 2)), "setsockopt(TCP_TIMESTAMP)");

            var inFlight = s.SendQueue.AsSpan(0, s.SendQueue.Length - s.SendUnsent);
            // The receive queue needs no room made: its repair path is not held to the buffer size
            // (a 1+ MiB queue restores into a new socket, TcpRepairTests).
            FitSendBuffer(fd, inFlight.Length);
            FitReceiveBuffer(fd, s.ReceiveQueue.Length, s.Window.RcvWnd);
            // The send queue is still selected from its TCP_QUEUE_SEQ above. An empty queue needs
            // no selection and no write: after a typical transaction both are empty (the agent waits
            // for the response's ACK, the next request has not come), which saves three calls. The
            // selection is not reset to NO_QUEUE at the end either: only repair-mode send/recv and
            // TCP_QUEUE_SEQ read it, and nothing calls those after this.
            bool sendSelected = true;
            if (s.ReceiveQueue.Length > 0)
            {
                Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "setsockopt(TCP_REPAIR_QUEUE=recv)");
                SendAll(fd, s.ReceiveQueue, "send(receive queue)");
                sendSelected = false;
            }
            if (!inFlight.IsEmpty)
            {
                if (!sendSelected)
                    Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "setsockopt(TCP_REPAIR_QUEUE=send)");
                SendAll(fd, inFlight, "send(send queue)");
            }

            // Last: before the receive queue is in place the kernel refuses the window (EINVAL).
            var window = s.Window;
            Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_REPAIR_WINDOW, System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<TcpRepairWindow>(in window)), "setsockopt(TCP_REPAIR_WINDOW)");
            OwnershipTrace.Holds(s.Remote);
            return new RepairedSocket(fd, s.Remote, s.SendQueue.AsMemory(s.SendQueue.Length - s.SendUnsent), probe: !inFlight.IsEmpty);
        }
        catch
        {
            Libc.Close(fd); // still in repair mode: nothing reaches the wire
            throw;
        }
    }

    /// <summary>
    /// Takes a restored socket live. With <paramref name="probe"/> (data was in flight when the
    /// connection was dumped) it leaves repair with a window probe: the client answers it at once
    /// with its ACK and SACK blocks, which the copy needs, as it has no RTT and no scoreboard.
    /// Silent, a copy that had sent data lost on the way resent it only after its first timeout:
    /// 1 s for the tail loss probe (no RTT) and 3 s for the RTO when the host's TCP metrics cache
    /// had no RTT for the client (tcp_init_metrics' fallback). Under 2% loss a capture showed a
    /// response returned with its tail lost wait 1 s, then 3 s, then 6 s: one 10.4 s request.
    /// Without data in flight there is nothing to learn, and no probe (a segment each way per move).
    /// </summary>
    internal static void LeaveRepairAndTune(int fd, bool probe)
    {
        Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_REPAIR, probe ? TCP_REPAIR_OFF : TCP_REPAIR_OFF_NO_WP, "setsockopt(TCP_REPAIR=off)");
        // Socket options are not part of the repair state. Without NODELAY, Nagle held a response
        // behind un-ACKed data until the client's delayed ACK (DESIGN.md §3).
        Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)");
        Libc.SetSockOpt(fd, Libc.SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)");
    }

    /// <summary>
    /// Makes room for the in-flight part of the send queue. A new socket's send buffer is small
    /// (tcp_wmem's default until autotuning grows it), while the old owner's had grown: after a
    /// large response megabytes can still be un-ACKed, and a queue that does not fit fails with
    /// EAGAIN, losing the connection. Forcing a size turns autotuning off for the buffer, so it is
    /// done only when the queue needs it, with room to spare. SO_SNDBUFFORCE passes wmem_max; it
    /// needs CAP_NET_ADMIN, which TCP_REPAIR needs anyway.
    /// </summary>
    private static void FitSendBuffer(int fd, int queued)
    {
        if (queued == 0) return;
        // The kernel doubles the value and charges each segment's overhead against it.
        long wanted = queued + (64 << 10);
        int current = Libc.GetSockOptInt(fd, Libc.SOL_SOCKET, SO_SNDBUF, "getsockopt(SO_SNDBUF)");
        if (current >= 2 * wanted) return;
        Libc.SetSockOpt(fd, Libc.SOL_SOCKET, SO_SNDBUFFORCE, (int)Math.Min(wanted, int.MaxValue / 2), $"setsockopt(SO_SNDBUFFORCE) for a {queued}-byte send queue");
    }

    /// <summary>
    /// Makes room for what the client may send. The restored window is the old owner's, which
    /// autotuning had grown (up to megabytes after an upload), while a new socket's receive buffer
    /// is tcp_rmem's default (128 KiB): the client filled the window, the kernel pruned the queue
    /// (PruneCalled) and dropped what did not fit, and the client resent it (bench/soak.sh, 64
    /// connections, 3,000 requests: client TCPFastRetrans 220, PruneCalled ~50 at the router and
    /// every agent). The buffer takes the queued bytes and the whole window with room to spare, up
    /// to what autotuning could have given it (tcp_rmem's maximum: else the spare room would grow
    /// the window on every move); a forced size turns autotuning off for it, so it is set only when
    /// the default is too small.
    /// </summary>
    private static void FitReceiveBuffer(int fd, int queued, uint window)
    {
        long wanted = Math.Min(queued + (long)window + (64 << 10), Math.Max(queued + (long)window, ReceiveWindow.HostMaximum));
        // SO_RCVBUF reads back the doubled value the kernel keeps; about half of it is payload.
        int current = Libc.GetSockOptInt(fd, Libc.SOL_SOCKET, SO_RCVBUF, "getsockopt(SO_RCVBUF)");
        if (current >= 2 * wanted) return;
        Libc.SetSockOpt(fd, Libc.SOL_SOCKET, SO_RCVBUFFORCE, (int)Math.Min(wanted, int.MaxValue / 2), $"setsockopt(SO_RCVBUFFORCE) for a {window}-byte window");
    }

    private static void EnterRepair(int fd)
    {
        if (Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON) is var err && err != 0)
        {
            if (err is Libc.EPERM or Libc.EACCES) throw new MissingPrivilegeException();
            throw new NativeCallException("setsockopt(TCP_REPAIR)", err);
        }
    }

    private static unsafe void SetRepairOptions(int fd, TcpSnapshot s)
    {
        Span<uint> opts = stackalloc uint[8];
        int n = 0;
        opts[n++] = TCPOPT_MSS; opts[n++] = s.Mss;
        if (s.WindowScaling) { opts[n++] = TCPOPT_WINDOW; opts[n++] = s.SendWindowScale | ((uint)s.ReceiveWindowScale << 16); }
        if (s.Sack) { opts[n++] = TCPOPT_SACK_PERM; opts[n++] = 0; }
        if (s.Timestamps) { opts[n++] = TCPOPT_TIMESTAMP; opts[n++] = 0; }
        fixed (uint* p = opts)
            Libc.Check(Libc.SetSockOpt(fd, Libc.IPPROTO_TCP, TCP_REPAIR_OPTIONS, p, (uint)(n * sizeof(uint))), "setsockopt(TCP_REPAIR_OPTIONS)");
    }

    // The queue's first bytes, up to length: fewer when the queue shrank since its length was read
    // (an ACK on the send queue), and the caller reads the state again.
    private static unsafe byte[] PeekQueue(int fd, int length, string which)
    {
        if (length <= 0) return [];
        var buffer = new byte[length];
        nint n;
        fixed (byte* p = buffer)
        {
            n = Libc.Recv(fd, p, (nuint)length, Libc.MSG_PEEK | Libc.MSG_DONTWAIT);
            if (n < 0) throw Libc.Error($"recv(MSG_PEEK, {which} queue)");
        }
        return n == length ? buffer : buffer[..(int)n];
    }

    private static unsafe void SendAll(int fd, ReadOnlySpan<byte> data, string what)
    {
        fixed (byte* p = data)
        {
            int off = 0;
            while (off < data.Length)
            {
                nint n = Libc.Send(fd, p + off, (nuint)(data.Length - off), Libc.MSG_DONTWAIT);
                if (n < 0) throw Libc.Error(what);
                if (n == 0) throw new NativeCallException(what, Libc.EAGAIN);
                off += (int)n;
            }
        }
    }

    private static unsafe void Bind(int fd, IPEndPoint ep)
    {
        var sa = SockAddrIn.From(ep);
        Libc.Check(Libc.Bind(fd, &sa, 16), $"bind({ep})");
    }

    private static unsafe void Connect(int fd, IPEndPoint ep)
    {
        var sa = SockAddrIn.From(ep);
        Libc.Check(Libc.Connect(fd, &sa, 16), $"connect({ep}) in repair mode");
    }


    private static string StateName(int state) => state switch
    {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT1",
        5 => "FIN_WAIT2",
        6 => "TIME_WAIT",
        7 => "CLOSE",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        _ => state.ToString(),
    };
}
