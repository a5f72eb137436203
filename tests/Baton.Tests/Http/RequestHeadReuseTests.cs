using System.Text;
using Baton.Http;
using Baton.Routing;
using Baton.Router;

namespace Baton.Tests.Http;

/// <summary>
/// One head per connection, refilled per request (issue 3): in steady state parsing and matching allocate nothing,
/// a refilled head shows only its new request, and what a keeper took (strings, a detached copy) does not change.
/// </summary>
public class RequestHeadReuseTests
{
    private static readonly byte[] BrowserGet = Encoding.ASCII.GetBytes(
        "GET /static/app/main.css?v=20240611 HTTP/1.1\r\nHost: Shop.Example.com:8443\r\nConnection: keep-alive\r\n" +
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0.0.0\r\nAccept: text/css,*/*;q=0.1\r\n" +
        "X-Beta: 1\r\nCookie: session=3f2a9c1e7b; theme=dark\r\n\r\n");

    private static readonly byte[] ApiPost = Encoding.ASCII.GetBytes(
        "POST /api/v1/orders?debug=%74rue&x=a+b HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\n" +
        "Content-Length: 187\r\nX-Custom-Field: some value\r\n\r\n");

    private static readonly byte[] LongCookie = Encoding.ASCII.GetBytes(
        "GET /account/overview HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Firefox/127.0\r\nAccept: text/html\r\n" +
        "Cookie: " + string.Join("; ", Enumerable.Range(0, 60).Select(i => $"_ga_c{i:D2}=GS1.1.{1718000000 + i}.{i}")) + "\r\n\r\n");

    // Routes that read every part of a head: host (exact and wildcard), method, path, header and query conditions.
    private static RouteTable Routes()
    {
        var clusters = new[] { new Cluster("c", RouterKind.Instance, []) };
        return new RouteTable(
        [
            new Route("beta", "c", 0, ["shop.example.com"], "/static/{**rest}",
                Headers: [new HeaderCondition("X-Beta", ["1"], HeaderMatchMode.ExactHeader, false)]),
            new Route("mobile", "c", 0, ["*.example.com"], "/static/{**rest}",
                Headers: [new HeaderCondition("User-Agent", ["Mobile"], HeaderMatchMode.Contains, false)]),
            new Route("debug", "c", 0, ["api.example.com"], "/api/{**rest}", Methods: ["POST"],
                QueryParameters: [new QueryCondition("debug", ["true"], QueryParameterMatchMode.Exact, false)]),
            // Tried before "debug" (longer path) and fails: '+' in a query value is a space.
            new Route("plus", "c", 0, [], "/api/v1/{**rest}",
                QueryParameters: [new QueryCondition("x", ["a+b"], QueryParameterMatchMode.Exact, true)]),
            new Route("account", "c", 0, ["*.example.com"], "/account/{**rest}"),
            new Route("fallback", "c", 10, [], "/{**all}"),
        ], clusters);
    }

    private static RequestHead ParseInto(RequestHead head, byte[] bytes)
    {
        var r = RequestHeadParser.Parse(bytes, head);
        Assert.Equal(ParseStatus.Complete, r.Status);
        Assert.Same(head, r.Head);
        return head;
    }

    [Fact]
    public void Parsing_and_matching_into_a_reused_head_allocates_nothing_in_steady_state()
    {
        var routes = Routes();
        var head = new RequestHead();
        byte[][] heads = [BrowserGet, ApiPost, LongCookie];
        string[] expected = ["beta", "debug", "account"];
        // Warm-up: the head's buffers grow to the largest head, code is jitted, statics are initialized.
        for (int i = 0; i < 50; i++)
            for (int k = 0; k < heads.Length; k++)
                Assert.Equal(expected[k], routes.Match(ParseInto(head, heads[k]))?.Route.RouteId);

        const int Requests = 3000;
        int matched = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Requests; i++)
        {
            var r = RequestHeadParser.Parse(heads[i % 3], head);
            if (r.Status == ParseStatus.Complete && routes.Match(r.Head!) is not null) matched++;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Requests, matched);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Pipelined_heads_read_from_HttpInput_into_a_reused_head_allocate_nothing()
    {
        var routes = Routes();
        const int Requests = 60;
        var pipelined = new List<byte>();
        for (int i = 0; i < Requests + 3; i++) pipelined.AddRange(i % 2 == 0 ? BrowserGet : LongCookie);
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        using var input = new HttpInput(socket, pipelined.ToArray()); // all received already: no read, no idle timer
        var head = new RequestHead();
        for (int i = 0; i < 3; i++) Assert.NotNull(routes.Match(Read(input, head)!));

        int matched = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Requests; i++)
            if (Read(input, head) is { } read && routes.Match(read) is not null) matched++;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Requests, matched);
        Assert.Equal(0, allocated);
        Assert.True(input.Unread.IsEmpty);

        // No assertion inside: xunit's Assert allocates. A head not read at once, or another one, fails the match count.
        static RequestHead? Read(HttpInput input, RequestHead head)
        {
            var task = input.ReadHeadAsync(head, RequestHeadParser.DefaultHeadLimit, Timeout.InfiniteTimeSpan, CancellationToken.None);
            return task.IsCompletedSuccessfully && task.Result is { Status: HeadReadStatus.Head, Head: var h } && ReferenceEquals(h, head) ? head : null;
        }
    }

    [Fact]
    public void A_refilled_head_shows_only_its_new_request_and_strings_read_before_stay()
    {
        var head = ParseInto(new RequestHead(), LongCookie);
        string cookie = head["Cookie"]!, path = head.Path, host = head.Host;
        var firstName = head.Headers[3].Key;

        ParseInto(head, ApiPost);
        Assert.Equal("POST", head.Method);
        Assert.Equal("/api/v1/orders?debug=%74rue&x=a+b", head.Target);
        Assert.Equal("/api/v1/orders", head.Path);
        Assert.Equal("debug=%74rue&x=a+b", head.Query);
        Assert.Equal("api.example.com", head.Host);
        Assert.Equal(187, head.ContentLength);
        Assert.Equal(ApiPost.Length, head.Length);
        Assert.Equal(4, head.Headers.Count);
        Assert.Null(head["Cookie"]);
        Assert.Equal("some value", head["x-custom-field"]);
        Assert.Equal(new KeyValuePair<string, string>("Content-Type", "application/json"), head.Headers[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => head.Headers[4]);
        Assert.Equal("debug", Routes().Match(head)?.Route.RouteId);
        var spaces = new RouteTable([new Route("spaces", "c", 0, [], "/{**all}",
            QueryParameters: [new QueryCondition("X", ["a b"], QueryParameterMatchMode.Exact, true)])], [new Cluster("c", RouterKind.Instance, [])]);
        Assert.Equal("spaces", spaces.Match(head)?.Route.RouteId);

        // Strings are strings: the refill changed none of them.
        Assert.StartsWith("_ga_c00=GS1.1.1718000000.0", cookie);
        Assert.Equal("/account/overview", path);
        Assert.Equal("www.example.com", host);
        Assert.Equal("Cookie", firstName);
    }

    [Fact]
    public void A_detached_copy_keeps_its_request_when_the_head_is_refilled()
    {
        var head = ParseInto(new RequestHead(), BrowserGet);
        _ = head.Method; // some values read (cached) before the copy, some after
        var kept = head.Detach();

        ParseInto(head, ApiPost);
        ParseInto(head, LongCookie);

        Assert.Equal("GET", kept.Method);
        Assert.Equal("/static/app/main.css?v=20240611", kept.Target);
        Assert.Equal("/static/app/main.css", kept.Path);
        Assert.Equal("v=20240611", kept.Query);
        Assert.Equal("shop.example.com", kept.Host);
        Assert.Equal(6, kept.Headers.Count);
        Assert.Equal("1", kept["X-Beta"]);
        Assert.Equal("Shop.Example.com:8443", kept["Host"]);
        Assert.Equal(BrowserGet.Length, kept.Length);
        Assert.True(kept.KeepAlive);
        Assert.Equal("beta", Routes().Match(kept)?.Route.RouteId);
        Assert.Equal("GET /static/app/main.css?v=20240611 HTTP/1.1", kept.ToString());
    }

    [Fact]
    public void A_head_never_filled_reads_as_empty()
    {
        var head = new RequestHead();
        Assert.Equal(("", "", "", "", ""), (head.Method, head.Target, head.Path, head.Query, head.Host));
        Assert.Empty(head.Headers);
        Assert.Empty(head.Detach().Headers);
    }

    [Fact]
    public void A_head_that_does_not_parse_leaves_the_next_parse_unaffected()
    {
        var head = ParseInto(new RequestHead(), BrowserGet);
        Assert.Equal(ParseStatus.Error, RequestHeadParser.Parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"u8, head).Status);
        Assert.Empty(head.Headers); // a failed refill leaves no fields of either request
        Assert.Null(head["Host"]);
        Assert.Equal(ParseStatus.Incomplete, RequestHeadParser.Parse("GET /x HTTP/1.1\r\nHost: a\r\n"u8, head).Status);
        var h = RequestHeadParser.Parse("PROPFIND /y HTTP/1.0\r\n\r\n"u8, head).Head!;
        Assert.Equal("PROPFIND", h.Method);
        Assert.Equal("/y", h.Path);
        Assert.Equal("", h.Query);
        Assert.Equal("", h.Host);
        Assert.Empty(h.Headers);
        Assert.False(h.KeepAlive);
        Assert.Equal(-1, h.ContentLength);
    }
}
