using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "setsockopt", SetLastError = true)]
    internal static unsafe partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    /// <summary>setsockopt with an int value; returns 0 or the errno, for callers that map errors themselves.</summary>
    internal static unsafe int SetSockOpt(int fd, int level, int name, int value)
    {
        return SetSockOpt(fd, level, name, &value, sizeof(int)) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    internal static unsafe void SetSockOpt(int fd, int level, int name, int value, string what)
    {
        Check(SetSockOpt(fd, level, name, &value, sizeof(int)), what);
    }

    internal static unsafe void SetSockOpt(int fd, int level, int name, ReadOnlySpan<byte> value, string what)
    {
        fixed (byte* p = value) Check(SetSockOpt(fd, level, name, p, (uint)value.Length), what);
    }
}
