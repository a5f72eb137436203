using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "getsockopt", SetLastError = true)]
    internal static unsafe partial int GetSockOpt(int fd, int level, int name, void* value, ref uint length);

    internal static unsafe int GetSockOptInt(int fd, int level, int name, string what)
    {
        int value = 0;
        uint len = sizeof(int);
        Check(GetSockOpt(fd, level, name, &value, ref len), what);
        return value;
    }

    internal static unsafe int GetSockOpt(int fd, int level, int name, Span<byte> value, string what)
    {
        uint len = (uint)value.Length;
        fixed (byte* p = value) Check(GetSockOpt(fd, level, name, p, ref len), what);
        return (int)len;
    }
}
