using System.Buffers;
using System.Net.Sockets;

namespace Baton.Http;

/// <summary>
/// Closes a connection with a FIN and never a reset: close(2) with unread input makes the kernel
/// send RST, which can destroy a response the client has not read yet. So: shut down our side,
/// read and drop what the client still sends until it closes (or a short deadline), then close.
/// </summary>
public static class GracefulClose
{
    /// <summary>How long to wait for the client's FIN after ours.</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Shuts down, drains and disposes <paramref name="socket"/>.</summary>
    public static async Task CloseAsync(Socket socket)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            socket.Shutdown(SocketShutdown.Send);
            using var cts = new CancellationTokenSource(DrainTimeout);
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token).ConfigureAwait(false) > 0) { }
        }
        catch (Exception e) when (Faults.IsConnectionEnded(e)) { }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            socket.Dispose();
        }
    }
}
