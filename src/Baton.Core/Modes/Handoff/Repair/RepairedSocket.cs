using System.Net;
using System.Net.Sockets;
using Baton.Interop;

namespace Baton.Modes.Handoff.Repair;

/// <summary>
/// A connection rebuilt from a <see cref="TcpSnapshot"/> that is still in repair mode: it exists
/// in this stack but is silent. Activate it once the connection's packets are steered here;
/// dispose it instead to drop it without a trace on the wire.
/// </summary>
internal sealed class RepairedSocket : IDisposable
{
    private int _fd;
    private readonly IPEndPoint _client;
    private readonly ReadOnlyMemory<byte> _unsentTail;
    private readonly bool _probe;

    internal RepairedSocket(int fd, IPEndPoint client, ReadOnlyMemory<byte> unsentTail, bool probe)
    {
        _fd = fd;
        _client = client;
        _unsentTail = unsentTail;
        _probe = probe;
    }

    /// <summary>Leaves repair mode and returns the live connection as a managed socket.</summary>
    public Socket Activate()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0) throw new ObjectDisposedException(nameof(RepairedSocket));
        try
        {
            TcpRepair.LeaveRepairAndTune(fd, _probe);
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
        var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        // The fd is blocking (TcpRepair.Restore makes it so); the managed socket is told too, as
        // NetworkStream refuses non-blocking sockets and .NET's async calls switch modes themselves.
        socket.Blocking = true;
        // The never-sent tail of the send queue goes out as ordinary data now that the socket is live.
        if (!_unsentTail.IsEmpty) socket.Send(_unsentTail.Span);
        return socket;
    }

    /// <summary>Closes the socket while it is still in repair mode: nothing is sent.</summary>
    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0) return;
        Libc.Close(fd);
        OwnershipTrace.Released(_client);
    }
}
