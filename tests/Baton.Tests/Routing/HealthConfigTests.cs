using Baton.Configuration;
using System.Text.Json.Nodes;
using Baton.Health;
using Baton.Router;

namespace Baton.Tests.Routing;

/// <summary>HealthCheck sections, Metadata and the warnings for YARP keys Baton does not implement.</summary>
public sealed class HealthConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("baton-health-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static JsonObject Config(string clusterJson) => JsonNode.Parse($$"""
        {
          "Baton": { "Listen": "127.0.0.1:8080" },
          "ReverseProxy": {
            "Routes": { "all": { "ClusterId": "origins", "Match": { "Path": "/{**rest}" } } },
            "Clusters": { "origins": {{clusterJson}} }
          }
        }
        """)!.AsObject();

    private const string Relay = """{ "Transfer": "relay", "Destinations": { "o1": { "Address": "http://127.0.0.1:9001/" } } }""";

    private RouterOptions Load(JsonObject config)
    {
        var path = Path.Combine(_dir, "router.json");
        File.WriteAllText(path, config.ToJsonString());
        return RouterConfig.Load(path);
    }

    private RouterOptions LoadCluster(string clusterJson) => Load(Config(clusterJson));

    private string Error(string clusterJson) => Assert.Throws<ConfigException>(() => LoadCluster(clusterJson)).Message;

    [Fact]
    public void Without_a_HealthCheck_section_checks_are_off_and_HealthyAndUnknown()
    {
        var o = LoadCluster(Relay);
        var h = o.Routes.Clusters["origins"].HealthCheck!;

        Assert.False(h.Active.Enabled);
        Assert.False(h.Passive.Enabled);
        Assert.Equal(AvailableDestinations.HealthyAndUnknown, h.AvailableDestinationsPolicy);
        Assert.Equal(TimeSpan.FromSeconds(15), h.Active.Interval);
        Assert.Equal(TimeSpan.FromSeconds(10), h.Active.Timeout);
        Assert.Equal(2, h.Active.Fall);
        Assert.Equal(1, h.Active.Rise);
        Assert.Empty(o.Warnings);
    }

    [Fact]
    public void A_full_HealthCheck_section_loads()
    {
        var o = LoadCluster("""
            {
              "Transfer": "relay",
              "HealthCheck": {
                "AvailableDestinationsPolicy": "healthyorpanic",
                "Active": { "Enabled": "true", "Interval": "00:00:05", "Timeout": "00:00:01", "Policy": "ConsecutiveFailures",
                            "Path": "/healthz", "Query": "?deep=1", "Fall": "4", "Rise": "2" },
                "Passive": { "Enabled": true, "ReactivationPeriod": "00:00:20", "Fall": "5" }
              },
              "Destinations": { "o1": { "Address": "http://127.0.0.1:9001/", "Health": "http://127.0.0.1:9101/" } }
            }
            """);
        var c = o.Routes.Clusters["origins"];
        var h = c.HealthCheck!;

        Assert.Equal(AvailableDestinations.HealthyOrPanic, h.AvailableDestinationsPolicy);
        Assert.Equal(new ActiveHealthCheckOptions
        {
            Enabled = true,
            Interval = TimeSpan.FromSeconds(5),
            Timeout = TimeSpan.FromSeconds(1),
            Path = "/healthz",
            Query = "?deep=1",
            Fall = 4,
            Rise = 2,
        }, h.Active);
        Assert.True(h.Passive.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(20), h.Passive.ReactivationPeriod);
        Assert.Equal(5, h.Passive.Fall);
        Assert.Equal(new Uri("http://127.0.0.1:9101/"), c.Destinations[0].Health);
        Assert.Equal("http://127.0.0.1:9101/healthz?deep=1", ClusterHealth.ProbeUri(c, c.Destinations[0])!.ToString());
        Assert.Empty(o.Warnings);
    }

    [Fact]
    public void YARPs_threshold_metadata_is_the_fall_threshold()
    {
        var o = LoadCluster("""
            { "Transfer": "relay", "Metadata": { "ConsecutiveFailuresHealthPolicy.Threshold": "5", "team": "web" },
              "HealthCheck": { "Active": { "Enabled": true } },
              "Destinations": { "o1": { "Address": "http://127.0.0.1:9001/" } } }
            """);
        var c = o.Routes.Clusters["origins"];

        Assert.Equal(5, c.HealthCheck!.Active.Fall);
        Assert.Equal("web", c.Metadata!["team"]);
    }

    [Theory]
    [InlineData("""{ "Active": { "Interval": "soon" } }""", "ReverseProxy:Clusters:origins:HealthCheck:Active:Interval: 'soon' is not a positive duration")]
    [InlineData("""{ "Active": { "Timeout": "-00:00:01" } }""", "ReverseProxy:Clusters:origins:HealthCheck:Active:Timeout: '-00:00:01' is not a positive duration")]
    [InlineData("""{ "Active": { "Enabled": "yes" } }""", "ReverseProxy:Clusters:origins:HealthCheck:Active:Enabled: 'yes' is not true or false")]
    [InlineData("""{ "Active": { "Policy": "FailureRate" } }""", "ReverseProxy:Clusters:origins:HealthCheck:Active:Policy: 'FailureRate' is not an active health policy")]
    [InlineData("""{ "Active": { "Path": "healthz" } }""", "ReverseProxy:Clusters:origins:HealthCheck:Active:Path: 'healthz' must start with '/'")]
    [InlineData("""{ "Active": { "Fall": "0" } }""", "ReverseProxy:Clusters:origins:HealthCheck:Active:Fall: '0' is not a positive integer")]
    [InlineData("""{ "Active": { "Rise": "many" } }""", "ReverseProxy:Clusters:origins:HealthCheck:Active:Rise: 'many' is not a positive integer")]
    [InlineData("""{ "Passive": { "ReactivationPeriod": "1 minute" } }""", "ReverseProxy:Clusters:origins:HealthCheck:Passive:ReactivationPeriod: '1 minute' is not a positive duration")]
    [InlineData("""{ "Passive": { "Policy": "Magic" } }""", "ReverseProxy:Clusters:origins:HealthCheck:Passive:Policy: 'Magic' is not a passive health policy")]
    [InlineData("""{ "Passive": { "Fall": "-1" } }""", "ReverseProxy:Clusters:origins:HealthCheck:Passive:Fall: '-1' is not a positive integer")]
    [InlineData("""{ "AvailableDestinationsPolicy": "Any" }""", "ReverseProxy:Clusters:origins:HealthCheck:AvailableDestinationsPolicy: 'Any' is not one of HealthyAndUnknown, HealthyOrPanic")]
    public void Health_check_errors_name_the_key(string healthCheck, string expected)
    {
        var message = Error($$"""{ "Transfer": "relay", "HealthCheck": {{healthCheck}}, "Destinations": { "o1": { "Address": "http://127.0.0.1:9001/" } } }""");
        Assert.StartsWith(expected, message);
    }

    [Fact]
    public void A_bad_threshold_metadata_value_or_a_contradicting_Fall_is_an_error()
    {
        Assert.StartsWith("ReverseProxy:Clusters:origins:Metadata:ConsecutiveFailuresHealthPolicy.Threshold: 'x' is not a positive integer",
            Error("""{ "Transfer": "relay", "Metadata": { "ConsecutiveFailuresHealthPolicy.Threshold": "x" }, "Destinations": { "o1": { "Address": "http://127.0.0.1:9001/" } } }"""));
        Assert.Contains("contradicts ReverseProxy:Clusters:origins:Metadata:ConsecutiveFailuresHealthPolicy.Threshold (3)",
            Error("""{ "Transfer": "relay", "Metadata": { "ConsecutiveFailuresHealthPolicy.Threshold": "3" }, "HealthCheck": { "Active": { "Fall": "4" } }, "Destinations": { "o1": { "Address": "http://127.0.0.1:9001/" } } }"""));
    }

    [Fact]
    public void A_Health_address_must_be_an_http_url()
    {
        Assert.StartsWith("ReverseProxy:Clusters:origins:Destinations:o1:Health: 'https://127.0.0.1:9101/' is not an http:// URL",
            Error("""{ "Transfer": "relay", "Destinations": { "o1": { "Address": "http://127.0.0.1:9001/", "Health": "https://127.0.0.1:9101/" } } }"""));
    }

    [Fact]
    public void Active_checks_on_local_destinations_without_Health_are_a_warning_not_an_error()
    {
        var config = Config("""
            { "Transfer": "local", "HealthCheck": { "Active": { "Enabled": true, "Path": "/healthz" } },
              "Destinations": { "w1": {}, "w2": { "Health": "http://127.0.0.1:9102/" } } }
            """);
        config["Baton"]!["WorkerSocket"] = "workers.sock";
        var o = Load(config);

        var w = Assert.Single(o.Warnings);
        Assert.StartsWith("ReverseProxy:Clusters:origins:Destinations:w1:Health: missing, so active checks cannot probe this local destination", w);
        var c = o.Routes.Clusters["origins"];
        Assert.Equal("http://127.0.0.1:9102/healthz", ClusterHealth.ProbeUri(c, c.Destinations[1])!.ToString());
    }

    [Fact]
    public void TransportFailureRate_is_accepted_with_a_warning()
    {
        var o = LoadCluster("""
            { "Transfer": "relay", "HealthCheck": { "Passive": { "Enabled": true, "Policy": "TransportFailureRate" } },
              "Destinations": { "o1": { "Address": "http://127.0.0.1:9001/" } } }
            """);
        Assert.Contains(o.Warnings, w => w.StartsWith("ReverseProxy:Clusters:origins:HealthCheck:Passive:Policy: YARP's TransportFailureRate is not implemented", StringComparison.Ordinal));
        Assert.True(o.Routes.Clusters["origins"].HealthCheck!.Passive.Enabled);
    }

    [Fact]
    public void A_YARP_sample_with_features_Baton_lacks_loads_and_names_each_one()
    {
        // Shaped like YARP's documented appsettings.json samples.
        var path = Path.Combine(_dir, "appsettings.json");
        File.WriteAllText(path, """
            {
              "Logging": { "LogLevel": { "Default": "Information" } },
              "Baton": { "Listen": "127.0.0.1:8080" },
              "ReverseProxy": {
                "Routes": {
                  "route1": {
                    "ClusterId": "cluster1",
                    "AuthorizationPolicy": "Default",
                    "CorsPolicy": "customPolicy",
                    "RateLimiterPolicy": "fixed",
                    "OutputCachePolicy": "short",
                    "TimeoutPolicy": "slow",
                    "MaxRequestBodySize": 1000000,
                    "Match": { "Path": "/api/{**catch-all}", "Hosts": [ "www.aaaaa.com" ] },
                    "Metadata": { "owner": "team-a" },
                    "Transforms": [ { "PathPrefix": "/apis" }, { "RequestHeader": "header1", "Append": "bar" } ]
                  }
                },
                "Clusters": {
                  "cluster1": {
                    "Transfer": "relay",
                    "LoadBalancingPolicy": "PowerOfTwoChoices",
                    "SessionAffinity": { "Enabled": true, "Policy": "Cookie", "AffinityKeyName": ".Yarp.Affinity" },
                    "HttpClient": { "SslProtocols": [ "Tls12" ], "MaxConnectionsPerServer": 10 },
                    "HttpRequest": { "ActivityTimeout": "00:02:00" },
                    "Metadata": { "region": "eu" },
                    "Destinations": {
                      "cluster1/destination1": { "Address": "http://127.0.0.1:10000/", "Host": "contoso", "Metadata": { "zone": "a" } }
                    },
                    "Colour": "blue"
                  }
                }
              }
            }
            """);
        var o = RouterConfig.Load(path);

        Assert.Equal(
        [
            "ReverseProxy:Clusters:cluster1:Colour",
            "ReverseProxy:Clusters:cluster1:Destinations:cluster1/destination1:Host",
            "ReverseProxy:Clusters:cluster1:HttpClient",
            "ReverseProxy:Clusters:cluster1:HttpRequest",
            "ReverseProxy:Clusters:cluster1:SessionAffinity",
            "ReverseProxy:Routes:route1:AuthorizationPolicy",
            "ReverseProxy:Routes:route1:CorsPolicy",
            "ReverseProxy:Routes:route1:MaxRequestBodySize",
            "ReverseProxy:Routes:route1:OutputCachePolicy",
            "ReverseProxy:Routes:route1:RateLimiterPolicy",
            "ReverseProxy:Routes:route1:TimeoutPolicy",
            "ReverseProxy:Routes:route1:Transforms",
        ], o.Warnings.Select(w => w[..w.IndexOf(": ", StringComparison.Ordinal)]).Order(StringComparer.Ordinal));
        Assert.Contains(o.Warnings, w => w.Contains("Transforms: YARP's request and response transforms; not implemented by Baton, ignored"));
        Assert.Contains(o.Warnings, w => w.Contains("Colour: not a key Baton knows; ignored"));

        // Everything Baton does implement is in force, Metadata included.
        var c = o.Routes.Clusters["cluster1"];
        Assert.Equal("eu", c.Metadata!["region"]);
        Assert.Equal("a", c.Destinations[0].Metadata!["zone"]);
        Assert.Equal("team-a", o.Routes.Routes[0].Metadata!["owner"]);
        Assert.Equal(["www.aaaaa.com"], o.Routes.Routes[0].Hosts);
    }
}
