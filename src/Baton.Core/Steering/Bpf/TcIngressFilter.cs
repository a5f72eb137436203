using Baton.Interop;
using Microsoft.Win32.SafeHandles;

namespace Baton.Steering.Bpf;

/// <summary>
/// Baton's one tc filter at clsact ingress of a device, at a handle and priority of its own so that
/// it never touches anyone else's filters. The filter outlives the process that attached it: the
/// next start replaces a crashed run's filter in one step (BPF_TC_F_REPLACE), and stop removes only
/// this filter, never the clsact qdisc (bpf_tc_hook_destroy would take everyone's filters with it).
/// </summary>
internal sealed unsafe class TcIngressFilter : AttachedProgram
{
    /// <summary>Baton's filter handle on every device ("ba70").</summary>
    public const uint Handle = 0xba70;

    /// <summary>
    /// Baton's filter priority: early, like the nftables table's −500, but off the small numbers
    /// and 49152 (tc's first automatic priority) that hand-made filters take.
    /// </summary>
    public const uint Priority = 0xba;

    private TcIngressFilter(int ifindex, uint progId, SafeFileHandle netns) : base(ifindex, progId, netns)
    {
    }

    /// <summary>Attaches <paramref name="programFd"/> at ingress of <paramref name="ifindex"/> in the calling thread's namespace.</summary>
    public static TcIngressFilter Attach(int ifindex, int programFd)
    {
        var netns = CurrentNamespace();
        try
        {
            var hook = BpfTcHook.Ingress(ifindex);
            int rc = LibBpf.TcHookCreate(&hook);
            if (rc < 0 && rc != -EEXIST) throw Failure("bpf_tc_hook_create (clsact)", rc);
            var opts = BpfTcOpts.For(Handle, Priority);
            opts.ProgFd = programFd;
            opts.Flags = LibBpf.BPF_TC_F_REPLACE;
            rc = LibBpf.TcAttach(&hook, &opts);
            if (rc < 0) throw Failure("bpf_tc_attach", rc);
            return new TcIngressFilter(ifindex, opts.ProgId, netns);
        }
        catch
        {
            netns.Dispose();
            throw;
        }
    }

    /// <summary>The id of the program in Baton's filter on <paramref name="ifindex"/> (calling thread's namespace), or null.</summary>
    public static uint? Query(int ifindex)
    {
        var hook = BpfTcHook.Ingress(ifindex);
        var opts = BpfTcOpts.For(Handle, Priority);
        int rc = LibBpf.TcQuery(&hook, &opts);
        if (rc == -ENOENT || rc == -EINVAL) return null; // no filter there, or no clsact qdisc at all
        if (rc < 0) throw Failure("bpf_tc_query", rc);
        return opts.ProgId;
    }

    /// <summary>Removes a filter at Baton's handle and priority, whoever attached it (calling thread's namespace).</summary>
    public static void Remove(int ifindex)
    {
        var hook = BpfTcHook.Ingress(ifindex);
        var opts = BpfTcOpts.For(Handle, Priority);
        int rc = LibBpf.TcDetach(&hook, &opts);
        if (rc < 0 && rc != -ENOENT && rc != -EINVAL) throw Failure("bpf_tc_detach", rc);
    }

    // The device may have gone away, and the filter with it: nothing held, nothing to remove.
    protected override uint? HeldProgram()
    {
        try { return Query(IfIndex); }
        catch (SteeringException) { return null; }
    }

    protected override void Detach()
    {
        try { Remove(IfIndex); }
        catch (SteeringException) { }
    }

    private const int ENOENT = 2, EINVAL = 22, EEXIST = 17;

    private static SteeringException Failure(string call, int rc) =>
        new(rc == -Libc.EPERM
            ? $"{call}: attaching flow steering needs CAP_NET_ADMIN (run as root)"
            : LibBpf.Error(call, rc).Message);
}
