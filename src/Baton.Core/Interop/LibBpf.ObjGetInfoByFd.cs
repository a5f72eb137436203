using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static unsafe partial class LibBpf
{
    // struct bpf_prog_info or bpf_map_info, whichever fd is; *length in: buffer size, out: filled.
    [LibraryImport(Name, EntryPoint = "bpf_obj_get_info_by_fd")]
    internal static partial int ObjGetInfoByFd(int fd, void* info, uint* length);
}
