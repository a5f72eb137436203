using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using Baton.Interop;
using Baton.Metrics;

namespace Baton.Steering.Hold;

/// <summary>
/// The router's hold queue on the wire: a PACKET_VNET_HDR packet socket on the hold device's queue
/// end reads the frames eBPF steering redirects there (connections frozen in transit) into a
/// <see cref="HoldQueue"/>, and replays a connection's frames, in order, when it lands: out the
/// uplink to the back-end that now owns it (MACs rewritten as steering's forward does), or into the
/// router's own stack through the hold device after a return. Without it those frames are dropped
/// and the client resends them only after its ≥ 200 ms RTO (one request in ~24 in
/// bench/results/handoff.md, and the whole of the hand-off p99).
/// One thread reads; a replay first drains the socket under the same lock, so a frame read before
/// the connection landed is never left behind.
/// </summary>
internal sealed unsafe class HoldCapture : IDisposable
{
    // A GSO aggregate is at most 64 KiB of IP plus its headers; anything larger is dropped (counted).
    private const int BufferSize = HeldFrame.VnetHeaderLength + 14 + 65536 + 64;
    private const int SO_RCVBUFFORCE = 33, SO_MARK = 36;
    private const int MSG_TRUNC = 0x20;
    // How often the reader expires old frames and reads the kernel's drop count, with nothing to read.
    private const int ExpiryMs = 100;

    private readonly object _gate = new();
    private readonly HoldQueue _queue;
    private readonly HoldDevice _device;
    private readonly int _uplink;
    private readonly int _reader, _sender, _hostSender;
    // Host replays set the socket's mark before they send: one at a time.
    private readonly object _hostReplay = new();
    private readonly byte* _buffer;
    private readonly PollLoop _loop;
    private long _lastExpiry = Stopwatch.GetTimestamp();
    private bool _disposed;

    private HoldCapture(HoldDevice device, int uplink, HoldLimits limits, int reader, int sender, int hostSender)
    {
        _hostSender = hostSender;
        _device = device;
        _uplink = uplink;
        _queue = new HoldQueue(limits);
        _reader = reader;
        _sender = sender;
        _buffer = (byte*)NativeMemory.Alloc(BufferSize);
        _loop = new PollLoop("Baton hold queue", WaitForFrames, Read, static e =>
        {
            if (e is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e); // a bug: as unhandled as on a thread of its own
        });
    }

    /// <summary>ifindex of the device steering's hold action redirects to.</summary>
    public int DeviceIfIndex => _device.IfIndex;

    /// <summary>ifindex of the end the hold queue reads, where <c>release</c> runs.</summary>
    public int QueueIfIndex => _device.QueueIfIndex;

    /// <summary>MAC of the hold device: frames for the router's stack are addressed to it.</summary>
    public ReadOnlySpan<byte> DeviceMac => _device.Mac;

