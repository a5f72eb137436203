using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "connect", SetLastError = true)]
    internal static unsafe partial int Connect(int fd, SockAddrIn* addr, uint length);
}
