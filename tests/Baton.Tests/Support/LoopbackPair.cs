using System.Net;
using System.Net.Sockets;

namespace Baton.Tests.Support;

/// <summary>A connected TCP socket pair over 127.0.0.1 (real kernel sockets, ephemeral port).</summary>
internal sealed class LoopbackPair : IDisposable
{
    /// <summary>Guards against hangs only; no test asserts on time.</summary>
    public static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    public Socket Client { get; }
    public Socket Server { get; }

    private LoopbackPair(Socket client, Socket server)
    {
        Client = client;
        Server = server;
    }

    public static LoopbackPair Create()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.Connect(listener.LocalEndPoint!);
        var server = listener.Accept();
        server.NoDelay = true;
        client.ReceiveTimeout = server.ReceiveTimeout = (int)HangGuard.TotalMilliseconds;
        client.SendTimeout = server.SendTimeout = (int)HangGuard.TotalMilliseconds;
        return new LoopbackPair(client, server);
    }

    /// <summary>Sends all of <paramref name="data"/> from the client.</summary>
    public void ClientSends(ReadOnlySpan<byte> data) => SendAll(Client, data);

    public static void SendAll(Socket s, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty) data = data[s.Send(data)..];
    }

    /// <summary>Receives exactly <paramref name="count"/> bytes (blocking, with the hang guard as receive timeout).</summary>
    public static byte[] ReceiveExactly(Socket s, int count)
    {
        var buffer = new byte[count];
        int got = 0;
        while (got < count)
        {
            int n = s.Receive(buffer, got, count - got, SocketFlags.None);
            if (n == 0) throw new IOException($"peer closed after {got} of {count} bytes");
            got += n;
        }
        return buffer;
    }

    /// <summary>
    /// Waits until the kernel has queued at least <paramref name="count"/> unread bytes on <paramref name="s"/>,
    /// so the next read sees them all at once. Polls; the deadline only stops a broken test from hanging.
    /// </summary>
    public static void WaitForQueued(Socket s, int count)
    {
        var deadline = DateTime.UtcNow + HangGuard;
        while (s.Available < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"only {s.Available} of {count} bytes arrived");
            Thread.Sleep(1);
        }
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
    }
}
