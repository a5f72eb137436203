using System.Runtime.InteropServices;

namespace Baton.Interop;

internal static partial class Libc
{
    internal const int SIGINT = 2;
    internal const int SIGKILL = 9;
    internal const int SIGTERM = 15;
    internal const int SIGCONT = 18;
    internal const int SIGSTOP = 19;

    [LibraryImport(Name, EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);
}
