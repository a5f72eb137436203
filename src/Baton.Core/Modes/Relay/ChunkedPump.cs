using System.Buffers;
using System.Net.Sockets;
using Baton.Http;
using Microsoft.Extensions.Logging;

namespace Baton.Modes.Relay;

/// <summary>
/// Passes a chunked body on as it came, to a receiver that takes chunks (HTTP/1.1): size lines
/// with their extensions, data and trailers go on byte for byte, checked on the way by
/// <see cref="ChunkedCursor"/>, instead of being decoded and chunked again (<see cref="BodyPump"/>,
/// which still serves an HTTP/1.0 receiver and a body its holder has opened). A chunk's data of
/// <see cref="SplicePump.Threshold"/> or more goes socket to socket through <see cref="SplicePump"/>,
/// every such chunk of the body through one pipe; smaller data is read straight into one pooled
/// buffer, bounded by the chunk, and sent from there.
/// Framing is never held back waiting for more: what the input holds is sent before the next read.
/// </summary>
internal static class ChunkedPump
{
    private const int BufferSize = 64 * 1024;

    /// <summary>
    /// Sends the chunked body that starts at <paramref name="sourceInput"/>'s unread bytes to
    /// <paramref name="destination"/>, through the trailer section's CRLF and not a byte past it.
    /// </summary>
    public static async Task<PumpResult> CopyAsync(HttpInput sourceInput, Socket source, Socket destination, TimeSpan idleTimeout, ILogger log, CancellationToken abort)
    {
        var cursor = new ChunkedCursor();
        byte[]? buffer = null;
        SplicePipe? pipe = null;
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(abort);
        long total = 0;
        try
        {
            while (true)
            {
                // What the input holds, as far as it is whole framing or data.
                int pass = cursor.Advance(sourceInput.Unread, out string? error);
                if (error is not null) return new(PumpEnd.SourceFailed, total, error);
                if (pass > 0)
                {
                    if (await BodyPump.SendAsync(destination, sourceInput.UnreadMemory[..pass], total, idle, idleTimeout, abort).ConfigureAwait(false) is { } failed) return failed;
                    sourceInput.Consume(pass);
                    total += pass;
                }
                if (cursor.Done) return new(PumpEnd.Completed, total, null);

                long dataLeft = cursor.DataLeft; // the input is empty when a chunk's data is still to come
                if (SplicePump.Suits(dataLeft))
                {
                    pipe ??= new SplicePipe();
                    var r = await SplicePump.CopyAsync(sourceInput, source, dataLeft, destination, idleTimeout, log, abort, pipe).ConfigureAwait(false);
                    total += r.Bytes;
                    if (r.End != PumpEnd.Completed) return r with { Bytes = total };
                    cursor.SkipData(dataLeft);
                    continue;
                }

                int n;
                idle.CancelAfter(idleTimeout);
                try
                {
                    if (dataLeft > 0)
                    {
                        buffer ??= ArrayPool<byte>.Shared.Rent(BufferSize);
                        n = await sourceInput.ReadAsync(buffer.AsMemory(0, (int)Math.Min(dataLeft, buffer.Length)), idle.Token).ConfigureAwait(false);
                    }
                    else n = await sourceInput.FillAsync(idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return PumpResult.Stopped(total, abort, idleTimeout, receiverStalled: false);
                }
                catch (Exception e) when (Faults.IsConnectionLost(e))
                {
                    return new(PumpEnd.SourceFailed, total, e.Message);
                }
                if (n == 0) return new(PumpEnd.SourceFailed, total, dataLeft > 0 ? "connection closed inside a chunk" : "connection closed inside a chunked body");
                if (dataLeft > 0)
                {
                    if (await BodyPump.SendAsync(destination, buffer.AsMemory(0, n), total, idle, idleTimeout, abort).ConfigureAwait(false) is { } failed) return failed;
                    cursor.SkipData(n);
                    total += n;
                }
            }
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
            pipe?.Dispose();
        }
    }
}
