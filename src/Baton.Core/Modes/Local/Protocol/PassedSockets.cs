using System.Net.Sockets;
using System.Runtime.InteropServices;
using Baton.Interop;

namespace Baton.Modes.Local.Protocol;

/// <summary>
/// Turns a descriptor received with SCM_RIGHTS into a <see cref="Socket"/> whose fd number this
/// process has never used for that connection (DESIGN.md §6). An epoll registration is keyed by
/// (open file, fd number) and outlives close(2) while another process (or an in-flight message)
/// still holds the file: wrapping the same connection under a number used before makes .NET's
/// registration fail with EEXIST. So each connection (identified by its SO_COOKIE) remembers the
/// numbers it had here, and a received fd is dup'ed to a number outside that set. No .NET
/// internals involved.
/// </summary>
internal static class PassedSockets
{
    private const int SO_COOKIE = 57;
    private const int F_GETFL = 3;
    private const int F_SETFL = 4;
    private const int O_NONBLOCK = 0x800;

    /// <summary>Connections remembered at most; beyond it the oldest are forgotten.</summary>
    internal const int Capacity = 65536;

    private static readonly Lock Gate = new();
    private static readonly Dictionary<ulong, HashSet<int>> Used = [];
    private static Queue<ulong> Order = new();

    /// <summary>The kernel's unique id of the socket behind <paramref name="fd"/>.</summary>
    public static ulong Cookie(int fd)
    {
        Span<byte> b = stackalloc byte[8];
        Libc.GetSockOpt(fd, Libc.SOL_SOCKET, SO_COOKIE, b, "getsockopt(SO_COOKIE)");
        return MemoryMarshal.Read<ulong>(b);
    }

    /// <summary>Records the current fd number of <paramref name="socket"/> (about to be passed away); returns its cookie.</summary>
    public static ulong Note(Socket socket)
    {
        using var lease = new FdLease(socket.SafeHandle);
        ulong cookie = Cookie(lease.Fd);
        lock (Gate) SetFor(cookie).Add(lease.Fd);
        return cookie;
    }

    /// <summary>
    /// Takes ownership of received descriptor <paramref name="received"/>: returns a fresh number for
    /// the same socket, blocking (O_NONBLOCK cleared, matching a new <see cref="Socket"/>'s
    /// assumption), and closes <paramref name="received"/>. On failure <paramref name="received"/> is closed too.
    /// </summary>
    public static int Adopt(int received, out ulong cookie)
    {
        try
        {
            cookie = Cookie(received);
            int fd;
            var rejected = new List<int>();
            lock (Gate)
            {
                var used = SetFor(cookie);
                // Ask for the lowest number this connection never had; the kernel gives the lowest
                // free one at or above it, which may still be a used one when other fds sit between.
                int candidate = NextUnused(used, 3);
                while (true)
                {
                    fd = Libc.Fcntl(received, Libc.F_DUPFD_CLOEXEC, candidate);
                    if (fd < 0)
                    {
                        var error = Libc.Error("fcntl(F_DUPFD_CLOEXEC)");
                        foreach (int r in rejected) Libc.Close(r);
                        throw error;
                    }
                    if (!used.Contains(fd)) break;
                    rejected.Add(fd);
                    candidate = NextUnused(used, fd + 1);
                }
                used.Add(fd);
            }
            foreach (int r in rejected) Libc.Close(r);
            int flags = Libc.Fcntl(fd, F_GETFL, 0);
            if (flags >= 0 && (flags & O_NONBLOCK) != 0) Libc.Fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
            return fd;
        }
        finally
        {
            Libc.Close(received);
        }
    }

    /// <summary>A <see cref="Socket"/> over an adopted descriptor, Blocking set explicitly.</summary>
    public static Socket Wrap(int fd)
    {
        var s = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        s.Blocking = true;
        return s;
    }

    /// <summary>The connection ended: its numbers can be reused.</summary>
    public static void Forget(ulong cookie)
    {
        lock (Gate) Used.Remove(cookie);
    }

    /// <summary>Numbers this connection has had here (tests).</summary>
    internal static int[] NumbersOf(ulong cookie)
    {
        lock (Gate) return Used.TryGetValue(cookie, out var s) ? [.. s] : [];
    }

    private static int NextUnused(HashSet<int> used, int from)
    {
        while (used.Contains(from)) from++;
        return from;
    }

    private static HashSet<int> SetFor(ulong cookie)
    {
        if (Used.TryGetValue(cookie, out var set)) return set;
        while (Used.Count >= Capacity && Order.TryDequeue(out var old)) Used.Remove(old);
        set = [];
        Used[cookie] = set;
        Order.Enqueue(cookie);
        if (Order.Count > 2 * Capacity) Order = new Queue<ulong>(Order.Where(Used.ContainsKey));
        return set;
    }
}
