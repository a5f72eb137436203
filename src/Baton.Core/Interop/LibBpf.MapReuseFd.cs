using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static unsafe partial class LibBpf
{
    /// <summary>Makes an opened (not yet loaded) object use an existing map instead of creating its own.</summary>
    [LibraryImport(Name, EntryPoint = "bpf_map__reuse_fd")]
    internal static partial int MapReuseFd(nint map, int fd);
}
