using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    internal const int EINVAL = 22;
    internal const int ENOSYS = 38;
    internal const int O_NONBLOCK = 0x800;
    internal const int O_CLOEXEC = 0x80000;
    internal const int F_GETFL = 3;
    internal const int F_SETPIPE_SZ = 1031;
    internal const uint SPLICE_F_MOVE = 1;
    internal const uint SPLICE_F_NONBLOCK = 2;
    internal const uint SPLICE_F_MORE = 4;

    [LibraryImport(Name, EntryPoint = "pipe2", SetLastError = true)]
    internal static unsafe partial int Pipe2(int* fds, int flags);

    /// <summary>splice(2) without offsets: between a socket and a pipe, one of them the pipe.</summary>
    [LibraryImport(Name, EntryPoint = "splice", SetLastError = true)]
    internal static partial nint Splice(int fdIn, nint offIn, int fdOut, nint offOut, nuint length, uint flags);
}
