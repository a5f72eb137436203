using System.Text;
using Baton.Http;

namespace Baton.Tests.Http;

// The parser keeps field lines as bytes and makes strings on demand (issue 3); what callers see must not change.
public class HeaderFieldsTests
{
    private static RequestHead ParseOk(string text)
    {
        var r = RequestHeadParser.Parse(Encoding.Latin1.GetBytes(text));
        Assert.Equal(ParseStatus.Complete, r.Status);
        return r.Head!;
    }

    [Fact]
    public void Fields_read_in_order_with_names_as_sent_and_trimmed_values()
    {
        var h = ParseOk("GET / HTTP/1.1\r\nhost: a\r\nACCEPT:  */* \r\nX-Odd-Name:\t v \t\r\nx-empty:\r\nCookie: k=\u00e9\r\n\r\n");
        Assert.Equal(
            [new("host", "a"), new("ACCEPT", "*/*"), new("X-Odd-Name", "v"), new("x-empty", ""), new("Cookie", "k=\u00e9")],
            h.Headers.ToList());
        Assert.Equal(5, h.Headers.Count);
        Assert.Equal("X-Odd-Name", h.Headers[2].Key);
        Assert.Equal("v", h["x-odd-name"]);
        Assert.Equal("", h["X-Empty"]);
        Assert.Null(h["X-Missing"]);
    }

    [Fact]
    public void Repeated_reads_return_the_same_strings_and_known_names_are_constants()
    {
        const string text = "GET / HTTP/1.1\r\nHost: a\r\nuser-agent: u\r\nX-Custom: c\r\n\r\n";
        RequestHead h = ParseOk(text), other = ParseOk(text);
        Assert.Same(h.Headers[2].Value, h.Headers[2].Value);
        Assert.Same(h.Headers[2].Key, h.Headers[2].Key);
        Assert.NotSame(h.Headers[2].Key, other.Headers[2].Key);
        Assert.Same("Host", h.Headers[0].Key);
        Assert.Same(h.Headers[1].Key, other.Headers[1].Key);
        Assert.Same("GET", h.Method);
    }

    [Fact]
    public void A_head_without_fields_has_none()
    {
        var h = ParseOk("GET / HTTP/1.0\r\n\r\n");
        Assert.Empty(h.Headers);
        Assert.Null(h["Host"]);
    }

    [Theory]
    [InlineData("get")]
    [InlineData("PROPFIND")]
    public void Other_methods_are_kept_as_sent(string method)
    {
        Assert.Equal(method, ParseOk($"{method} / HTTP/1.1\r\nHost: a\r\n\r\n").Method);
    }

    [Theory]
    [InlineData("1.1", "close\u00a0", false)] // Latin-1 NBSP is white space to the option split, as before
    [InlineData("1.0", "\u0085keep-alive, x", true)]
    [InlineData("1.1", " , CLOSE ,", false)]
    [InlineData("1.0", "keep-alive-ish", false)]
    public void Connection_options_are_trimmed_as_before(string version, string connection, bool keepAlive)
    {
        Assert.Equal(keepAlive, ParseOk($"GET / HTTP/{version}\r\nHost: a\r\nConnection: {connection}\r\n\r\n").KeepAlive);
    }

    [Theory]
    [InlineData("[::1]:8080", "[::1]")]
    [InlineData("WWW.Example.COM", "www.example.com")]
    [InlineData("\u00c0.example:1", "\u00e0.example")]
    public void Host_loses_its_port_and_case(string host, string expected)
    {
        Assert.Equal(expected, ParseOk($"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").Host);
    }
}
