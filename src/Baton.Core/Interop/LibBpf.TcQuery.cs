using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static unsafe partial class LibBpf
{
    // Fills opts->prog_id of the filter at opts' handle and priority; -ENOENT when there is none.
    [LibraryImport(Name, EntryPoint = "bpf_tc_query")]
    internal static partial int TcQuery(BpfTcHook* hook, BpfTcOpts* opts);
}
