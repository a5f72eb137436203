namespace Baton.Http;

/// <summary>Read-only stream base for request bodies taken from an <see cref="HttpInput"/>.</summary>
internal abstract class BodyStream : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();
}

/// <summary>A body of known length (Content-Length).</summary>
internal sealed class ContentLengthBodyStream(HttpInput input, long length) : BodyStream
{
    private long _remaining = length;

    /// <summary>Body bytes not read yet.</summary>
    public long Remaining => _remaining;

    /// <summary>
    /// The rest of the body goes another way (socket to socket, <c>SplicePump</c>): the stream counts
    /// it as read, so whoever drains it afterwards to find the next request reads nothing more.
    /// </summary>
    public long TakeRemaining()
    {
        long rest = _remaining;
        _remaining = 0;
        return rest;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        if (_remaining == 0 || buffer.IsEmpty) return 0;
        int n = await input.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _remaining)], ct).ConfigureAwait(false);
        if (n == 0) throw new IOException($"connection closed with {_remaining} body bytes missing");
        _remaining -= n;
        return n;
    }
}

/// <summary>A chunked body (RFC 9112 §7.1), decoded and checked by the rules of <see cref="ChunkedFraming"/> (<see cref="ChunkedCursor"/>): extensions are validated and skipped, trailers are validated and dropped.</summary>
internal sealed class ChunkedBodyStream(HttpInput input) : BodyStream
{
    private ChunkedCursor _cursor;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        if (buffer.IsEmpty) return 0;
        while (!_cursor.Done)
        {
            if (_cursor.DataLeft > 0)
            {
                int n = await input.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _cursor.DataLeft)], ct).ConfigureAwait(false);
                if (n == 0) throw new IOException("connection closed inside a chunk");
                _cursor.SkipData(n);
                return n;
            }
            int framing = _cursor.AdvanceFraming(input.Unread, out string? error);
            if (error is not null) throw new BadRequestBodyException(error);
            input.Consume(framing);
            if (framing == 0 && await input.FillAsync(ct).ConfigureAwait(false) == 0) throw new IOException("connection closed inside a chunked body");
        }
        return 0;
    }
}
