using System.Net.Sockets;

namespace Baton.Modes.Local.Router;

/// <summary>
/// A connection a worker handed back. Unlike a TCP_REPAIR return, bytes the worker read but did not
/// consume (a pipelined next request) cannot be put back in the kernel's receive queue: they come
/// with the socket, in <see cref="Unread"/>, and belong before anything read from it next.
/// </summary>
public sealed class LocalSocket : Socket
{
    internal LocalSocket(SafeSocketHandle handle, byte[] unread) : base(handle)
    {
        Unread = unread;
    }

    /// <summary>Bytes received from the client before anything still in the receive queue.</summary>
    public ReadOnlyMemory<byte> Unread { get; }
}
