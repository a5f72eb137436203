using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    internal const int PROT_READ = 0x1, PROT_WRITE = 0x2, MAP_SHARED = 0x1;

    /// <summary>MAP_FAILED.</summary>
    internal static readonly nint MapFailed = -1;

    [LibraryImport(Name, EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport(Name, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int Munmap(nint address, nuint length);
}
