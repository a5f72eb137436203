using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static unsafe partial class LibBpf
{
    // -EEXIST: the device has a clsact qdisc already (ours or anyone's); fine.
    [LibraryImport(Name, EntryPoint = "bpf_tc_hook_create")]
    internal static partial int TcHookCreate(BpfTcHook* hook);
}
