using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    /// <summary>chown(2); uid or gid uint.MaxValue (-1) leaves that one unchanged.</summary>
    [LibraryImport(Name, EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Chown(string path, uint uid, uint gid);
}
