using System.Buffers;
using System.Net.Sockets;
using Baton.Http;

namespace Baton.Modes.Relay;

/// <summary>
/// After a 101 Switching Protocols the relay no longer understands the bytes: it copies them both
/// ways until both sides have closed (each close is passed on as a half-close), or one fails.
/// </summary>
internal static class Tunnel
{
    private const int BufferSize = 32 * 1024;

    /// <summary>Runs until both directions end; bytes already read into either input go first.</summary>
    public static async Task RunAsync(HttpInput clientInput, Socket client, HttpInput originInput, Socket origin, CancellationToken ct)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var up = CopyAsync(new UpgradedStream(clientInput, client), origin, failed);
        var down = CopyAsync(new UpgradedStream(originInput, origin), client, failed);
        await Task.WhenAll(up, down).ConfigureAwait(false);
    }

    private static async Task CopyAsync(UpgradedStream from, Socket to, CancellationTokenSource failed)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int n;
            while ((n = await from.ReadAsync(buffer, failed.Token).ConfigureAwait(false)) > 0)
            {
                var data = buffer.AsMemory(0, n);
                while (!data.IsEmpty) data = data[await to.SendAsync(data, SocketFlags.None, failed.Token).ConfigureAwait(false)..];
            }
            to.Shutdown(SocketShutdown.Send); // the other side sees this side's close
        }
        catch (Exception e) when (Faults.IsConnectionEnded(e))
        {
            failed.Cancel(); // a reset or failure on either side ends both directions
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
