using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "recv", SetLastError = true)]
    internal static unsafe partial nint Recv(int fd, byte* buffer, nuint length, int flags);
}
