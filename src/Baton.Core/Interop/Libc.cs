using System.Runtime.InteropServices;

namespace Baton.Interop;

/// <summary>
/// Raw libc calls. The connection-moving code works on file descriptors directly because the
/// managed <see cref="System.Net.Sockets.Socket"/> gets in the way of TCP_REPAIR: it sets
/// SO_REUSEADDR before bind (which clears the forced-reuse mode repair sets) and marks itself
/// disconnected for good after any failed option call (DESIGN.md §6).
/// </summary>
internal static partial class Libc
{
    internal const string Name = "libc";

    internal const int AF_INET = 2;
    internal const int SOCK_STREAM = 1;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int SOCK_NONBLOCK = 0x800;
    internal const int IPPROTO_TCP = 6;
    internal const int SOL_SOCKET = 1;

    internal const int EPERM = 1;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int EACCES = 13;

    internal const int MSG_PEEK = 0x2;
    internal const int MSG_DONTWAIT = 0x40;

    /// <summary>errno of the last call, with the call's name, as one exception type.</summary>
    internal static NativeCallException Error(string call) => new(call, Marshal.GetLastPInvokeError());

    internal static void Check(int rc, string call)
    {
        if (rc < 0) throw Error(call);
    }
}

/// <summary>A failed native call: the call's name and the kernel's errno, unmangled.</summary>
public sealed class NativeCallException(string call, int errno)
    : Exception($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
{
    /// <summary>The native call that failed, e.g. <c>setsockopt(TCP_REPAIR)</c>.</summary>
    public string Call { get; } = call;

    /// <summary>The errno the kernel returned.</summary>
    public int Errno { get; } = errno;
}
