using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    // 0 when the calling thread's network namespace has no such interface.
    [LibraryImport(Name, EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial uint IfNameToIndex(string name);
}
