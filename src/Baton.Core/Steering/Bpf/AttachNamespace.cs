using Baton.Interop;
using Microsoft.Win32.SafeHandles;

namespace Baton.Steering.Bpf;

/// <summary>
/// The network namespace a program was attached in: a device's ifindex means another device
/// elsewhere, so the detach must run there, whichever thread stops the router (a test's, or one
/// that was never in that namespace).
/// </summary>
internal sealed class AttachNamespace : IDisposable
{
    private readonly SafeFileHandle _netns;

    private AttachNamespace(SafeFileHandle netns) => _netns = netns;

    /// <summary>The calling thread's namespace.</summary>
    public static AttachNamespace Current() => new(File.OpenHandle("/proc/thread-self/ns/net"));

    /// <summary>Runs <paramref name="action"/> in the namespace; skipped if it cannot be entered.</summary>
    public void Run(Action action)
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

    public void Dispose() => _netns.Dispose();
}
