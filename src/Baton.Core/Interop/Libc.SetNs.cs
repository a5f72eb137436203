using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    internal const int CLONE_NEWNET = 0x40000000;

    [LibraryImport(Name, EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    /// <summary>setns(2) on the namespace file <paramref name="ns"/>; 0, or -1 with the errno to read.</summary>
    internal static int SetNs(SafeHandle ns, int nstype)
    {
        using var fd = new FdLease(ns);
        return SetNs(fd.Fd, nstype);
    }

    /// <summary>"net:[inode]" for the network namespace file <paramref name="ns"/>: the same text for the same namespace, whoever reads it.</summary>
    internal static string? NetnsOf(SafeHandle ns)
    {
        using var fd = new FdLease(ns);
        return new FileInfo($"/proc/self/fd/{fd.Fd}").LinkTarget;
    }

    /// <summary>"net:[inode]" for the calling thread's network namespace.</summary>
    internal static string? CurrentNetns() => new FileInfo("/proc/thread-self/ns/net").LinkTarget;
}
