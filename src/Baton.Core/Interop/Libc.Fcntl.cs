using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    internal const int F_DUPFD_CLOEXEC = 1030;

    /// <summary>fcntl with one int argument (F_DUPFD_CLOEXEC here).</summary>
    [LibraryImport(Name, EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(int fd, int command, int argument);
}
