using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static unsafe partial class LibBpf
{
    [LibraryImport(Name, EntryPoint = "bpf_object__load")]
    internal static partial int ObjectLoad(nint obj);
}