    /// <summary>
    /// Makes the hold device pair (replacing a crashed run's) and the packet sockets, for replays out
    /// of <paramref name="uplink"/> (the router's client-facing interface), in the calling process's namespace.
    /// </summary>
    /// <exception cref="SteeringException">The devices or the sockets could not be made.</exception>
    public static HoldCapture Start(int uplink, HoldLimits limits)
    {
        var device = HoldDevice.Create();
        int reader = -1, sender = -1, hostSender = -1;
        try
        {
            // Protocol 0 until bound: an ETH_P_ALL socket would see every device's frames meanwhile.
            reader = PacketSocket("socket(AF_PACKET) for the hold queue");
            Option(reader, SockAddrLl.SOL_PACKET, SockAddrLl.PACKET_VNET_HDR, 1, "setsockopt(PACKET_VNET_HDR)");
            // Replays for the router's stack leave through this same device: never read them back.
            Option(reader, SockAddrLl.SOL_PACKET, SockAddrLl.PACKET_IGNORE_OUTGOING, 1, "setsockopt(PACKET_IGNORE_OUTGOING)");
            // Frames the client-facing program sent this way while releasing a hold (marked) are the
            // queue end's program's to send on, never the hold queue's: not copied at all.
            AttachUnmarkedOnly(reader);
            // Frames wait here only between the reader's wake-ups, but under load the reader waits
            // for a CPU while many connections' uploads come in: as much as the queue may keep in
            // all. (4 MiB, as before 2026-12-03, is 100 GRO frames of 40 KB; a copy the socket
            // drops is a frame the client must resend, and shifts release's count.)
            _ = Libc.SetSockOpt(reader, Libc.SOL_SOCKET, SO_RCVBUFFORCE, (int)Math.Min(limits.TotalBytes, int.MaxValue / 2));
            Bind(reader, device.QueueIfIndex, SockAddrLl.ETH_P_ALL, "bind(AF_PACKET, hold queue)");

            // Protocol 0 and never bound to one: it receives nothing, and sendto names the device.
            sender = PacketSocket("socket(AF_PACKET) for replays");
            Option(sender, SockAddrLl.SOL_PACKET, SockAddrLl.PACKET_VNET_HDR, 1, "setsockopt(PACKET_VNET_HDR)");
            // Replays to the router's stack leave from their own socket, marked (SO_MARK) per replay.
            hostSender = PacketSocket("socket(AF_PACKET) for replays to the router");
            Option(hostSender, SockAddrLl.SOL_PACKET, SockAddrLl.PACKET_VNET_HDR, 1, "setsockopt(PACKET_VNET_HDR)");
            return new HoldCapture(device, uplink, limits, reader, sender, hostSender);
        }
        catch
        {
            if (reader >= 0) Libc.Close(reader);
            if (sender >= 0) Libc.Close(sender);
            if (hostSender >= 0) Libc.Close(hostSender);
            device.Dispose();
            throw;
        }
    }

    /// <summary>Starts keeping <paramref name="client"/>'s frames; call before steering redirects them here.</summary>
    public void Open(IPEndPoint client)
    {
        lock (_gate)
        {
            // Copies of frames the queue end sent on in the last release may still wait in the
            // socket (the reader had no CPU yet); read now, while the client is not held, they go.
            // Read after this hold opened, one would take the place of a held frame: it was sent
            // twice and the last held one not at all (found with a client moved twice in 1 ms).
            Drain();
            _queue.Open(client, Stopwatch.GetTimestamp());
        }
    }

    /// <summary>
    /// Sends <paramref name="client"/>'s held frames among the first <paramref name="upTo"/> of this
    /// hold, in order, to <paramref name="backendMac"/> out of the uplink, as steering's forward
    /// would have; the connection stays held. The steering calls it until the release opens with
    /// every frame the queue end counted as held replayed (steer.bpf.c, <c>release</c>).
    /// </summary>
    /// <returns>How many frames this hold has read so far (kept or not).</returns>
    public int ReplayToBackend(IPEndPoint client, int upTo, ReadOnlySpan<byte> backendMac, ReadOnlySpan<byte> routerMac)
    {
        var (frames, captured) = TakeUpTo(client, upTo);
        foreach (var f in frames)
        {
            HeldFrame.SetMacs(f, backendMac, routerMac);
            Send(_sender, f, _uplink);
        }
        return captured;
    }

