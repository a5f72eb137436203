using System.Text;
using Baton.Http;

namespace Baton.Tests.Http;

public class RequestHeadParserTests
{
    private static RequestParseResult Parse(string text, int headLimit = RequestHeadParser.DefaultHeadLimit) =>
        RequestHeadParser.Parse(Encoding.Latin1.GetBytes(text), headLimit);

    private static RequestHead ParseOk(string text)
    {
        var r = Parse(text);
        Assert.True(r.Status == ParseStatus.Complete, $"expected a complete head, got {r.Status} {r.ErrorStatus} {r.ErrorReason}");
        return r.Head!;
    }

    private static void AssertError(int status, string text)
    {
        var r = Parse(text);
        Assert.Equal(ParseStatus.Error, r.Status);
        Assert.Null(r.Head);
        Assert.Equal(status, r.ErrorStatus);
        Assert.False(string.IsNullOrWhiteSpace(r.ErrorReason));
    }

    [Fact]
    public void Valid_get_with_host_is_parsed_into_its_parts()
    {
        const string text = "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: unit\r\nAccept: */*\r\n\r\n";
        var h = ParseOk(text);

        Assert.Equal("GET", h.Method);
        Assert.Equal("/a/b?x=1&y=2", h.Target);
        Assert.Equal("/a/b", h.Path);
        Assert.Equal("x=1&y=2", h.Query);
        Assert.Equal(1, h.VersionMinor);
        Assert.Equal("example.com", h.Host);
        Assert.Equal(-1, h.ContentLength);
        Assert.False(h.Chunked);
        Assert.True(h.KeepAlive);
        Assert.Equal(text.Length, h.Length);
        Assert.Equal(3, h.Headers.Count);
        Assert.Equal("unit", h["user-agent"]);
        Assert.Equal("Example.COM:8080", h["HOST"]);
        Assert.Null(h["Content-Length"]);
    }

    [Fact]
    public void Header_values_lose_surrounding_whitespace()
    {
        var h = ParseOk("GET / HTTP/1.1\r\nHost: a\r\nX-Thing: \t spaced out \t\r\n\r\n");
        Assert.Equal("spaced out", h["X-Thing"]);
    }

    [Fact]
    public void Http10_without_host_is_accepted_and_closes_by_default()
    {
        var h = ParseOk("GET /old HTTP/1.0\r\n\r\n");
        Assert.Equal(0, h.VersionMinor);
        Assert.Equal("", h.Host);
        Assert.False(h.KeepAlive);
    }

