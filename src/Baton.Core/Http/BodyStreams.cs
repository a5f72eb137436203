using System.Text;

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

/// <summary>A chunked body (RFC 9112 §7.1), checked by the rules of <see cref="ChunkedFraming"/>: extensions are validated and skipped, trailers are validated and dropped.</summary>
internal sealed class ChunkedBodyStream(HttpInput input) : BodyStream
{
    private const int LineLimit = ChunkedFraming.LineLimit;
    private long _chunkLeft;
    private bool _done;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        if (_done || buffer.IsEmpty) return 0;
        if (_chunkLeft == 0)
        {
            string sizeLine = await ReadLineAsync(ct).ConfigureAwait(false);
            _chunkLeft = ChunkedFraming.ParseSizeLine(Encoding.Latin1.GetBytes(sizeLine), out string? error);
            if (_chunkLeft < 0) throw new BadRequestBodyException($"{error}: '{sizeLine}'");
            if (_chunkLeft == 0)
            {
                string trailer;
                while ((trailer = await ReadLineAsync(ct).ConfigureAwait(false)).Length > 0) // trailers are checked and dropped
                {
                    string? bad = ChunkedFraming.CheckTrailerLine(Encoding.Latin1.GetBytes(trailer));
                    if (bad != null) throw new BadRequestBodyException(bad);
                }
                _done = true;
                return 0;
            }
        }
        int n = await input.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _chunkLeft)], ct).ConfigureAwait(false);
        if (n == 0) throw new IOException("connection closed inside a chunk");
        _chunkLeft -= n;
        if (_chunkLeft == 0 && (await ReadLineAsync(ct).ConfigureAwait(false)).Length != 0)
            throw new BadRequestBodyException("chunk data not followed by CRLF");
        return n;
    }

    private async ValueTask<string> ReadLineAsync(CancellationToken ct)
    {
        while (true)
        {
            int i = input.Unread.IndexOf("\r\n"u8);
            if (i >= 0)
            {
                string line = Encoding.Latin1.GetString(input.Unread[..i]);
                input.Consume(i + 2);
                return line;
            }
            if (input.Unread.Length > LineLimit) throw new BadRequestBodyException("chunk line too long");
            if (await input.FillAsync(ct).ConfigureAwait(false) == 0) throw new IOException("connection closed inside a chunked body");
        }
    }
}
