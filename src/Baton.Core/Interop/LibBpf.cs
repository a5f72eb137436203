using System.Runtime.InteropServices;

namespace Baton.Interop;

/// <summary>
/// libbpf.so.1 (Debian: libbpf1; 1.1 on this image, so no tcx attach, which needs 1.3). In libbpf
/// 1.x every int-returning call returns a negative errno itself; calls returning a pointer return
/// null and leave errno set (DESIGN.md §5).
/// </summary>
internal static partial class LibBpf
{
    internal const string Name = "libbpf.so.1";

    /// <summary>enum bpf_tc_attach_point.</summary>
    internal const int BPF_TC_INGRESS = 1;

    /// <summary>bpf_tc_opts.flags: replace a filter at the same handle and priority in one step.</summary>
    internal const uint BPF_TC_F_REPLACE = 1;

    /// <summary>A failed call's negative return as one exception type, with the call's name.</summary>
    internal static NativeCallException Error(string call, int negativeErrno) => new(call, -negativeErrno);
}

/// <summary>struct bpf_tc_hook: 24 bytes here (ifindex @8, attach_point @12, parent @16).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BpfTcHook
{
    public nuint Size;
    public int IfIndex;
    public int AttachPoint;
    public uint Parent;
    private readonly uint _pad;

    public static BpfTcHook Ingress(int ifindex) => new()
    {
        Size = (nuint)Marshal.SizeOf<BpfTcHook>(),
        IfIndex = ifindex,
        AttachPoint = LibBpf.BPF_TC_INGRESS,
    };
}

/// <summary>struct bpf_tc_opts: 32 bytes here (prog_fd @8, flags @12, prog_id @16, handle @20, priority @24).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BpfTcOpts
{
    public nuint Size;
    public int ProgFd;
    public uint Flags;
    public uint ProgId;
    public uint Handle;
    public uint Priority;
    private readonly uint _pad;

    public static BpfTcOpts For(uint handle, uint priority) => new()
    {
        Size = (nuint)Marshal.SizeOf<BpfTcOpts>(),
        Handle = handle,
        Priority = priority,
    };
}
