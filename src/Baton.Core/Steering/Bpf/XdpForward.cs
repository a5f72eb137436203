using Baton.Interop;
using Microsoft.Win32.SafeHandles;

namespace Baton.Steering.Bpf;

/// <summary>
/// <c>steer_xdp</c> (steer.bpf.c) at the driver's XDP hook of the router's client-facing
/// interface: frames of a connection forwarded to a back-end on that interface leave again from
/// the driver (XDP_TX), before an skb exists; everything else goes on to the tc program. Native
/// mode only: generic XDP builds the skb first and would cost more than tc alone. The hook has one
/// program per device, so another program found there is left alone and tc does all the steering;
/// one of Baton's own (a crashed run's, by its name) is replaced.
/// </summary>
internal sealed unsafe class XdpForward : AttachedProgram
{
    /// <summary>The program's name in the kernel (bpf_prog_info.name).</summary>
    public const string ProgramName = "steer_xdp";

    private XdpForward(int ifindex, uint progId, SafeFileHandle netns) : base(ifindex, progId, netns)
    {
    }

    /// <summary>Attaches the program at <paramref name="ifindex"/> (calling thread's namespace).</summary>
    /// <exception cref="SteeringException">Another program holds the hook, or the driver has no native XDP.</exception>
    public static XdpForward Attach(int ifindex, int programFd)
    {
        uint existing = Query(ifindex);
        if (existing != 0 && !IsBatons(existing))
            throw new SteeringException($"another XDP program (id {existing}) is attached to the interface; steering stays at tc");
        int rc = LibBpf.XdpAttach(ifindex, programFd, LibBpf.XDP_FLAGS_DRV_MODE, null);
        if (rc < 0)
            throw new SteeringException(rc == -Libc.EPERM
                ? "attaching XDP needs CAP_NET_ADMIN and CAP_BPF (run as root)"
                : $"the interface's driver took no native XDP program ({LibBpf.Error("bpf_xdp_attach", rc).Message}); steering stays at tc");
        return new XdpForward(ifindex, Query(ifindex), CurrentNamespace());
    }

    /// <summary>The id of the native XDP program on <paramref name="ifindex"/>, 0 for none.</summary>
    public static uint Query(int ifindex)
    {
        uint id = 0;
        int rc = LibBpf.XdpQueryId(ifindex, (int)LibBpf.XDP_FLAGS_DRV_MODE, &id);
        return rc < 0 ? 0 : id;
    }

    /// <summary>Removes Baton's XDP program from <paramref name="ifindex"/> if one is there (a crashed run's); another program is left.</summary>
    public static void RemoveStale(int ifindex)
    {
        if (IsBatons(Query(ifindex))) LibBpf.XdpDetach(ifindex, LibBpf.XDP_FLAGS_DRV_MODE, null);
    }

    // Baton's program, by its name in the kernel (any run's, a crashed one's too); 0 is none.
    private static bool IsBatons(uint progId) => progId != 0 && AttachedMaps.ProgramName(progId) == ProgramName;

    protected override uint? HeldProgram() => Query(IfIndex);

    protected override void Detach() => LibBpf.XdpDetach(IfIndex, LibBpf.XDP_FLAGS_DRV_MODE, null);
}
