using Baton.Configuration;
using System.Text;
using Baton.Http;
using Baton.Router;
using Baton.Routing;
using Microsoft.Extensions.Configuration;

namespace Baton.Tests.Routing;

/// <summary>Methods, Headers and QueryParameters in YARP's schema, loaded from JSON and matched as YARP would.</summary>
public sealed class RouteConditionTests
{
    // A YARP-style sample: two clusters, routes on host, path, method, header and query.
    private const string Sample = """
        {
          "ReverseProxy": {
            "Routes": {
              "beta":   { "ClusterId": "beta", "Match": { "Path": "/api/{**rest}",
                          "Headers": [ { "Name": "X-Channel", "Values": [ "beta" ], "Mode": "ExactHeader" } ] } },
              "debug":  { "ClusterId": "beta", "Match": { "Path": "/api/{**rest}",
                          "QueryParameters": [ { "Name": "debug", "Mode": "Exists" } ] } },
              "writes": { "ClusterId": "beta", "Match": { "Path": "/api/{**rest}", "Methods": [ "POST", "PUT" ] } },
              "api":    { "ClusterId": "stable", "Match": { "Path": "/api/{**rest}", "Hosts": [ "*.example.com" ] } },
              "mobile": { "ClusterId": "beta", "Match": { "Path": "/{**rest}",
                          "Headers": [ { "Name": "User-Agent", "Values": [ "Mobile" ], "Mode": "Contains" } ] } },
              "nojs":   { "ClusterId": "beta", "Match": { "Path": "/{**rest}",
                          "QueryParameters": [ { "Name": "format", "Values": [ "js" ], "Mode": "NotContains" } ] } },
              "all":    { "ClusterId": "stable", "Match": { "Path": "/{**rest}" } }
            },
            "Clusters": {
              "stable": { "Destinations": { "be1": { "Address": "10.0.0.11:7070" } } },
              "beta":   { "Destinations": { "be2": { "Address": "10.0.0.12:7070" } } }
            }
          }
        }
        """;

    private static RouteTable Load(string json = Sample) =>
        ReverseProxyConfig.Load(new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build().GetSection("ReverseProxy"));

    private static string? RouteFor(RouteTable t, string head)
    {
        var r = RequestHeadParser.Parse(Encoding.ASCII.GetBytes(head));
        Assert.Equal(ParseStatus.Complete, r.Status);
        return t.Match(r.Head!)?.Route.RouteId;
    }

    [Theory]
    [InlineData("GET /api/x HTTP/1.1\r\nHost: a\r\nX-Channel: beta\r\n\r\n", "beta")]
    [InlineData("GET /api/x HTTP/1.1\r\nHost: a\r\nX-Channel: BETA\r\n\r\n", "beta")]
    [InlineData("GET /api/x HTTP/1.1\r\nHost: a.example.com\r\nX-Channel: beta\r\n\r\n", "api")] // host outranks headers
    [InlineData("GET /api/x?debug HTTP/1.1\r\nHost: a\r\n\r\n", "debug")]
    [InlineData("POST /api/x HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 0\r\n\r\n", "writes")] // methods outrank host
    [InlineData("GET /api/x HTTP/1.1\r\nHost: a.example.com\r\n\r\n", "api")]
    [InlineData("GET /page HTTP/1.1\r\nHost: a\r\nUser-Agent: Foo Mobile Safari\r\n\r\n", "mobile")]
    [InlineData("GET /page?format=html HTTP/1.1\r\nHost: a\r\n\r\n", "nojs")]
    [InlineData("GET /page?format=js HTTP/1.1\r\nHost: a\r\n\r\n", "all")]
    [InlineData("GET /page HTTP/1.1\r\nHost: a\r\n\r\n", "all")]
    public void Requests_go_where_YARP_would_send_them(string head, string route) =>
        Assert.Equal(route, RouteFor(Load(), head));

    [Fact]
    public void Case_sensitive_header_match_refuses_other_case()
    {
        var json = Sample.Replace("\"Mode\": \"ExactHeader\"", "\"Mode\": \"ExactHeader\", \"IsCaseSensitive\": true");
        Assert.Equal("all", RouteFor(Load(json), "GET /api/x HTTP/1.1\r\nHost: a\r\nX-Channel: BETA\r\n\r\n"));
    }

    [Fact]
    public void Unknown_header_mode_is_refused_naming_the_key()
    {
        var json = Sample.Replace("\"Mode\": \"ExactHeader\"", "\"Mode\": \"Fuzzy\"");
        var e = Assert.Throws<ConfigException>(() => Load(json));
        Assert.Contains("ReverseProxy:Routes:beta:Match:Headers:0:Mode", e.Message);
    }

    [Fact]
    public void Header_mode_that_needs_values_without_values_is_refused()
    {
        var json = Sample.Replace("\"Values\": [ \"beta\" ], ", "");
        var e = Assert.Throws<ConfigException>(() => Load(json));
        Assert.Contains("ReverseProxy:Routes:beta:Match:Headers:0:Values", e.Message);
    }
}
