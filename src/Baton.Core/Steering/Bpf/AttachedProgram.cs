using Baton.Interop;
using Microsoft.Win32.SafeHandles;

namespace Baton.Steering.Bpf;

/// <summary>
/// One of Baton's programs attached at a device's hook (tc ingress, XDP), which outlives the
/// process that attached it. Stop detaches it only while the hook still holds this program (a later
/// start may have replaced it), and does so in the namespace it was attached in: the device's
/// ifindex means another device elsewhere, and the thread that stops the router may never have been
/// in that namespace.
/// </summary>
internal abstract class AttachedProgram : IDisposable
{
    private readonly SafeFileHandle _netns;
    private bool _detached;

    protected AttachedProgram(int ifindex, uint progId, SafeFileHandle netns)
    {
        IfIndex = ifindex;
        ProgId = progId;
        _netns = netns;
    }

    protected int IfIndex { get; }

    protected uint ProgId { get; }

    /// <summary>The calling thread's network namespace, for the attachment to keep.</summary>
    protected static SafeFileHandle CurrentNamespace() => File.OpenHandle("/proc/thread-self/ns/net");

    /// <summary>The id of the program the hook holds now; null or 0 when none.</summary>
    protected abstract uint? HeldProgram();

    /// <summary>Takes the program off the hook (in the attach namespace).</summary>
    protected abstract void Detach();

    /// <summary>Lets go of the attachment without detaching: the program stays on the hook for the next run to take over.</summary>
    public void Leave()
    {
        if (_detached) return;
        _detached = true;
        _netns.Dispose();
    }

    public void Dispose()
    {
        if (_detached) return;
        _detached = true;
        InAttachNamespace(() =>
        {
            if (HeldProgram() == ProgId) Detach();
        });
        _netns.Dispose();
    }

    private void InAttachNamespace(Action action)
    {
        if (Libc.CurrentNetns() == Libc.NetnsOf(_netns))
        {
            action();
            return;
        }
        // On a thread of its own: the caller's thread is elsewhere. (Only then: setns needs
        // CAP_SYS_ADMIN, which a router given just CAP_NET_ADMIN lacks.)
        var thread = new Thread(() =>
        {
            if (Libc.SetNs(_netns, Libc.CLONE_NEWNET) == 0) action();
        });
        thread.Start();
        thread.Join();
    }
}
