using Baton.Modes.Handoff.Protocol;
using Baton.Modes.Handoff.Repair;

namespace Baton.Modes.Handoff.Router;

/// <summary>
/// Connections the router itself holds when it stops for a restart (between requests, or with
/// part of the next request read), kept for the next run: each is blocked in the steering (its
/// packets dropped meanwhile; the client resends them after its RTO), dumped with TCP_REPAIR and
/// closed silently, and its snapshot written to a file of this router's interface and network
/// namespace in <see cref="Directory"/>, the same layout a hand-off sends (SnapshotLayout). The next
/// run restores them and lets their packets in again.
/// </summary>
internal static class ParkedConnections
{
    /// <summary>Where parked connections wait between two runs: tmpfs, gone at reboot, as they are.</summary>
    public const string Directory = "/run/baton";

    /// <summary>
    /// The file of the router on <paramref name="device"/> in this network namespace: one per
    /// namespace (the inode of /proc/self/ns/net), as every namespace has its own eth0.
    /// </summary>
    public static string FileFor(string device)
    {
        var ns = File.ResolveLinkTarget("/proc/self/ns/net", returnFinalTarget: false)?.Name ?? "net";
        var inode = new string(ns.Where(char.IsAsciiDigit).ToArray());
        return Path.Combine(Directory, $"parked-{inode}-{device}.bin");
    }

    /// <summary>Writes <paramref name="snapshots"/> (only root may read them: they hold the connections' data).</summary>
    public static void Write(string file, IReadOnlyList<TcpSnapshot> snapshots)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var f = new FileStream(file, options);
        Span<byte> length = stackalloc byte[4];
        foreach (var s in snapshots)
        {
            var bytes = new byte[SnapshotLayout.Length(s)];
            SnapshotLayout.Write(s, bytes);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
            f.Write(length);
            f.Write(bytes);
        }
    }

    /// <summary>Reads and deletes <paramref name="file"/>: the snapshots in it, or none; a damaged tail ends the list.</summary>
    public static List<TcpSnapshot> Take(string file)
    {
        var all = new List<TcpSnapshot>();
        if (!File.Exists(file)) return all;
        var data = File.ReadAllBytes(file);
        File.Delete(file);
        for (int at = 0; at + 4 <= data.Length;)
        {
            int n = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(at));
            if (n <= 0 || at + 4 + n > data.Length || !SnapshotLayout.TryRead(data.AsSpan(at + 4, n), out var s)) break;
            all.Add(s!);
            at += 4 + n;
        }
        return all;
    }
}
