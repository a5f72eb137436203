using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static unsafe partial class LibBpf
{
    [LibraryImport(Name, EntryPoint = "bpf_prog_get_fd_by_id")]
    internal static partial int ProgGetFdById(uint id);
}