    /// <summary>
    /// Delivers <paramref name="client"/>'s held frames among the first <paramref name="upTo"/> of
    /// this hold, in order, to the router's own stack; like <see cref="ReplayToBackend"/>. Each frame
    /// carries <paramref name="generation"/> (the hold's, steer.bpf.c) as its mark: the program at
    /// the hold device lets it on to the stack while that hold lasts, and steers it as a fresh
    /// frame when it is processed later. A send only queues the frame on the device's backlog;
    /// one processed after the router had dump-closed the socket for the connection's next move
    /// met the listener, which answered it with a reset (read from a capture: the router's RST
    /// 135 µs after its last ACK, answering an upload segment held during the return; 3 client
    /// connections reset in about 600,000 requests at 64 connections before, none in 307,000 after).
    /// </summary>
    /// <returns>How many frames this hold has read so far (kept or not).</returns>
    public int ReplayToHost(IPEndPoint client, uint generation, int upTo)
    {
        var (frames, captured) = TakeUpTo(client, upTo);
        if (frames.Count == 0) return captured;
        lock (_hostReplay)
        {
            int errno = Libc.SetSockOpt(_hostSender, Libc.SOL_SOCKET, SO_MARK, unchecked((int)generation));
            if (errno != 0)
            {
                Dropped(frames.Count, "replay-failed");
                return captured;
            }
            foreach (var f in frames)
            {
                // Addressed to the hold device, or its stack discards them as another host's.
                HeldFrame.SetMacs(f, _device.Mac, f.AsSpan(HeldFrame.VnetHeaderLength + 6, 6));
                Send(_hostSender, f, _device.QueueIfIndex);
            }
        }
        return captured;
    }

    /// <summary>
    /// Stops holding <paramref name="client"/> once its release opened: what is left are copies of
    /// frames the queue end's program sent on itself, and any read later are too.
    /// </summary>
    public void Close(IPEndPoint client)
    {
        lock (_gate) _queue.Drop(client);
    }

    /// <summary>Discards <paramref name="client"/>'s frames and stops holding it: the connection ended.</summary>
    public void Drop(IPEndPoint client)
    {
        int n;
        lock (_gate) n = _queue.Drop(client);
        Dropped(n, "ended");
    }

    private (IReadOnlyList<byte[]> Frames, int Captured) TakeUpTo(IPEndPoint client, int upTo)
    {
        lock (_gate)
        {
            if (_disposed) return ([], 0);
            Drain();
            return (_queue.TakeUpTo(client, upTo), _queue.Captured(client));
        }
    }

    // The reader's frames, or the next expiry.
    private int WaitForFrames(PollSet set)
    {
        set.Add(_reader);
        long left = ExpiryMs - (long)Stopwatch.GetElapsedTime(_lastExpiry).TotalMilliseconds;
        return (int)Math.Max(left, 0);
    }

    private void Read(PollSet set)
    {
        lock (_gate)
        {
            if (_disposed) return;
            if (set.Ready(0)) Drain();
            long now = Stopwatch.GetTimestamp();
            if (Stopwatch.GetElapsedTime(_lastExpiry, now).TotalMilliseconds >= ExpiryMs)
            {
                Dropped(_queue.Expire(now), "expired");
                Dropped(KernelDrops(), "socket-full");
                _lastExpiry = now;
            }
        }
    }

