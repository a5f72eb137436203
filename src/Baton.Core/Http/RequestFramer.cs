using System.Buffers;

namespace Baton.Http;

/// <summary>Result of <see cref="RequestFramer.Frame"/>: where a whole request (head and body) ends.</summary>
public readonly record struct RequestFrame(FrameStatus Status, RequestHead? Head, int Length, int ErrorStatus, string? ErrorReason);

/// <summary>
/// Pure request framing (RFC 9112 §6.3): parses the head with <see cref="RequestHeadParser"/> and finds the end
/// of the body (Content-Length, chunked, or none), so pipelined requests split exactly where a server splits them.
/// </summary>
public static class RequestFramer
{
    /// <summary>Frames the request at the start of <paramref name="buffer"/>; decoded body bytes go to <paramref name="body"/> when given.</summary>
    public static RequestFrame Frame(ReadOnlySpan<byte> buffer, int headLimit = RequestHeadParser.DefaultHeadLimit, IBufferWriter<byte>? body = null) =>
        Frame(buffer, headLimit, requireHost: true, body);

    internal static RequestFrame Frame(ReadOnlySpan<byte> buffer, int headLimit, bool requireHost, IBufferWriter<byte>? body)
    {
        var r = RequestHeadParser.Parse(buffer, headLimit, requireHost, into: null);
        if (r.Status == ParseStatus.Incomplete) return new(FrameStatus.Incomplete, null, 0, 0, null);
        if (r.Status == ParseStatus.Error) return new(FrameStatus.Error, null, 0, r.ErrorStatus, r.ErrorReason);
        var head = r.Head!;
        var rest = buffer[head.Length..];
        if (head.Chunked)
        {
            var s = ChunkedFraming.Scan(rest, out int len, out string? error, body);
            return s switch
            {
                FrameStatus.Complete => new(FrameStatus.Complete, head, head.Length + len, 0, null),
                FrameStatus.Error => new(FrameStatus.Error, head, 0, 400, error),
                _ => new(FrameStatus.Incomplete, head, 0, 0, null),
            };
        }
        long cl = Math.Max(0, head.ContentLength);
        if (rest.Length < cl)
        {
            body?.Write(rest);
            return new(FrameStatus.Incomplete, head, 0, 0, null);
        }
        body?.Write(rest[..(int)cl]);
        return new(FrameStatus.Complete, head, head.Length + (int)cl, 0, null);
    }
}
