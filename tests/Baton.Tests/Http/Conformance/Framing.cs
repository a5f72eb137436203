using Baton.Http;

namespace Baton.Tests.Http.Conformance;

/// <summary>How Baton frames a whole input: the messages it finds and how the input ends.</summary>
internal sealed record FramingOutcome(List<VectorMessage> Messages, bool Refused, string? Reason, List<string> Notes);

/// <summary>Runs Baton's pure framers over a vector's bytes, message after message (pipelining).</summary>
internal static class Framing
{
    public static FramingOutcome Requests(byte[] raw, bool stopAtLastMessage, int expectedMessages, bool atEof)
    {
        var messages = new List<VectorMessage>();
        var notes = new List<string>();
        int pos = 0;
        while (pos < raw.Length)
        {
            if (stopAtLastMessage && messages.Count == expectedMessages) break;
            var msg = new VectorMessage();
            var body = new System.Buffers.ArrayBufferWriter<byte>();
            var f = RequestFramer.Frame(raw.AsSpan(pos), RequestHeadParser.DefaultHeadLimit, requireHost: false, body);
            if (f.Head != null)
            {
                msg.Method.Write(System.Text.Encoding.ASCII.GetBytes(f.Head.Method));
                msg.Url.Write(System.Text.Encoding.ASCII.GetBytes(f.Head.Target));
                msg.HeadersComplete = true;
                msg.Body.Write(body.WrittenSpan);
                // The Host rule (RFC 9112 §3.2) is semantics, not framing; llhttp does not check it. Baton's public
                // parser must refuse exactly for that reason and nothing else.
                if (f.Head.VersionMinor == 1 && f.Head["Host"] == null)
                {
                    var pub = RequestHeadParser.Parse(raw.AsSpan(pos));
                    if (pub.Status != ParseStatus.Error || pub.ErrorStatus != 400 || pub.ErrorReason?.Contains("Host", StringComparison.Ordinal) != true)
                        return new(messages, true, $"public parser: {pub.Status} {pub.ErrorStatus} {pub.ErrorReason} (expected 400 for a missing Host)", notes);
                    notes.Add($"message {messages.Count + 1}: HTTP/1.1 without Host (the router answers 400; framing checked without that rule)");
                }
            }
            if (f.Status == FrameStatus.Error)
            {
                if (f.Head != null) messages.Add(msg);
                return new(messages, true, $"{f.ErrorStatus} {f.ErrorReason}", notes);
            }
            if (f.Status == FrameStatus.Incomplete)
            {
                if (f.Head != null) messages.Add(msg);
                if (atEof && raw.AsSpan(pos).IndexOfAnyExcept((byte)'\r', (byte)'\n') >= 0)
                    return new(messages, true, "connection closed inside a request", notes);
                break;
            }
            msg.Complete = true;
            messages.Add(msg);
            pos += f.Length;
            if (!f.Head!.KeepAlive && pos < raw.Length && !(stopAtLastMessage && messages.Count == expectedMessages))
                return new(messages, true, "data after a request that closes the connection", notes);
        }
        return new(messages, false, null, notes);
    }

    public static FramingOutcome Responses(byte[] raw, string requestMethod, bool atEof, bool stopAtLastMessage, int expectedMessages)
    {
        var messages = new List<VectorMessage>();
        var notes = new List<string>();
        int pos = 0;
        while (pos < raw.Length)
        {
            if (stopAtLastMessage && messages.Count == expectedMessages) break;
            var msg = new VectorMessage();
            var body = new System.Buffers.ArrayBufferWriter<byte>();
            var f = ResponseFramer.Frame(raw.AsSpan(pos), requestMethod, atEof, RequestHeadParser.DefaultHeadLimit, body);
            if (f.HeadLength > 0)
            {
                msg.StatusCode = f.StatusCode;
                msg.HeadersComplete = true;
                msg.Body.Write(body.WrittenSpan);
            }
            if (f.Status == FrameStatus.Error)
            {
                if (f.HeadLength > 0) messages.Add(msg);
                return new(messages, true, f.ErrorReason, notes);
            }
            if (f.Status == FrameStatus.Incomplete)
            {
                if (f.HeadLength > 0) messages.Add(msg);
                break;
            }
            msg.Complete = true;
            messages.Add(msg);
            pos += f.Length;
            if (f.StatusCode == 101) break; // switching protocols: the rest is another protocol
            if (!f.KeepAlive && f.StatusCode >= 200 && pos < raw.Length && !(stopAtLastMessage && messages.Count == expectedMessages))
                return new(messages, true, "data after a response that closes the connection", notes);
        }
        return new(messages, false, null, notes);
    }
}
