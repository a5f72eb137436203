using System.Net;
using System.Net.Sockets;
using Baton.Http;

namespace Baton.Modes;

/// <summary>
/// One client connection as the router holds it between transactions: the socket and the bytes
/// already read from it. A transfer that brings the connection back as a new socket object (a
/// TCP_REPAIR restore, a descriptor passed back) replaces both; the client sees one connection.
/// </summary>
public sealed class ClientConnection : IDisposable
{
    /// <summary>Wraps a socket just accepted (or handed in) with nothing read from it yet.</summary>
    public ClientConnection(Socket socket, ReadOnlySpan<byte> unread = default)
    {
        Socket = socket;
        Input = new HttpInput(socket, unread);
        Client = (IPEndPoint)socket.RemoteEndPoint!;
    }

    /// <summary>
    /// A view of a connection another holder reads through <paramref name="input"/> (an agent or a
    /// worker forwarding a transaction to its origin): the same socket and the same buffered bytes.
    /// </summary>
    internal ClientConnection(Socket socket, HttpInput input)
    {
        Socket = socket;
        Input = input;
        Client = (IPEndPoint)socket.RemoteEndPoint!;
    }

    /// <summary>The socket the router reads and writes the connection through now.</summary>
    public Socket Socket { get; private set; }

    /// <summary>Buffered input: the current request's head and whatever followed it.</summary>
    public HttpInput Input { get; private set; }

    /// <summary>The client's address and port; the same across every transfer.</summary>
    public IPEndPoint Client { get; }

    /// <summary>Who routes a next request that reaches a destination before the connection is back (null: nobody, it always comes back).</summary>
    public INextRequestRouter? NextRequests { get; init; }

    /// <summary>
    /// The connection is back as <paramref name="socket"/>; <paramref name="unread"/> are bytes the
    /// client sent that were read elsewhere but not consumed, and come before the socket's own.
    /// </summary>
    public void Replace(Socket socket, ReadOnlySpan<byte> unread = default)
    {
        Input.Dispose();
        if (!ReferenceEquals(socket, Socket)) Socket.Dispose();
        Socket = socket;
        Input = new HttpInput(socket, unread);
    }

    /// <summary>Releases the input buffer and the socket (a plain close; use <see cref="GracefulClose"/> for a FIN first).</summary>
    public void Dispose()
    {
        Input.Dispose();
        Socket.Dispose();
    }
}