    [Fact]
    public void Http10_with_connection_keep_alive_stays_open()
    {
        var h = ParseOk("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        Assert.True(h.KeepAlive);
    }

    [Theory]
    [InlineData("close")]
    [InlineData("Close")]
    [InlineData("keep-alive, close")]
    [InlineData("close, keep-alive")]
    [InlineData("Upgrade, close")]
    public void Http11_with_connection_close_does_not_stay_open(string connection)
    {
        var h = ParseOk($"GET / HTTP/1.1\r\nHost: a\r\nConnection: {connection}\r\n\r\n");
        Assert.False(h.KeepAlive);
    }

    [Fact]
    public void Head_over_the_limit_is_431_whether_or_not_it_is_complete()
    {
        string big = new('a', 2000);
        string complete = $"GET / HTTP/1.1\r\nHost: a\r\nX-Big: {big}\r\n\r\n";
        var r = Parse(complete, headLimit: 1024);
        Assert.Equal(ParseStatus.Error, r.Status);
        Assert.Equal(431, r.ErrorStatus);

        string partial = $"GET / HTTP/1.1\r\nHost: a\r\nX-Big: {big}";
        r = Parse(partial, headLimit: 1024);
        Assert.Equal(ParseStatus.Error, r.Status);
        Assert.Equal(431, r.ErrorStatus);

        // The same head fits under the default limit.
        Assert.Equal(ParseStatus.Complete, Parse(complete).Status);
    }

    [Fact]
    public void Head_over_the_default_limit_is_431()
    {
        string big = new('b', RequestHeadParser.DefaultHeadLimit);
        AssertError(431, $"GET / HTTP/1.1\r\nHost: a\r\nX-Big: {big}\r\n\r\n");
    }

    [Fact]
    public void Target_over_the_target_limit_is_414()
    {
        string target = "/" + new string('t', RequestHeadParser.TargetLimit);
        AssertError(414, $"GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");

        // At the limit it is fine.
        string atLimit = "/" + new string('t', RequestHeadParser.TargetLimit - 1);
        Assert.Equal(atLimit, ParseOk($"GET {atLimit} HTTP/1.1\r\nHost: a\r\n\r\n").Path);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\nHost: a\n\n")]              // bare LF everywhere: never complete, refused at once
    [InlineData("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n")]  // bare LF inside the header block
    [InlineData("GET / HTTP/1.1\nHost: a\r\n\r\n")]          // bare LF ending the request line
    public void Bare_LF_is_400(string text) => AssertError(400, text);

    [Fact]
    public void Obs_fold_is_400() =>
        AssertError(400, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: first\r\n  continued\r\n\r\n");

    [Fact]
    public void Obs_fold_with_tab_is_400() =>
        AssertError(400, "GET / HTTP/1.1\r\nHost: a\r\nX-Long: first\r\n\tcontinued\r\n\r\n");

    [Fact]
    public void Whitespace_before_the_colon_is_400() =>
        AssertError(400, "GET / HTTP/1.1\r\nHost : a\r\n\r\n");

    [Fact]
    public void Http11_without_host_is_400() =>
        AssertError(400, "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n");

    [Fact]
    public void Two_host_headers_are_400() =>
        AssertError(400, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");

    [Fact]
    public void Duplicate_differing_content_length_is_400() =>
        AssertError(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");

    [Fact]
    public void Duplicate_equal_content_length_is_accepted()
    {
        var h = ParseOk("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n");
        Assert.Equal(5, h.ContentLength);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("+5")]
    [InlineData("5x")]
    [InlineData("99999999999999999999999")]
    public void Invalid_content_length_is_400(string value) =>
        AssertError(400, $"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n\r\n");

    [Fact]
    public void Transfer_encoding_with_content_length_is_400() =>
        AssertError(400, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n");

    [Fact]
    public void Content_length_before_transfer_encoding_is_400() =>
        AssertError(400, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");

    [Theory]
    [InlineData("gzip")]
    [InlineData("gzip, chunked")]
    [InlineData("identity")]
    public void Unknown_transfer_coding_is_501(string coding) =>
        AssertError(501, $"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {coding}\r\n\r\n");

    [Fact]
    public void Chunked_transfer_encoding_is_recognised()
    {
        var h = ParseOk("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
        Assert.True(h.Chunked);
        Assert.Equal(-1, h.ContentLength);
    }

    [Theory]
    [InlineData("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505)]
    [InlineData("GET / FTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("GET /\r\nHost: a\r\n\r\n", 400)]
    [InlineData("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("GET /\u007F HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n: novalue\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX: a\u0001b\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400)]
    public void Malformed_request_lines_and_fields_are_refused(string text, int status) => AssertError(status, text);

    [Theory]
    [InlineData("")]
    [InlineData("GET")]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n\r")]
    public void Partial_head_is_incomplete(string text)
    {
        var r = Parse(text);
        Assert.Equal(ParseStatus.Incomplete, r.Status);
        Assert.Null(r.Head);
    }

    [Fact]
    public void Pipelined_requests_length_points_exactly_at_the_second_request()
    {
        const string first = "POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
        const string second = "GET /two?z HTTP/1.1\r\nHost: b\r\n\r\n";
        var bytes = Encoding.ASCII.GetBytes(first + second);

        var r1 = RequestHeadParser.Parse(bytes);
        Assert.Equal(ParseStatus.Complete, r1.Status);
        Assert.Equal("/one", r1.Head!.Path);
        Assert.Equal(first.Length, r1.Head.Length);

        var r2 = RequestHeadParser.Parse(bytes.AsSpan(r1.Head.Length));
        Assert.Equal(ParseStatus.Complete, r2.Status);
        Assert.Equal("/two", r2.Head!.Path);
        Assert.Equal("z", r2.Head.Query);
        Assert.Equal("b", r2.Head.Host);
        Assert.Equal(second.Length, r2.Head.Length);
    }

    [Fact]
    public void Body_bytes_after_the_head_do_not_count_towards_its_length()
    {
        const string head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n";
        var h = ParseOk(head + "body");
        Assert.Equal(head.Length, h.Length);
        Assert.Equal(4, h.ContentLength);
    }
}
