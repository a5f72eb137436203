using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static unsafe partial class LibBpf
{
    // key null: the first key. -ENOENT after the last one.
    [LibraryImport(Name, EntryPoint = "bpf_map_get_next_key")]
    internal static partial int MapGetNextKey(int fd, void* key, void* nextKey);
}
