using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static unsafe partial class LibBpf
{
    /// <summary>XDP_FLAGS_DRV_MODE: the driver's own XDP hook, never the generic (skb) one, which would cost more than tc.</summary>
    internal const uint XDP_FLAGS_DRV_MODE = 1u << 2;

    [LibraryImport(Name, EntryPoint = "bpf_xdp_attach")]
    internal static partial int XdpAttach(int ifindex, int progFd, uint flags, void* opts);

    [LibraryImport(Name, EntryPoint = "bpf_xdp_detach")]
    internal static partial int XdpDetach(int ifindex, uint flags, void* opts);

    [LibraryImport(Name, EntryPoint = "bpf_xdp_query_id")]
    internal static partial int XdpQueryId(int ifindex, int flags, uint* progId);

    /// <summary>enum bpf_prog_type: BPF_PROG_TYPE_XDP.</summary>
    internal const int BPF_PROG_TYPE_XDP = 6;

    /// <summary>bpf_prog_load_opts.prog_flags: BPF_F_XDP_HAS_FRAGS, a program that takes multi-buffer frames (a veth then keeps its peer's GSO).</summary>
    internal const uint BPF_F_XDP_HAS_FRAGS = 1u << 5;

    /// <summary>bpf_prog_load: a program from instructions, for one too small to need an object file.</summary>
    [LibraryImport(Name, EntryPoint = "bpf_prog_load", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ProgLoad(int type, string name, string license, ulong* insns, nuint count, BpfProgLoadOpts* opts);
}

/// <summary>The start of struct bpf_prog_load_opts (libbpf 1.x): sz @0, prog_flags @20; libbpf takes a shorter sz as zeros beyond it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BpfProgLoadOpts
{
    public nuint Size;
    public int Attempts;
    public int ExpectedAttachType;
    public uint ProgBtfFd;
    public uint ProgFlags;
    public uint ProgIfIndex;
    public uint KernVersion;
}
