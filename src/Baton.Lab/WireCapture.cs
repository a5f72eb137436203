using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Baton.Interop;

namespace Baton.Lab;

/// <summary>One TCP segment from a capture, as the ownership and timestamp checks need it.</summary>
/// <param name="Ticks">When the kernel saw it (<see cref="DateTime.Ticks"/>, UTC, from the capture's nanoseconds).</param>
/// <param name="SourceMac">The sender's link-layer address: which host transmitted it.</param>
/// <param name="TsVal">The TCP timestamp option's TSval; null when the segment carries none.</param>
public readonly record struct CapturedSegment(long Ticks, string SourceMac, IPEndPoint Source, IPEndPoint Destination,
    uint Seq, uint Ack, byte Flags, int PayloadLength, uint? TsVal, uint? TsEcr)
{
    public const byte Syn = 0x02, Rst = 0x04, AckFlag = 0x10, Fin = 0x01;

    public bool IsSynAck => (Flags & (Syn | AckFlag)) == (Syn | AckFlag);

    public override string ToString() =>
        $"{new DateTime(Ticks, DateTimeKind.Utc):HH:mm:ss.ffffff} {SourceMac} {Source} > {Destination} flags 0x{Flags:x2} seq {Seq} ack {Ack} len {PayloadLength}" +
        (TsVal is { } v ? $" TS val {v} ecr {TsEcr}" : "");
}

/// <summary>
/// tcpdump on one interface of a namespace host, writing headers only (a pcap with nanosecond
/// stamps) to a file of its own; <see cref="StopAsync"/> ends it (by the process id we started) and
/// reads the segments back. Packet taps stamp an outgoing frame when the device transmits it and
/// an incoming one when it arrives, on the same wall clock as <see cref="Modes.Handoff.Repair.OwnershipTrace"/>.
/// </summary>
public sealed partial class WireCapture : IDisposable
{
    private readonly Process _process;
    private readonly string _file;
    private readonly Task<string> _stderr;

    private WireCapture(Process process, string file)
    {
        _process = process;
        _file = file;
        _stderr = process.StandardError.ReadToEndAsync();
    }

    /// <summary>Where tcpdump is; null when it is not installed.</summary>
    public static string? Tool => new[] { "/usr/bin/tcpdump", "/usr/sbin/tcpdump" }.FirstOrDefault(File.Exists);

    /// <summary>
    /// Starts capturing on <paramref name="device"/> in <paramref name="ns"/>, frames going
    /// <paramref name="direction"/> ("in" or "out") that match <paramref name="filter"/>
    /// (pcap-filter syntax), and waits until tcpdump is listening.
    /// </summary>
    public static async Task<WireCapture> StartAsync(string ns, string device, string direction, string filter, string file)
    {
        string tool = Tool ?? throw new InvalidOperationException("tcpdump is not installed (Debian package tcpdump)");
        var psi = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        // -s 128: the Ethernet, IP and TCP headers with options; -B: a 64 MiB kernel buffer, so a
        // burst of many connections is not dropped; -U: each packet written when taken; -Z root:
        // keep the right to write the file in a root-only folder.
        foreach (var a in new[] { "netns", "exec", ns, tool, "-i", device, "-Q", direction, "-nn", "-s", "128", "-B", "65536",
                     "--time-stamp-precision=nano", "-U", "-Z", "root", "-w", file, filter })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start tcpdump");
        var c = new WireCapture(p, file);
        // tcpdump says "listening on ..." on stderr once its socket is bound; the file exists then too.
        var sw = Stopwatch.StartNew();
        while (!File.Exists(file) || new FileInfo(file).Length < 24)
        {
            if (p.HasExited) throw new InvalidOperationException($"tcpdump in {ns} exited: {await c._stderr.ConfigureAwait(false)}");
            if (sw.Elapsed > TimeSpan.FromSeconds(10)) { c.Dispose(); throw new InvalidOperationException($"tcpdump in {ns} did not start"); }
            await Task.Delay(20).ConfigureAwait(false);
        }
        await Task.Delay(100).ConfigureAwait(false); // the file header is written just before the socket is live
        return c;
    }