    // Under _gate: everything the socket has now goes into the queue, in the kernel's order.
    private void Drain()
    {
        while (true)
        {
            nint n = Libc.Recv(_reader, _buffer, BufferSize, Libc.MSG_DONTWAIT | MSG_TRUNC);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR) continue;
                // EAGAIN: empty. Anything else (EINVAL for a GSO kind virtio_net_hdr cannot describe)
                // loses that one frame only.
                if (errno != Libc.EAGAIN) { Dropped(1, "unreadable"); continue; }
                return;
            }
            if (n > BufferSize) { Dropped(1, "oversize"); continue; }
            var frame = new ReadOnlySpan<byte>(_buffer, (int)n);
            if (HeldFrame.ClientOf(frame) is not { } client) { Dropped(1, "not-held"); continue; }
            switch (_queue.Add(client, frame.ToArray()))
            {
                case HoldResult.Held: BatonMetrics.HoldHeld.Add(1); break;
                case HoldResult.Overflow: Dropped(1, "overflow"); break;
                // A copy of a frame the queue end's program sent on after its connection's release
                // opened (the socket saw it first): not a loss.
                default: break;
            }
        }
    }

    // Frames the kernel dropped because the reader's socket buffer was full (PACKET_STATISTICS,
    // which resets on read): not held, so the client resends them.
    private int KernelDrops()
    {
        const int PACKET_STATISTICS = 6;
        Span<uint> stats = stackalloc uint[2]; // tp_packets, tp_drops
        fixed (uint* p = stats)
        {
            uint len = 8;
            if (Libc.GetSockOpt(_reader, SockAddrLl.SOL_PACKET, PACKET_STATISTICS, p, ref len) != 0) return 0;
        }
        return (int)stats[1];
    }

    private static void Send(int socket, byte[] frame, int ifindex)
    {
        var to = SockAddrLl.For(ifindex, SockAddrLl.ETH_P_IP);
        nint rc;
        fixed (byte* p = frame) rc = Libc.SendTo(socket, p, (nuint)frame.Length, 0, &to, (uint)sizeof(SockAddrLl));
        if (rc < 0) Dropped(1, "replay-failed");
        else BatonMetrics.HoldReplayed.Add(1);
    }

    private static void Dropped(int frames, string reason)
    {
        if (frames > 0) BatonMetrics.HoldDropped.Add(frames, new KeyValuePair<string, object?>("reason", reason));
    }

    /// <summary>Stops reading, discards what is held, closes the sockets and deletes the hold devices.</summary>
    public void Dispose()
    {
        _loop.Dispose();
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            Libc.Close(_reader);
            Libc.Close(_sender);
            Libc.Close(_hostSender);
            NativeMemory.Free(_buffer);
        }
        _device.Dispose();
    }

    private static int PacketSocket(string what)
    {
        int fd = Libc.Socket(SockAddrLl.AF_PACKET, 3 /* SOCK_RAW */ | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0) throw Failure(what);
        return fd;
    }

    private static void Option(int fd, int level, int name, int value, string what)
    {
        int errno = Libc.SetSockOpt(fd, level, name, value);
        if (errno != 0) throw Failure(what, errno);
    }

    // A classic BPF socket filter: accept a frame whose skb->mark is 0, skip the rest (MARK_PASS).
    private static void AttachUnmarkedOnly(int fd)
    {
        const int SO_ATTACH_FILTER = 26;
        const uint MarkOffset = 0xfffff000 + 20; // SKF_AD_OFF + SKF_AD_MARK (linux/filter.h)
        Span<ulong> program = stackalloc ulong[4];
        program[0] = Instruction(0x20, 0, 0, MarkOffset); // ld mark
        program[1] = Instruction(0x15, 0, 1, 0);          // jeq #0, accept, skip
        program[2] = Instruction(0x06, 0, 0, uint.MaxValue); // accept: the whole frame
        program[3] = Instruction(0x06, 0, 0, 0);          // skip
        fixed (ulong* p = program)
        {
            // struct sock_fprog: unsigned short len; struct sock_filter *filter.
            var fprog = stackalloc nint[2];
            fprog[0] = program.Length;
            fprog[1] = (nint)p;
            if (Libc.SetSockOpt(fd, Libc.SOL_SOCKET, SO_ATTACH_FILTER, fprog, (uint)(2 * sizeof(nint))) != 0)
                throw Failure("setsockopt(SO_ATTACH_FILTER)");
        }
    }

    // struct sock_filter: u16 code, u8 jt, u8 jf, u32 k (little-endian).
    private static ulong Instruction(ushort code, byte jt, byte jf, uint k) =>
        code | (ulong)jt << 16 | (ulong)jf << 24 | (ulong)k << 32;

    private static void Bind(int fd, int ifindex, ushort protocol, string what)
    {
        var a = SockAddrLl.For(ifindex, protocol);
        if (Libc.Bind(fd, &a, (uint)sizeof(SockAddrLl)) < 0) throw Failure(what);
    }

    private static SteeringException Failure(string what, int errno = -1)
    {
        if (errno < 0) errno = Marshal.GetLastPInvokeError();
        return new SteeringException(errno == Libc.EPERM
            ? $"{what}: the hold queue needs CAP_NET_RAW and CAP_NET_ADMIN (run as root)"
            : new NativeCallException(what, errno).Message);
    }
}
