using System.Buffers;
using System.Text;
using Baton.Http;

namespace Baton.Tests.Http;

/// <summary>RequestFramer, ResponseFramer, ChunkedFraming and the early refusals of the head parser.</summary>
public class FramerTests
{
    private static byte[] B(string s) => Encoding.Latin1.GetBytes(s);

    [Fact]
    public void Empty_lines_before_a_request_line_are_skipped_and_counted_in_the_head_length()
    {
        const string text = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
        var r = RequestHeadParser.Parse(B(text));
        Assert.Equal(ParseStatus.Complete, r.Status);
        Assert.Equal(text.Length, r.Head!.Length);
        Assert.Equal(ParseStatus.Incomplete, RequestHeadParser.Parse(B("\r\n\r")).Status);
    }

    [Theory]
    [InlineData(400, "GET / HTTP/1.1\r\n Host: a")]                                  // obs-fold, line not finished yet
    [InlineData(400, "PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n")] // differing duplicates, head not finished
    [InlineData(400, "PUT / HTTP/1.1\r\nContent-Length: 100000000000000000000000\r\n")]
    [InlineData(400, "GET / HTTP/1.1\r\nHost : a")]                                   // whitespace before the colon
    [InlineData(505, "GET / HTTP/5.6")]
    [InlineData(400, "GET / HTTQ")]
    [InlineData(400, "GE\x01T / HTTP/1.1")]
    [InlineData(501, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n")]
    public void A_head_that_can_never_become_valid_is_refused_before_it_is_complete(int status, string text)
    {
        var r = RequestHeadParser.Parse(B(text));
        Assert.Equal(ParseStatus.Error, r.Status);
        Assert.Equal(status, r.ErrorStatus);
    }

    [Theory]
    [InlineData("GET / HTTP/1.")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX-A: b")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n\r")]
    public void A_valid_prefix_is_incomplete(string text) =>
        Assert.Equal(ParseStatus.Incomplete, RequestHeadParser.Parse(B(text)).Status);

    [Theory]
    [InlineData(501, "Transfer-Encoding: gzip, chunked")]
    [InlineData(400, "Transfer-Encoding: chunked, chunked")]
    [InlineData(400, "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked")]
    [InlineData(400, "Transfer-Encoding: chunked\r\nContent-Length: 3")]
    [InlineData(400, "Content-Length: 3\r\nTransfer-Encoding: identity")]
    [InlineData(400, "Transfer-Encoding: ,")]
    public void Transfer_coding_rules(int status, string fields)
    {
        var r = RequestHeadParser.Parse(B($"POST / HTTP/1.1\r\nHost: a\r\n{fields}\r\n\r\n"));
        Assert.Equal(ParseStatus.Error, r.Status);
        Assert.Equal(status, r.ErrorStatus);
    }

    [Fact]
    public void Transfer_encoding_in_http10_is_refused() =>
        Assert.Equal(400, RequestHeadParser.Parse(B("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")).ErrorStatus);

    [Fact]
    public void Pipelined_requests_are_split_where_each_body_ends()
    {
        var all = B("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nAAA"
            + "POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2;x=\"y\"\r\nBB\r\n0\r\nT: v\r\n\r\n"
            + "GET /c HTTP/1.1\r\nHost: h\r\n\r\n");
        var seen = new List<string>();
        int pos = 0;
        while (pos < all.Length)
        {
            var body = new ArrayBufferWriter<byte>();
            var f = RequestFramer.Frame(all.AsSpan(pos), body: body);
            Assert.Equal(FrameStatus.Complete, f.Status);
            seen.Add($"{f.Head!.Target}={Encoding.ASCII.GetString(body.WrittenSpan)}");
            pos += f.Length;
        }
        Assert.Equal(["/a=AAA", "/b=BB", "/c="], seen);
        Assert.Equal(FrameStatus.Incomplete, RequestFramer.Frame(all.AsSpan(0, 50)).Status);
    }

    [Theory]
    [InlineData("5\r\nhello\r\n0\r\n\r\n", true)]
    [InlineData("5 ; a = b ;c=\"q \\\" r\"\r\nhello\r\n0\r\n\r\n", true)] // BWS around ; and = (RFC 9112 §7.1.1)
    [InlineData("5 \r\nhello\r\n0\r\n\r\n", false)]                       // whitespace after the size without an extension
    [InlineData("5\nhello\r\n0\r\n\r\n", false)]                          // bare LF
    [InlineData("5\r\nhelloX\r\n0\r\n\r\n", false)]                       // data longer than the size
    [InlineData("-5\r\nhello\r\n0\r\n\r\n", false)]
    [InlineData("5\r\nhello\r\n0\r\nBad Name: x\r\n\r\n", false)]         // invalid trailer
    [InlineData("ffffffffffffffffff\r\n", false)]                         // overflow
    public void Chunked_framing_is_strict(string body, bool valid)
    {
        var s = ChunkedFraming.Scan(B(body), out int length, out string? error);
        Assert.True(valid ? s == FrameStatus.Complete : s == FrameStatus.Error, $"{s} {error}");
        if (valid) Assert.Equal(body.Length, length);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabXX", "GET", false, FrameStatus.Complete, 40)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab", "HEAD", false, FrameStatus.Complete, 38)]
    [InlineData("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1", "GET", false, FrameStatus.Complete, 27)]
    [InlineData("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "GET", false, FrameStatus.Complete, 48)]
    [InlineData("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", "GET", false, FrameStatus.Complete, 25)]
    [InlineData("HTTP/1.1 200 OK\r\n\r\nuntil close", "GET", false, FrameStatus.Incomplete, 0)]
    [InlineData("HTTP/1.1 200 OK\r\n\r\nuntil close", "GET", true, FrameStatus.Complete, 30)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\nX", "GET", false, FrameStatus.Complete, 58)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nzzz", "GET", true, FrameStatus.Complete, 56)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", "GET", false, FrameStatus.Error, 0)]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n", "GET", false, FrameStatus.Error, 0)]
    [InlineData("HTTP/1.1 200 OK\r\n Folded: x", "GET", false, FrameStatus.Error, 0)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "GET", true, FrameStatus.Error, 0)]
    public void Response_framing(string text, string method, bool atEof, FrameStatus status, int length)
    {
        var f = ResponseFramer.Frame(B(text), method, atEof);
        Assert.True(f.Status == status, $"{f.Status} {f.ErrorReason}");
        if (status == FrameStatus.Complete) Assert.Equal(length, f.Length);
    }
}
