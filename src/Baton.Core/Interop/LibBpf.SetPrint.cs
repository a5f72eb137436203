using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static unsafe partial class LibBpf
{
    // Null silences libbpf's own stderr output; failures reach us as return values instead.
    [LibraryImport(Name, EntryPoint = "libbpf_set_print")]
    internal static partial nint SetPrint(nint print);
}
