using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    internal const int SCM_RIGHTS = 1;
    internal const int MSG_NOSIGNAL = 0x4000;

    [LibraryImport(Name, EntryPoint = "sendmsg", SetLastError = true)]
    internal static unsafe partial nint SendMsg(int fd, MsgHdr* message, int flags);
}
