using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Baton.Http;
using Baton.Routing;
using Baton.Modes.Handoff;

BenchmarkSwitcher.FromAssembly(typeof(ParserBenchmarks).Assembly).Run(args);

/// <summary>
/// What the router does per request before it picks a destination: parse the head, match a route.
/// "Parse X" parses into a new head each time (a caller without a head to reuse: agents, tests); the
/// "steady state" cases parse into one head kept across iterations, as <c>RouterConnection</c> keeps one
/// per client connection (<see cref="HttpInput.ReadHeadAsync(RequestHead, int, TimeSpan, CancellationToken)"/>).
/// Run: see bench/results/parser.md.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class ParserBenchmarks
{
    // A desktop browser's navigation request: ~500 bytes, 12 fields.
    private static readonly byte[] BrowserGet = Encoding.ASCII.GetBytes(
        "GET /static/app/main.css?v=20240611 HTTP/1.1\r\n" +
        "Host: shop.example.com\r\n" +
        "Connection: keep-alive\r\n" +
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n" +
        "Accept: text/css,*/*;q=0.1\r\n" +
        "Accept-Encoding: gzip, deflate, br, zstd\r\n" +
        "Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n" +
        "Referer: https://shop.example.com/products/42\r\n" +
        "Sec-Fetch-Site: same-origin\r\n" +
        "Sec-Fetch-Mode: no-cors\r\n" +
        "Sec-Fetch-Dest: style\r\n" +
        "Cache-Control: no-cache\r\n" +
        "Cookie: session=3f2a9c1e7b; theme=dark\r\n" +
        "\r\n");

    // A small JSON API call with a body length.
    private static readonly byte[] ApiPost = Encoding.ASCII.GetBytes(
        "POST /api/v1/orders HTTP/1.1\r\n" +
        "Host: api.example.com:8080\r\n" +
        "Content-Type: application/json\r\n" +
        "Content-Length: 187\r\n" +
        "Accept: application/json\r\n" +
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl\r\n" +
        "\r\n");

    // A request carrying a long cookie jar (analytics and session cookies, ~3 KB).
    private static readonly byte[] LongCookie = Encoding.ASCII.GetBytes(
        "GET /account/overview HTTP/1.1\r\n" +
        "Host: www.example.com\r\n" +
        "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0\r\n" +
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
        "Accept-Language: en-US,en;q=0.5\r\n" +
        "Accept-Encoding: gzip, deflate, br\r\n" +
        "Connection: keep-alive\r\n" +
        "Cookie: " + string.Join("; ", Enumerable.Range(0, 60).Select(i => $"_ga_c{i:D2}=GS1.1.{1718000000 + i}.{i}.1.{1718000000 + 7 * i}.0.0.0")) + "\r\n" +
        "\r\n");

    private RouteTable _routes = null!;
    private RequestHead _browserHead = null!;
    // The connection's head, refilled by every steady-state iteration.
    private readonly RequestHead _connectionHead = new();

    [GlobalSetup]
    public void Setup()
    {
        string[] destinations = ["static", "api", "account", "admin", "default"];
        var clusters = destinations.Select(d => new Cluster(d, HandoffKind.Instance, [new Destination(d + "1")]));
        _routes = new RouteTable(
        [
            new Route("admin", "admin", 0, ["admin.example.com"], "/{**all}"),
            new Route("api-orders", "api", 0, ["api.example.com"], "/api/v1/orders/{**rest}", Methods: ["GET", "POST"]),
            new Route("api", "api", 0, ["api.example.com", "api.example.org"], "/api/{**rest}"),
            new Route("health", "default", 0, [], "/health"),
            new Route("login", "account", 0, ["www.example.com"], "/login"),
            new Route("account", "account", 0, ["www.example.com"], "/account/{**rest}"),
            new Route("beta", "static", 0, ["shop.example.com"], "/static/{**rest}",
                Headers: [new HeaderCondition("X-Beta", ["1"], HeaderMatchMode.ExactHeader, false)]),
            new Route("images", "static", 0, ["*.cdn.example.com"], "/img/{**rest}"),
            new Route("static", "static", 0, ["shop.example.com", "*.shop.example.com"], "/static/{**rest}"),
            new Route("shop", "default", 0, ["shop.example.com"], "/{**all}"),
            new Route("fallback", "default", 10, [], "/{**all}"),
        ], clusters);
        _browserHead = Parse(BrowserGet);
        // The browser request falls through most routes (host, path and header checks) to "static".
        if (_routes.Match(_browserHead)?.Route.RouteId != "static") throw new InvalidOperationException("unexpected route");
        if (Parse(ApiPost).ContentLength != 187 || Parse(LongCookie).Length != LongCookie.Length)
            throw new InvalidOperationException("unexpected parse");
        // The connection's head has seen the largest head once (its buffers have grown), as on a connection
        // that has served a few requests.
        if (ParseReused(LongCookie).Length != LongCookie.Length || _routes.Match(ParseReused(BrowserGet))?.Route.RouteId != "static")
            throw new InvalidOperationException("unexpected parse into a reused head");
    }

    private RequestHead ParseReused(byte[] head) =>
        RequestHeadParser.Parse(head, _connectionHead).Head ?? throw new InvalidOperationException("head did not parse");

    private static RequestHead Parse(byte[] head) =>
        RequestHeadParser.Parse(head).Head ?? throw new InvalidOperationException("head did not parse");

    [Benchmark(Description = "Parse browser GET (12 fields)")]
    public RequestHead? ParseBrowserGet() => RequestHeadParser.Parse(BrowserGet).Head;

    [Benchmark(Description = "Parse API POST (Content-Length)")]
    public RequestHead? ParseApiPost() => RequestHeadParser.Parse(ApiPost).Head;

    [Benchmark(Description = "Parse GET with long cookie")]
    public RequestHead? ParseLongCookie() => RequestHeadParser.Parse(LongCookie).Head;

    [Benchmark(Description = "Match route (11 routes)")]
    public Route? MatchRoute() => _routes.Match(_browserHead)?.Route;

    [Benchmark(Description = "Parse + match browser GET")]
    public Route? ParseAndMatch() => _routes.Match(RequestHeadParser.Parse(BrowserGet).Head!)?.Route;

    [Benchmark(Description = "Steady state: parse browser GET")]
    public RequestHead? ParseBrowserGetReused() => RequestHeadParser.Parse(BrowserGet, _connectionHead).Head;

    [Benchmark(Description = "Steady state: parse API POST")]
    public RequestHead? ParseApiPostReused() => RequestHeadParser.Parse(ApiPost, _connectionHead).Head;

    [Benchmark(Description = "Steady state: parse long cookie")]
    public RequestHead? ParseLongCookieReused() => RequestHeadParser.Parse(LongCookie, _connectionHead).Head;

    [Benchmark(Description = "Steady state: parse + match GET")]
    public Route? ParseAndMatchReused() => _routes.Match(RequestHeadParser.Parse(BrowserGet, _connectionHead).Head!)?.Route;
}
