using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    internal const uint SIOCINQ = 0x541B;
    internal const uint SIOCOUTQ = 0x5411;
    internal const uint SIOCOUTQNSD = 0x894B;

    [LibraryImport(Name, EntryPoint = "ioctl", SetLastError = true)]
    internal static unsafe partial int Ioctl(int fd, nuint request, int* value);

    /// <summary>An int-valued ioctl. .NET's Socket.IOControl refuses SIOCOUTQ and SIOCOUTQNSD.</summary>
    internal static unsafe int IoctlInt(int fd, uint request, string what)
    {
        int value = 0;
        Check(Ioctl(fd, request, &value), what);
        return value;
    }
}
