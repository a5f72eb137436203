using System.Net.Sockets;
using System.Text;
using Baton.Application;
using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>
/// A client in the middle of a large <c>/bytes/N</c> response that it reads slowly, so that the
/// transaction stays under way at its back-end for seconds: with a 64 KiB receive buffer the agent
/// is still writing while the client reads 64 KiB every 30 ms, each byte checked.
/// </summary>
internal sealed class SlowResponse : IDisposable
{
    private SlowResponse(Socket socket, Task reading)
    {
        Socket = socket;
        Http = new RawHttp(socket);
        Reading = reading;
        Port = ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public Socket Socket { get; }

    /// <summary>For the connection's next requests, once <see cref="Reading"/> is done.</summary>
    public RawHttp Http { get; }

    /// <summary>Ends when every byte of the response was read and checked.</summary>
    public Task Reading { get; }

    /// <summary>The client's port: the same all along for one connection.</summary>
    public int Port { get; }

    /// <summary>Sends <c>GET {path}/bytes/{size}</c> on a new connection, reads the head, and starts reading the body slowly.</summary>
    public static async Task<SlowResponse> StartAsync(BatonLab lab, string prefix, int size)
    {
        var s = Netns.CreateTcpSocket(lab.Net.Ns("client"));
        s.ReceiveBufferSize = 64 << 10;
        await s.ConnectAsync(lab.Service);
        await s.SendAsync(Encoding.ASCII.GetBytes(RawHttp.Get($"{prefix}/bytes/{size}")), SocketFlags.None);
        var (head, bodyRead) = await ReadHeadAsync(s);
        if (!head.Contains(" 200 ", StringComparison.Ordinal)) throw new InvalidOperationException($"not a 200: {head}");
        return new SlowResponse(s, Task.Run(() => ReadSlowlyAsync(s, size - bodyRead, bodyRead)));
    }

    private static async Task<(string Head, int BodyRead)> ReadHeadAsync(Socket s)
    {
        var buffer = new byte[64 << 10];
        int total = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            int n = await s.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, timeout.Token);
            if (n == 0) throw new IOException("closed before the response head");
            total += n;
            int end = buffer.AsSpan(0, total).IndexOf("\r\n\r\n"u8);
            if (end >= 0) return (Encoding.ASCII.GetString(buffer, 0, end), total - (end + 4));
        }
    }

    private static async Task ReadSlowlyAsync(Socket s, int count, long offset)
    {
        var chunk = new byte[64 << 10];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        int got = 0;
        while (got < count)
        {
            int n = await s.ReceiveAsync(chunk.AsMemory(0, Math.Min(chunk.Length, count - got)), SocketFlags.None, timeout.Token);
            if (n == 0) throw new IOException($"closed after {offset + got} bytes of the response");
            for (int i = 0; i < n; i++)
                if (chunk[i] != BuiltInApplication.PatternByte(offset + got + i))
                    throw new InvalidDataException($"byte {offset + got + i} of the response is wrong");
            got += n;
            await Task.Delay(30);
        }
    }

    public void Dispose() => Socket.Dispose();
}
