using System.Globalization;

namespace Baton.Modes.Handoff.Repair;

/// <summary>The largest receive window a connection on this host can advertise.</summary>
internal static class ReceiveWindow
{
    /// <summary>
    /// tcp_rmem's maximum in this process's network namespace (read once): receive autotuning
    /// grows a socket's buffer, and with it the window, up to it. 6 MiB (the kernel's default)
    /// when the file cannot be read.
    /// </summary>
    public static int HostMaximum { get; } = Read();

    private static int Read()
    {
        try
        {
            var parts = File.ReadAllText("/proc/sys/net/ipv4/tcp_rmem").Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 3 && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int max) && max > 0) return max;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 6 << 20;
    }
}
