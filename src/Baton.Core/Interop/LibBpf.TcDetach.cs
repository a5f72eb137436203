using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static unsafe partial class LibBpf
{
    // Removes the one filter at opts' handle and priority. Never bpf_tc_hook_destroy: it deletes the
    // whole clsact qdisc, everyone else's filters with it.
    [LibraryImport(Name, EntryPoint = "bpf_tc_detach")]
    internal static partial int TcDetach(BpfTcHook* hook, BpfTcOpts* opts);
}
