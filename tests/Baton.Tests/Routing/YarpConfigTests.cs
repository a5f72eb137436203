using System.Text;
using Baton.Configuration;
using Baton.Http;
using Baton.Modes.Relay;

namespace Baton.Tests.Routing;

/// <summary>
/// A configuration written as a YARP user writes one, with nothing of Baton's but <c>Baton:Listen</c>:
/// catch-all paths without their leading slash, clusters with no Transfer and HTTP origins as
/// destinations, and the route features YARP's samples use. It loads, names what Baton does not
/// implement, and routes each request where YARP would.
/// </summary>
public sealed class YarpConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("baton-yarp-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Config = """
        {
          "Logging": { "LogLevel": { "Default": "Information", "Yarp": "Warning" } },
          "AllowedHosts": "*",
          "Baton": { "Listen": "127.0.0.1:8080" },
          "ReverseProxy": {
            "Routes": {
              "minimumroute": { "ClusterId": "minimumcluster", "Match": { "Path": "{**catch-all}" } },
              "allrouteprops": {
                "ClusterId": "allclusterprops",
                "Order": -1,
                "MaxRequestBodySize": 1000000,
                "Match": {
                  "Methods": [ "GET", "POST" ],
                  "Hosts": [ "www.aaaaa.com", "www.bbbbb.com" ],
                  "Path": "/something/{**remainder}",
                  "QueryParameters": [ { "Name": "queryparam1", "Values": [ "value1" ], "Mode": "Exact" } ],
                  "Headers": [ { "Name": "header1", "Values": [ "bluevalue", "redvalue" ], "Mode": "ExactHeader", "IsCaseSensitive": false } ]
                },
                "Metadata": { "MyName": "MyValue" },
                "Transforms": [ { "RequestHeader": "MyHeader", "Set": "MyValue" } ]
              }
            },
            "Clusters": {
              "minimumcluster": {
                "Destinations": { "example.com": { "Address": "http://127.0.0.1:10000/" } }
              },
              "allclusterprops": {
                "LoadBalancingPolicy": "PowerOfTwoChoices",
                "SessionAffinity": { "Enabled": true, "Policy": "HashCookie", "AffinityKeyName": ".Yarp.Affinity" },
                "HealthCheck": {
                  "Active": { "Enabled": "true", "Interval": "00:00:10", "Timeout": "00:00:10", "Policy": "ConsecutiveFailures", "Path": "/api/health" },
                  "Passive": { "Enabled": true, "Policy": "TransportFailureRate", "ReactivationPeriod": "00:00:05" }
                },
                "HttpClient": { "SslProtocols": [ "Tls12" ], "MaxConnectionsPerServer": 10, "DangerousAcceptAnyServerCertificate": false },
                "HttpRequest": { "ActivityTimeout": "00:02:00", "Version": "2", "VersionPolicy": "RequestVersionOrLower" },
                "Metadata": { "ConsecutiveFailuresHealthPolicy.Threshold": "3" },
                "Destinations": {
                  "first_destination": { "Address": "http://127.0.0.1:10001/" },
                  "another_destination": { "Address": "http://127.0.0.1:10002/", "Health": "http://127.0.0.1:10002/api/health" }
                }
              }
            }
          }
        }
        """;

    private static RequestHead Request(string head)
    {
        var r = RequestHeadParser.Parse(Encoding.ASCII.GetBytes(head.Replace("\n", "\r\n") + "\r\n"));
        Assert.Equal(ParseStatus.Complete, r.Status);
        return r.Head!;
    }

    [Fact]
    public void Loads_with_only_a_listen_address_added_and_routes_as_YARP_would()
    {
        var path = Path.Combine(_dir, "appsettings.json");
        File.WriteAllText(path, Config);
        var o = RouterConfig.Load(path);

        // Both clusters are relayed to their origins, each saying how to hand off instead.
        Assert.All(o.Routes.Clusters.Values, c => Assert.Equal(RelayKind.Instance, c.Transfer));
        Assert.Equal(2, o.Warnings.Count(w => w.Contains(": no Transfer, and every destination's Address is an HTTP URL")));
        // What Baton does not implement is named, each by its key.
        foreach (var key in new[] { "Routes:allrouteprops:Transforms", "Routes:allrouteprops:MaxRequestBodySize", "Clusters:allclusterprops:SessionAffinity", "Clusters:allclusterprops:HttpClient", "Clusters:allclusterprops:HttpRequest" })
            Assert.Contains(o.Warnings, w => w.StartsWith("ReverseProxy:" + key + ": ", StringComparison.Ordinal));

        var c = o.Routes.Clusters["allclusterprops"];
        Assert.True(c.HealthCheck!.Active.Enabled);
        Assert.Equal("/api/health", c.HealthCheck.Active.Path);
        Assert.Equal(3, c.HealthCheck.Active.Fall);

        string? RouteOf(string head) => o.Routes.Match(Request(head))?.Route.RouteId;
        // Every condition of the full route met: it comes first (Order -1; YARP's sample gives it
        // 100, and then, as in YARP, the catch-all at the default 0 takes every request).
        Assert.Equal("allrouteprops", RouteOf("GET /something/deep/path?queryparam1=value1 HTTP/1.1\nHost: www.bbbbb.com\nheader1: RedValue\n"));
        Assert.Equal("allrouteprops", RouteOf("POST /something/x?queryparam1=value1 HTTP/1.1\nHost: www.aaaaa.com\nheader1: bluevalue\nContent-Length: 0\n"));
        // One condition missed each time: the catch-all without its slash takes it.
        Assert.Equal("minimumroute", RouteOf("PUT /something/x?queryparam1=value1 HTTP/1.1\nHost: www.aaaaa.com\nheader1: bluevalue\nContent-Length: 0\n"));
        Assert.Equal("minimumroute", RouteOf("GET /something/x?queryparam1=value1 HTTP/1.1\nHost: www.ccccc.com\nheader1: bluevalue\n"));
        Assert.Equal("minimumroute", RouteOf("GET /something/x?queryparam1=other HTTP/1.1\nHost: www.aaaaa.com\nheader1: bluevalue\n"));
        Assert.Equal("minimumroute", RouteOf("GET /something/x?queryparam1=value1 HTTP/1.1\nHost: www.aaaaa.com\nheader1: green\n"));
        Assert.Equal("minimumroute", RouteOf("GET / HTTP/1.1\nHost: anything\n"));
    }
}
