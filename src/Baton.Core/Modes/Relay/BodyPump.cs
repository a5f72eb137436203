using System.Buffers;
using System.Net.Sockets;

namespace Baton.Modes.Relay;

/// <summary>How a body copy ended.</summary>
internal enum PumpEnd
{
    /// <summary>The whole body was read and written.</summary>
    Completed,
    /// <summary>Reading failed: the sender closed, reset, or broke the framing.</summary>
    SourceFailed,
    /// <summary>Writing failed: the receiver closed or reset.</summary>
    DestinationFailed,
    /// <summary>No progress within the activity timeout, or the transaction was aborted.</summary>
    Stopped,
}

internal readonly record struct PumpResult(PumpEnd End, long Bytes, string? Error)
{
    /// <summary>
    /// Stopped after <paramref name="bytes"/>: aborted, or a side made no progress within
    /// <paramref name="idleTimeout"/> (<paramref name="receiverStalled"/>: the receiver took nothing; else the sender sent nothing).
    /// </summary>
    public static PumpResult Stopped(long bytes, CancellationToken abort, TimeSpan idleTimeout, bool receiverStalled) =>
        new(PumpEnd.Stopped, bytes, abort.IsCancellationRequested ? "aborted"
            : receiverStalled ? $"receiver took nothing for {idleTimeout.TotalSeconds:0.###} s" : $"no data for {idleTimeout.TotalSeconds:0.###} s");
}

/// <summary>
/// Streams a body from a de-framed source to a socket through one pooled buffer, optionally
/// re-chunking it. Each chunk goes out as one send: the buffer keeps room in front of the data for
/// the size line and behind it for the CRLF, so no bytes are copied.
/// </summary>
internal static class BodyPump
{
    private const int BufferSize = 64 * 1024;
    private const int SizeLineRoom = 10; // 8 hex digits (a 64 KiB read needs 5) and CRLF
    private static readonly byte[] LastChunk = "0\r\n\r\n"u8.ToArray(); // no trailers: they are dropped

    public static async Task<PumpResult> CopyAsync(Stream source, Socket destination, bool chunk, TimeSpan idleTimeout, CancellationToken abort)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(abort);
        long total = 0;
        try
        {
            while (true)
            {
                int n;
                idle.CancelAfter(idleTimeout);
                try
                {
                    n = await source.ReadAsync(buffer.AsMemory(SizeLineRoom, buffer.Length - SizeLineRoom - 2), idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return PumpResult.Stopped(total, abort, idleTimeout, receiverStalled: false);
                }
                catch (Exception e) when (Faults.IsMalformedOrLost(e))
                {
                    return new(PumpEnd.SourceFailed, total, e.Message);
                }
                if (n == 0 && !chunk) return new(PumpEnd.Completed, total, null);
                var data = n == 0 ? LastChunk
                    : chunk ? Frame(buffer, n)
                    : buffer.AsMemory(SizeLineRoom, n);
                if (await SendAsync(destination, data, total, idle, idleTimeout, abort).ConfigureAwait(false) is { } failed) return failed;
                total += n;
                if (n == 0) return new(PumpEnd.Completed, total, null);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Sends a body's next bytes under the pump's activity timeout, which starts again here: null
    /// once they are sent, else how the pump ends after <paramref name="total"/> bytes (the receiver
    /// stalled or went away). Every pump sends through this.
    /// </summary>
    internal static async ValueTask<PumpResult?> SendAsync(Socket destination, ReadOnlyMemory<byte> bytes, long total, CancellationTokenSource idle, TimeSpan idleTimeout, CancellationToken abort)
    {
        idle.CancelAfter(idleTimeout);
        try
        {
            await destination.SendAsync(bytes, SocketFlags.None, idle.Token).ConfigureAwait(false);
            return null;
        }
        catch (OperationCanceledException)
        {
            return PumpResult.Stopped(total, abort, idleTimeout, receiverStalled: true);
        }
        catch (Exception e) when (Faults.IsConnectionLost(e))
        {
            return new(PumpEnd.DestinationFailed, total, e.Message);
        }
    }

    // Writes "<hex>\r\n" right before the data and "\r\n" right after it.
    private static ReadOnlyMemory<byte> Frame(byte[] buffer, int n)
    {
        int digits = (32 - System.Numerics.BitOperations.LeadingZeroCount((uint)n) + 3) / 4;
        int start = SizeLineRoom - digits - 2;
        for (int i = digits - 1, v = n; i >= 0; i--, v >>= 4)
            buffer[start + i] = (byte)"0123456789abcdef"[v & 0xF];
        buffer[SizeLineRoom - 2] = (byte)'\r';
        buffer[SizeLineRoom - 1] = (byte)'\n';
        buffer[SizeLineRoom + n] = (byte)'\r';
        buffer[SizeLineRoom + n + 1] = (byte)'\n';
        return buffer.AsMemory(start, SizeLineRoom + n + 2 - start);
    }
}
