using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static unsafe partial class LibBpf
{
    [LibraryImport(Name, EntryPoint = "bpf_program__fd")]
    internal static partial int ProgramFd(nint prog);
}
