using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    internal const int AF_UNIX = 1;

    [LibraryImport(Name, EntryPoint = "socketpair", SetLastError = true)]
    internal static unsafe partial int SocketPair(int domain, int type, int protocol, int* fds);

    /// <summary>Two connected stream sockets of this process (AF_UNIX), each its own managed Socket.</summary>
    internal static unsafe (System.Net.Sockets.Socket, System.Net.Sockets.Socket) StreamPair()
    {
        int* fds = stackalloc int[2];
        Check(SocketPair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), "socketpair");
        return (new System.Net.Sockets.Socket(new System.Net.Sockets.SafeSocketHandle(fds[0], ownsHandle: true)),
                new System.Net.Sockets.Socket(new System.Net.Sockets.SafeSocketHandle(fds[1], ownsHandle: true)));
    }
}
