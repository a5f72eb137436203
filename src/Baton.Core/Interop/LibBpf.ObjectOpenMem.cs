using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static unsafe partial class LibBpf
{
    // Null on failure, errno set. opts may be null.
    [LibraryImport(Name, EntryPoint = "bpf_object__open_mem", SetLastError = true)]
    internal static partial nint ObjectOpenMem(void* buffer, nuint size, void* opts);
}
