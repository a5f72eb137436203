using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    internal const int MSG_CTRUNC = 0x8;
    internal const int MSG_CMSG_CLOEXEC = 0x40000000;

    [LibraryImport(Name, EntryPoint = "recvmsg", SetLastError = true)]
    internal static unsafe partial nint RecvMsg(int fd, MsgHdr* message, int flags);
}
