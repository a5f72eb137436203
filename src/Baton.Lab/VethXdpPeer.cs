using Baton.Interop;

namespace Baton.Lab;

/// <summary>
/// What a lab veth needs before the router's XDP program (<c>Baton:Xdp</c>) can send frames back
/// out of it. A veth end passes an XDP_TX frame to its peer's NAPI ring, which only a peer with an
/// XDP program of its own drains (with GRO alone the ring filled at 256 frames and stayed full
/// here: 256 sent, then only xdp_tx_errors). So the switch's port gets a program that passes every
/// frame. A real NIC needs nothing of the kind.
/// </summary>
public static unsafe class VethXdpPeer
{
    // BPF_MOV64_IMM(r0, XDP_PASS); BPF_EXIT_INSN().
    private static readonly ulong[] PassAll = [0x0000_0002_0000_00b7, 0x0000_0000_0000_0095];

    /// <summary>Attaches the pass-all program to <paramref name="device"/> in namespace <paramref name="ns"/>.</summary>
    public static void AttachPassAll(string ns, string device) => Netns.Run(ns, () =>
    {
        uint ifindex = Libc.IfNameToIndex(device);
        if (ifindex == 0) throw new InvalidOperationException($"no device {device} in {ns}");
        var opts = new BpfProgLoadOpts { Size = (nuint)sizeof(BpfProgLoadOpts), ProgFlags = LibBpf.BPF_F_XDP_HAS_FRAGS };
        int fd;
        fixed (ulong* insns = PassAll)
            fd = LibBpf.ProgLoad(LibBpf.BPF_PROG_TYPE_XDP, "lab_pass", "GPL", insns, (nuint)PassAll.Length, &opts);
        if (fd < 0) throw LibBpf.Error("bpf_prog_load(lab_pass)", fd);
        try
        {
            int rc = LibBpf.XdpAttach((int)ifindex, fd, LibBpf.XDP_FLAGS_DRV_MODE, null);
            if (rc < 0) throw LibBpf.Error($"bpf_xdp_attach({device})", rc);
        }
        finally { Libc.Close(fd); } // the device holds the program now
        return 0;
    });
}
