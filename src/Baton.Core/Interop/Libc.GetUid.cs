using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "getuid")]
    internal static partial uint GetUid();
}
