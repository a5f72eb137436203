using System.Text;
using Baton.Interop;

namespace Baton.Steering.Bpf;

/// <summary>
/// Reads a loaded program's name, and finds the <c>conns</c> map of a loaded steering program by the program's id (program info →
/// map ids → map info names), so a process other than the router can read it without pinning.
/// </summary>
internal static unsafe class AttachedMaps
{
    // struct bpf_prog_info: nr_map_ids @52, map_ids @56 (linux/bpf.h of this image; 232 bytes).
    private const int ProgInfoSize = 232, NrMapIdsOffset = 52, MapIdsOffset = 56;
    // struct bpf_map_info: name[16] @24 (88 bytes). struct bpf_prog_info: name[16] @64.
    private const int MapInfoSize = 88, MapNameOffset = 24, ProgNameOffset = 64;

    /// <summary>
    /// A new descriptor of the <c>conns</c> map of loaded program <paramref name="progId"/>, for a
    /// new router to take over (the caller closes it), when its key and value sizes and capacity are
    /// this build's; otherwise null and why not.
    /// </summary>
    public static (int Fd, string? Why) OpenConns(uint progId)
    {
        int prog = LibBpf.ProgGetFdById(progId);
        if (prog < 0) return (-1, LibBpf.Error($"bpf_prog_get_fd_by_id({progId})", prog).Message);
        try
        {
            foreach (uint mapId in MapIds(prog))
            {
                int map = LibBpf.MapGetFdById(mapId);
                if (map < 0) continue;
                if (MapName(map) != "conns")
                {
                    Libc.Close(map);
                    continue;
                }
                var (key, value, max) = MapSizes(map);
                if (key == FlowMap.KeySize && value == FlowMap.ValueSize && max == FlowMap.Capacity) return (map, null);
                Libc.Close(map);
                return (-1, $"the previous run's map has {key}-byte keys, {value}-byte values and {max} entries, this build's {FlowMap.KeySize}, {FlowMap.ValueSize} and {FlowMap.Capacity}");
            }
            return (-1, $"eBPF program {progId} has no map named conns");
        }
        finally { Libc.Close(prog); }
    }

    // struct bpf_map_info: key_size @8, value_size @12, max_entries @16.
    private static (uint Key, uint Value, uint Max) MapSizes(int map)
    {
        byte* info = stackalloc byte[MapInfoSize];
        new Span<byte>(info, MapInfoSize).Clear();
        uint len = MapInfoSize;
        int rc = LibBpf.ObjGetInfoByFd(map, info, &len);
        if (rc < 0) throw LibBpf.Error("bpf_obj_get_info_by_fd(map)", rc);
        return (*(uint*)(info + 8), *(uint*)(info + 12), *(uint*)(info + 16));
    }

    public static List<FlowEntry> ReadConns(uint progId)
    {
        int prog = LibBpf.ProgGetFdById(progId);
        if (prog < 0) throw LibBpf.Error($"bpf_prog_get_fd_by_id({progId})", prog);
        try
        {
            foreach (uint mapId in MapIds(prog))
            {
                int map = LibBpf.MapGetFdById(mapId);
                if (map < 0) continue;
                try
                {
                    if (MapName(map) == "conns") return FlowMap.Read(map);
                }
                finally { Libc.Close(map); }
            }
            throw new InvalidOperationException($"eBPF program {progId} has no map named conns");
        }
        finally { Libc.Close(prog); }
    }

    private static uint[] MapIds(int prog)
    {
        byte* info = stackalloc byte[ProgInfoSize];
        uint* ids = stackalloc uint[16];
        new Span<byte>(info, ProgInfoSize).Clear();
        // Ask for up to 16 map ids: nr_map_ids in, the array's address in map_ids.
        *(uint*)(info + NrMapIdsOffset) = 16;
        *(ulong*)(info + MapIdsOffset) = (ulong)ids;
        uint len = ProgInfoSize;
        int rc = LibBpf.ObjGetInfoByFd(prog, info, &len);
        if (rc < 0) throw LibBpf.Error("bpf_obj_get_info_by_fd(program)", rc);
        int n = (int)Math.Min(16u, *(uint*)(info + NrMapIdsOffset));
        return new ReadOnlySpan<uint>(ids, n).ToArray();
    }

    /// <summary>The name of loaded program <paramref name="progId"/> (bpf_prog_info.name), or null when it is gone.</summary>
    public static string? ProgramName(uint progId)
    {
        int prog = LibBpf.ProgGetFdById(progId);
        if (prog < 0) return null;
        try { return NameOf(prog, ProgInfoSize, ProgNameOffset, "program"); }
        finally { Libc.Close(prog); }
    }

    private static string MapName(int map) => NameOf(map, MapInfoSize, MapNameOffset, "map");

    // The 16-byte name field of a program's or map's info struct, read by its descriptor.
    private static string NameOf(int fd, int infoSize, int nameOffset, string what)
    {
        byte* info = stackalloc byte[infoSize];
        new Span<byte>(info, infoSize).Clear();
        uint len = (uint)infoSize;
        int rc = LibBpf.ObjGetInfoByFd(fd, info, &len);
        if (rc < 0) throw LibBpf.Error($"bpf_obj_get_info_by_fd({what})", rc);
        var name = new ReadOnlySpan<byte>(info + nameOffset, 16);
        int end = name.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? name : name[..end]);
    }
}