    /// <summary>Frames the kernel dropped before tcpdump read them (after <see cref="StopAsync"/>).</summary>
    public long Dropped { get; private set; }

    /// <summary>Stops tcpdump (SIGINT: it flushes the file) and reads every captured TCP segment.</summary>
    public async Task<IReadOnlyList<CapturedSegment>> StopAsync()
    {
        if (!_process.HasExited) _ = Libc.Kill(_process.Id, Libc.SIGINT);
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            try { await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { _process.Kill(); }
        }
        string err = await _stderr.ConfigureAwait(false);
        if (DroppedByKernel().Match(err) is { Success: true } m) Dropped = long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        return Read(_file);
    }

    /// <summary>Reads the TCP/IPv4 segments of an Ethernet pcap file with nanosecond stamps.</summary>
    public static IReadOnlyList<CapturedSegment> Read(string file)
    {
        var data = File.ReadAllBytes(file);
        var list = new List<CapturedSegment>();
        if (data.Length < 24) return list;
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(data);
        if (magic != 0xa1b23c4d) throw new InvalidDataException($"{file}: not a little-endian nanosecond pcap (magic 0x{magic:x8})");
        if (BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(20)) != 1) throw new InvalidDataException($"{file}: not an Ethernet capture");
        int off = 24;
        while (off + 16 <= data.Length)
        {
            long sec = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(off));
            long nsec = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(off + 4));
            int incl = (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(off + 8));
            off += 16;
            if (off + incl > data.Length) break; // cut short by the stop
            var frame = data.AsSpan(off, incl);
            off += incl;
            long ticks = DateTime.UnixEpoch.Ticks + sec * TimeSpan.TicksPerSecond + nsec / 100;
            if (Parse(frame, ticks) is { } s) list.Add(s);
        }
        return list;
    }

    private static CapturedSegment? Parse(ReadOnlySpan<byte> f, long ticks)
    {
        if (f.Length < 14 + 20 || BinaryPrimitives.ReadUInt16BigEndian(f[12..]) != 0x0800) return null;
        string mac = Convert.ToHexString(f.Slice(6, 6)).ToLowerInvariant();
        mac = string.Join(':', Enumerable.Range(0, 6).Select(i => mac.Substring(i * 2, 2)));
        var ip = f[14..];
        int ihl = (ip[0] & 0xF) * 4;
        if (ip[9] != 6 || ip.Length < ihl + 20) return null;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        var src = new IPAddress(ip.Slice(12, 4));
        var dst = new IPAddress(ip.Slice(16, 4));
        var tcp = ip[ihl..];
        int thl = (tcp[12] >> 4) * 4;
        uint? tsval = null, tsecr = null;
        var opts = tcp[20..Math.Min(thl, tcp.Length)];
        for (int i = 0; i < opts.Length;)
        {
            byte kind = opts[i];
            if (kind == 0) break;
            if (kind == 1) { i++; continue; }
            if (i + 1 >= opts.Length) break;
            int len = opts[i + 1];
            if (len < 2 || i + len > opts.Length) break;
            if (kind == 8 && len == 10)
            {
                tsval = BinaryPrimitives.ReadUInt32BigEndian(opts[(i + 2)..]);
                tsecr = BinaryPrimitives.ReadUInt32BigEndian(opts[(i + 6)..]);
            }
            i += len;
        }
        // A GSO aggregate's IP length covers all of it (beyond the MTU), which is what was sent.
        return new CapturedSegment(ticks, mac,
            new IPEndPoint(src, BinaryPrimitives.ReadUInt16BigEndian(tcp)), new IPEndPoint(dst, BinaryPrimitives.ReadUInt16BigEndian(tcp[2..])),
            BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]), BinaryPrimitives.ReadUInt32BigEndian(tcp[8..]), tcp[13],
            Math.Max(0, total - ihl - thl), tsval, tsecr);
    }

    /// <summary>Ends tcpdump if it still runs (by the id we started) and deletes its file.</summary>
    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(); } catch (InvalidOperationException) { }
        _process.Dispose();
        try { File.Delete(_file); } catch (IOException) { }
    }

    [GeneratedRegex(@"(\d+) packets? dropped by kernel")]
    private static partial Regex DroppedByKernel();
}
