using System.Net;
using System.Text;
using Baton.Http;
using Baton.Routing;
using Baton.Modes.Handoff;
using Baton.Router;

namespace Baton.Tests.Routing;

public class RouteTableTests
{
    private static readonly Cluster[] Clusters =
    [
        new("a", RouterKind.Instance, []),
        new("b", RouterKind.Instance, []),
        new("c", HandoffKind.Instance, [new Destination("be1", new IPEndPoint(IPAddress.Parse("10.0.0.11"), 7000))]),
    ];

    private static Route R(string id, string cluster, string? path, int order = 0, params string[] hosts) =>
        new(id, cluster, order, hosts, path);

    private static RequestHead Request(string host, string target)
    {
        var r = RequestHeadParser.Parse(Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n"));
        Assert.Equal(ParseStatus.Complete, r.Status);
        return r.Head!;
    }

    private static string? Match(RouteTable t, string host, string target) => t.Match(Request(host, target))?.Route.RouteId;

    [Theory]
    [InlineData("/api/users", true)]
    [InlineData("/api/", true)]
    [InlineData("/api", true)]
    [InlineData("/API/x", true)]
    [InlineData("/api/users?x=1", true)]
    [InlineData("/apis", false)]
    [InlineData("/ap", false)]
    [InlineData("/other/api/", false)]
    public void Catch_all_path_matches_the_literal_part_as_a_prefix(string target, bool matches)
    {
        var t = new RouteTable([R("api", "a", "/api/{**rest}")], Clusters);
        Assert.Equal(matches ? "api" : null, Match(t, "any.host", target));
    }

    [Theory]
    [InlineData("/health", true)]
    [InlineData("/HEALTH", true)]
    [InlineData("/health?verbose", true)]
    [InlineData("/health/", false)]
    [InlineData("/health/x", false)]
    [InlineData("/healthz", false)]
    [InlineData("/", false)]
    public void Path_without_catch_all_must_match_exactly(string target, bool matches)
    {
        var t = new RouteTable([R("h", "a", "/health")], Clusters);
        Assert.Equal(matches ? "h" : null, Match(t, "x", target));
    }

    [Fact]
    public void Route_without_a_path_matches_every_path_of_its_hosts()
    {
        var t = new RouteTable([R("site", "a", null, 0, "example.org")], Clusters);
        Assert.Equal("site", Match(t, "example.org", "/"));
        Assert.Equal("site", Match(t, "example.org", "/deep/path?q"));
        Assert.Null(Match(t, "example.net", "/"));
    }

    [Theory]
    [InlineData("a.example.com", true)]
    [InlineData("A.Example.COM", true)]
    [InlineData("a.b.example.com", true)]
    [InlineData("a.example.com:8443", true)]
    [InlineData("example.com", false)]
    [InlineData("badexample.com", false)]
    [InlineData("a.example.com.evil", false)]
    [InlineData("a.example.org", false)]
    public void Wildcard_host_matches_subdomains_only(string host, bool matches)
    {
        var t = new RouteTable([R("w", "a", "/{**all}", 0, "*.example.com")], Clusters);
        Assert.Equal(matches ? "w" : null, Match(t, host, "/x"));
    }

    [Fact]
    public void Host_patterns_ignore_ports_and_case()
    {
        var t = new RouteTable([R("p", "a", "/{**all}", 0, "Shop.Example.com:8080")], Clusters);
        Assert.Equal("p", Match(t, "shop.example.com", "/"));
        Assert.Equal("p", Match(t, "shop.example.com:9999", "/"));
        Assert.Null(Match(t, "example.com", "/"));
    }

    [Fact]
    public void Any_of_several_hosts_matches()
    {
        var t = new RouteTable([R("m", "a", "/{**all}", 0, "one.test", "two.test")], Clusters);
        Assert.Equal("m", Match(t, "one.test", "/"));
        Assert.Equal("m", Match(t, "two.test", "/"));
        Assert.Null(Match(t, "three.test", "/"));
    }

    [Fact]
    public void Lower_order_wins_over_a_more_specific_route()
    {
        var t = new RouteTable(
        [
            R("specific", "a", "/api/orders", order: 0, "shop.test"),
            R("first", "b", "/{**all}", order: -1),
        ], Clusters);
        Assert.Equal("first", Match(t, "shop.test", "/api/orders"));
        Assert.Equal("b", t.Match(Request("shop.test", "/api/orders"))!.Value.Cluster.Id);
    }

    [Fact]
    public void Higher_order_loses_even_when_listed_first()
    {
        var t = new RouteTable(
        [
            R("late", "a", "/api/{**x}", order: 10),
            R("early", "b", "/api/{**x}", order: 1),
        ], Clusters);
        Assert.Equal("early", Match(t, "h", "/api/x"));
    }

    [Fact]
    public void Longer_prefix_wins_regardless_of_declaration_order()
    {
        var t = new RouteTable(
        [
            R("root", "a", "/{**all}"),
            R("api", "b", "/api/{**rest}"),
            R("apiv2", "c", "/api/v2/{**rest}"),
        ], Clusters);
        Assert.Equal("apiv2", Match(t, "h", "/api/v2/items"));
        Assert.Equal("api", Match(t, "h", "/api/v1/items"));
        Assert.Equal("root", Match(t, "h", "/index.html"));
    }

    [Fact]
    public void Exact_path_wins_over_a_prefix_that_also_matches()
    {
        var t = new RouteTable(
        [
            R("prefix", "a", "/api/{**rest}"),
            R("exact", "b", "/api/status"),
        ], Clusters);
        Assert.Equal("exact", Match(t, "h", "/api/status"));
        Assert.Equal("prefix", Match(t, "h", "/api/other"));
    }

    [Fact]
    public void Route_with_hosts_wins_over_one_without_the_same_path()
    {
        var t = new RouteTable(
        [
            R("any-host", "a", "/api/{**rest}"),
            R("host", "b", "/api/{**rest}", 0, "shop.test"),
        ], Clusters);
        Assert.Equal("host", Match(t, "shop.test", "/api/x"));
        Assert.Equal("any-host", Match(t, "other.test", "/api/x"));
    }

    [Fact]
    public void More_specific_path_wins_over_a_host_as_in_ASP_NET_endpoint_ordering()
    {
        var t = new RouteTable(
        [
            R("any-host", "a", "/api/{**rest}"),
            R("host", "b", "/{**all}", 0, "shop.test"),
        ], Clusters);
        Assert.Equal("any-host", Match(t, "shop.test", "/api/x"));
        Assert.Equal("host", Match(t, "shop.test", "/other"));
    }

    [Fact]
    public void Routes_are_listed_in_matching_order()
    {
        var t = new RouteTable(
        [
            R("root", "a", "/{**all}"),
            R("late", "a", "/x", order: 5),
            R("exact", "a", "/api/status"),
            R("host", "a", "/{**all}", 0, "h.test"),
            R("api", "a", "/api/{**rest}"),
        ], Clusters);
        Assert.Equal(["exact", "api", "host", "root", "late"], t.Routes.Select(r => r.RouteId));
    }

    [Fact]
    public void No_matching_route_is_null()
    {
        var t = new RouteTable([R("api", "a", "/api/{**rest}", 0, "shop.test")], Clusters);
        Assert.Null(t.Match(Request("shop.test", "/other")));
        Assert.Null(t.Match(Request("else.test", "/api/x")));
    }

    [Fact]
    public void Match_returns_the_route_s_cluster_case_insensitively()
    {
        var t = new RouteTable([R("r", "C", "/{**all}")], Clusters);
        var m = t.Match(Request("h", "/"));
        Assert.NotNull(m);
        Assert.Equal("c", m.Value.Cluster.Id);
        Assert.Equal(HandoffKind.Instance, m.Value.Cluster.Transfer);
        Assert.Equal("be1", Assert.Single(m.Value.Cluster.Destinations).Name);
    }

    [Fact]
    public void Route_to_an_unknown_cluster_is_refused_naming_the_key_path()
    {
        var e = Assert.Throws<ArgumentException>(() => new RouteTable([R("r1", "nope", "/")], Clusters));
        Assert.Contains("ReverseProxy:Routes:r1:ClusterId", e.Message);
        Assert.Contains("nope", e.Message);
    }
}
