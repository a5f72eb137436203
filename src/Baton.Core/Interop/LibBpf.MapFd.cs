using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static unsafe partial class LibBpf
{
    [LibraryImport(Name, EntryPoint = "bpf_map__fd")]
    internal static partial int MapFd(nint map);
}
