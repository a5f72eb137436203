using Baton.Configuration;
using System.Net;
using System.Text.Json.Nodes;
using Baton.Router;
using Baton.Steering;
using Baton.Routing;
using Microsoft.Extensions.Configuration;
using Baton.Modes.Adaptive;
using Baton.Modes.Handoff;
using Baton.Modes.Local;
using Baton.Modes.Relay;

namespace Baton.Tests.Routing;

/// <summary>RouterConfig.Load / LoadRoutes over real temp files: every error names its key path.</summary>
public sealed class RouterConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("baton-config-").FullName;

    public RouterConfigTests() => File.WriteAllText(Path.Combine(_dir, "cluster.key"), "0123456789abcdef0123456789abcdef\n");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static JsonObject ValidConfig() => JsonNode.Parse("""
        {
          "Baton": {
            "Listen": "10.0.0.1:80",
            "Interface": "eth0",
            "KeyFile": "cluster.key"
          },
          "ReverseProxy": {
            "Routes": {
              "r1": { "ClusterId": "c1", "Match": { "Path": "/{**all}" } },
              "r2": { "ClusterId": "local", "Order": "-5", "Match": { "Path": "/status", "Hosts": [ "*.example.com", "example.com" ] } }
            },
            "Clusters": {
              "c1": {
                "Destinations": {
                  "be1": { "Address": "10.0.0.11:7000" },
                  "be2": { "Address": "http://10.0.0.12:7000/" }
                }
              },
              "local": { "Transfer": "Router" }
            }
          }
        }
        """)!.AsObject();

    private string Write(JsonObject config, string name = "router.json")
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }

    private string LoadError(Action<JsonObject> mutate)
    {
        var c = ValidConfig();
        mutate(c);
        var path = Write(c);
        return Assert.Throws<ConfigException>(() => RouterConfig.Load(path)).Message;
    }

    private static JsonObject Proxy(JsonObject c) => c["ReverseProxy"]!.AsObject();
    private static JsonObject Route(JsonObject c, string id) => Proxy(c)["Routes"]![id]!.AsObject();
    private static JsonObject ClusterNode(JsonObject c, string id) => Proxy(c)["Clusters"]![id]!.AsObject();

    [Fact]
    public void Valid_configuration_loads_with_defaults()
    {
        var o = RouterConfig.Load(Write(ValidConfig()));

        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 80), o.Listen);
        Assert.Equal("eth0", o.Interface);
        Assert.Equal("router", o.Name);
        Assert.Equal(TimeSpan.FromSeconds(60), o.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2), o.HandoffTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), o.CloseGrace);
        Assert.NotNull(o.Key);

        var c1 = o.Routes.Clusters["c1"];
        Assert.Equal(HandoffKind.Instance, c1.Transfer);
        Assert.Equal(
            [("be1", new IPEndPoint(IPAddress.Parse("10.0.0.11"), 7000)), ("be2", new IPEndPoint(IPAddress.Parse("10.0.0.12"), 7000))],
            c1.Destinations.Select(d => (d.Name, d.ControlEndpoint)).OrderBy(d => d.Name));
        Assert.Equal(RouterKind.Instance, o.Routes.Clusters["local"].Transfer);

        var r2 = o.Routes.Routes.Single(r => r.RouteId == "r2");
        Assert.Equal(-5, r2.Order);
        Assert.Equal(["*.example.com", "example.com"], r2.Hosts);
        Assert.Equal("/status", r2.Path);
        Assert.Equal("r2", o.Routes.Routes[0].RouteId);
    }

    [Fact]
    public void Adaptive_cluster_reads_the_origin_the_agent_and_the_threshold()
    {
        var c = ValidConfig();
        Proxy(c)["Clusters"]!["c1"] = JsonNode.Parse("""
            { "Transfer": "adaptive", "HandoffAbove": "65536",
              "Destinations": { "be1": { "Address": "http://10.0.0.11:8080/", "Agent": "10.0.0.11:7070" } } }
            """);
        var o = RouterConfig.Load(Write(c));
        var c1 = o.Routes.Clusters["c1"];
        Assert.Equal(AdaptiveKind.Instance, c1.Transfer);
        Assert.Equal(65536, ((AdaptiveOptions)c1.ModeSettings!).HandoffAbove);
        var d = Assert.Single(c1.Destinations);
        Assert.Equal(new Uri("http://10.0.0.11:8080/"), d.Url);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.11"), 7070), d.ControlEndpoint);

        ClusterNode(c, "c1").Remove("HandoffAbove");
        Assert.Equal(AdaptiveOptions.DefaultHandoffAbove, RouterConfig.Load(Write(c)).Routes.Clusters["c1"].ModeSettings is AdaptiveOptions { } a ? a.HandoffAbove : -1);
    }

    [Fact]
    public void Every_error_is_reported_at_once_each_naming_its_key()
    {
        // Before, loading stopped at the first error: an operator fixed one key per run.
        var e = Assert.Throws<ConfigException>(() => RouterConfig.Load(Write(Mutated(c =>
        {
            c["Baton"]!["Listen"] = "nowhere";
            c["Baton"]!["IdleTimeout"] = "soon";
            Route(c, "r1")["ClusterId"] = "missing";
            Route(c, "r2")["Match"]!["Path"] = "";
            ClusterNode(c, "c1")["Destinations"]!["be1"]!["Address"] = "10.0.0.11";
            ClusterNode(c, "c1")["LoadBalancingPolicy"] = "Fastest";
        }))));
        Assert.Equal(
        [
            "ReverseProxy:Clusters:c1:Destinations:be1:Address: '10.0.0.11' is not an IPv4 address:port",
            "ReverseProxy:Clusters:c1:LoadBalancingPolicy: ",
            "ReverseProxy:Routes:r1:ClusterId: cluster 'missing' is not defined",
            "ReverseProxy:Routes:r2:Match:Path: is empty (use '/{**catch-all}' to match every path)",
            "Baton:Listen: 'nowhere' is not an IPv4 address:port",
            "Baton:IdleTimeout: 'soon' is not a positive duration (hh:mm:ss)",
        ], e.Errors.Select(x => x.StartsWith("ReverseProxy:Clusters:c1:LoadBalancingPolicy: ") ? "ReverseProxy:Clusters:c1:LoadBalancingPolicy: " : x));
        Assert.StartsWith("6 configuration errors:\n  ReverseProxy:Clusters:c1:Destinations:be1:Address:", e.Message);
    }

    [Fact]
    public void A_key_file_or_account_that_cannot_be_resolved_is_an_error_of_its_key()
    {
        var e = Assert.Throws<ConfigException>(() => RouterConfig.Load(Write(Mutated(c =>
        {
            c["Baton"]!["KeyFile"] = "absent.key";
            c["Baton"]!["WorkerUser"] = "no-such-user-baton";
        }))));
        Assert.Equal(2, e.Errors.Count);
        Assert.StartsWith("Baton:KeyFile: cannot read cluster key file", e.Errors[0]);
        Assert.Equal("Baton:WorkerUser: 'no-such-user-baton' is neither a number nor a name in /etc/passwd", e.Errors[1]);
    }

    private static JsonObject Mutated(Action<JsonObject> mutate)
    {
        var c = ValidConfig();
        mutate(c);
        return c;
    }

    [Fact]
    public void Adaptive_cluster_errors_name_the_key()
    {
        static void Adaptive(JsonObject c, string destination, string? above = null)
        {
            var node = JsonNode.Parse($$"""{ "Transfer": "adaptive", "Destinations": { "be1": {{destination}} } }""")!.AsObject();
            if (above is not null) node["HandoffAbove"] = above;
            c["ReverseProxy"]!["Clusters"]!["c1"] = node;
        }
        Assert.StartsWith("ReverseProxy:Clusters:c1:Destinations:be1:Agent: missing",
            LoadError(c => Adaptive(c, """{ "Address": "http://10.0.0.11:8080/" }""")));
        Assert.StartsWith("ReverseProxy:Clusters:c1:Destinations:be1:Address: '10.0.0.11:7070' is not an http:// URL",
            LoadError(c => Adaptive(c, """{ "Address": "10.0.0.11:7070", "Agent": "10.0.0.11:7070" }""")));
        Assert.StartsWith("ReverseProxy:Clusters:c1:HandoffAbove: 'big' is not a size in bytes",
            LoadError(c => Adaptive(c, """{ "Address": "http://10.0.0.11:8080/", "Agent": "10.0.0.11:7070" }""", "big")));
        Assert.StartsWith("ReverseProxy:Clusters:c1:HandoffAbove: only an adaptive cluster",
            LoadError(c => ClusterNode(c, "c1")["HandoffAbove"] = "1000"));
    }

    [Fact]
    public void Optional_settings_are_read()
    {
        var c = ValidConfig();
        var b = c["Baton"]!.AsObject();
        b["Name"] = "edge-7";
        b["IdleTimeout"] = "00:00:45";
        b["HandoffTimeout"] = "00:00:00.500";
        b["CloseGrace"] = "00:00:10";
        var o = RouterConfig.Load(Write(c));
        Assert.Equal("edge-7", o.Name);
        Assert.Equal(TimeSpan.FromSeconds(45), o.IdleTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(500), o.HandoffTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), o.CloseGrace);
    }

    [Fact]
    public void Metrics_are_off_unless_asked_for_and_read_when_they_are()
    {
        Assert.False(RouterConfig.Load(Write(ValidConfig())).Metrics.Enabled);
        var o = RouterConfig.Load(Write(Mutated(c => c["Baton"]!["Metrics"] = JsonNode.Parse("""
            { "Listen": "127.0.0.1:9464", "Otlp": { "Endpoint": "http://collector:4318", "Protocol": "http/protobuf", "Interval": "00:00:10" } }
            """))));
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:9464"), o.Metrics.Listen);
        Assert.Equal(new Uri("http://collector:4318"), o.Metrics.OtlpEndpoint);
        Assert.Equal(OtlpTransport.HttpProtobuf, o.Metrics.OtlpProtocol);
        Assert.Equal(TimeSpan.FromSeconds(10), o.Metrics.OtlpInterval);
        var grpc = RouterConfig.Load(Write(Mutated(c => c["Baton"]!["Metrics"] = JsonNode.Parse("""{ "Otlp": { "Endpoint": "http://collector:4317" } }"""))));
        Assert.Null(grpc.Metrics.Listen);
        Assert.Equal(OtlpTransport.Grpc, grpc.Metrics.OtlpProtocol);
    }

    [Theory]
    [InlineData("""{ "Listen": "9464" }""", "Baton:Metrics:Listen: '9464' is not an IPv4 address:port")]
    [InlineData("""{ "Otlp": { "Endpoint": "collector:4317" } }""", "Baton:Metrics:Otlp:Endpoint: 'collector:4317' is not an http:// or https:// URL (the OTLP collector)")]
    [InlineData("""{ "Otlp": { "Endpoint": "http://c:4317", "Protocol": "udp" } }""", "Baton:Metrics:Otlp:Protocol: 'udp' is not an OTLP protocol (grpc, http/protobuf)")]
    [InlineData("""{ "Otlp": { "Endpoint": "http://c:4317", "Interval": "00:00:00.100" } }""", "Baton:Metrics:Otlp:Interval: 00:00:00.1000000 is shorter than 1 s")]
    public void Bad_metrics_settings_name_their_key(string metrics, string error) =>
        Assert.Equal(error, LoadError(c => c["Baton"]!["Metrics"] = JsonNode.Parse(metrics)));

    [Fact]
    public void Admin_listener_needs_a_token_file_with_a_long_token()
    {
        Assert.Equal("Baton:Admin:TokenFile: missing (the admin API takes calls only with the token in this file)",
            LoadError(c => c["Baton"]!["Admin"] = JsonNode.Parse("""{ "Listen": "127.0.0.1:9901" }""")));
        Assert.Equal($"Baton:Admin:TokenFile: token file '{Path.Combine(_dir, "absent.token")}' does not exist (make one: openssl rand -hex 32 > {Path.Combine(_dir, "absent.token")})",
            LoadError(c => c["Baton"]!["Admin"] = JsonNode.Parse("""{ "Listen": "127.0.0.1:9901", "TokenFile": "absent.token" }""")));
        File.WriteAllText(Path.Combine(_dir, "short.token"), "secret\n");
        Assert.StartsWith("Baton:Admin:TokenFile: token file", LoadError(c => c["Baton"]!["Admin"] = JsonNode.Parse("""{ "Listen": "127.0.0.1:9901", "TokenFile": "short.token" }""")));
        File.WriteAllText(Path.Combine(_dir, "good.token"), new string('a', 64) + "\n");
        var o = RouterConfig.Load(Write(Mutated(c => c["Baton"]!["Admin"] = JsonNode.Parse("""{ "Listen": "127.0.0.1:9901", "TokenFile": "good.token" }"""))));
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:9901"), o.Admin.Listen);
        Assert.Equal(new string('a', 64), o.Admin.Token);
        Assert.Null(RouterConfig.Load(Write(ValidConfig())).Admin.Listen);
    }

    [Fact]
    public void Key_file_path_is_relative_to_the_configuration_file()
    {
        var sub = Directory.CreateDirectory(Path.Combine(_dir, "etc")).FullName;
        File.WriteAllText(Path.Combine(sub, "k"), "fedcba9876543210fedcba9876543210");
        var c = ValidConfig();
        c["Baton"]!["KeyFile"] = "k";
        File.WriteAllText(Path.Combine(sub, "router.json"), c.ToJsonString());
        Assert.NotNull(RouterConfig.Load(Path.Combine(sub, "router.json")).Key);
    }

    [Fact]
    public void Missing_file_is_named()
    {
        string path = Path.Combine(_dir, "absent.json");
        var e = Assert.Throws<ConfigException>(() => RouterConfig.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Invalid_json_is_named()
    {
        string path = Path.Combine(_dir, "broken.json");
        File.WriteAllText(path, "{ \"Baton\": { \"Listen\": ");
        var e = Assert.Throws<ConfigException>(() => RouterConfig.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("JSON", e.Message);
    }

    [Fact]
    public void Missing_key_file_setting_names_Baton_KeyFile() =>
        Assert.Contains("Baton:KeyFile", LoadError(c => c["Baton"]!.AsObject().Remove("KeyFile")));

    [Fact]
    public void Short_key_file_names_the_setting_and_the_file()
    {
        File.WriteAllText(Path.Combine(_dir, "short.key"), "tooshort");
        var m = LoadError(c => c["Baton"]!["KeyFile"] = "short.key");
        Assert.Contains("Baton:KeyFile", m);
        Assert.Contains(Path.Combine(_dir, "short.key"), m);
    }

    [Fact]
    public void Absent_key_file_names_the_setting_and_the_file()
    {
        var m = LoadError(c => c["Baton"]!["KeyFile"] = "nowhere.key");
        Assert.Contains("Baton:KeyFile", m);
        Assert.Contains("nowhere.key", m);
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("10.0.0.1:0")]
    [InlineData("localhost:80")]
    [InlineData("")]
    public void Bad_listen_address_names_Baton_Listen(string value) =>
        Assert.Contains("Baton:Listen", LoadError(c => c["Baton"]!["Listen"] = value));

    [Fact]
    public void Missing_interface_names_Baton_Interface() =>
        Assert.Contains("Baton:Interface", LoadError(c => c["Baton"]!.AsObject().Remove("Interface")));

    [Theory]
    [InlineData(null, SteeringKind.Auto)]
    [InlineData("auto", SteeringKind.Auto)]
    [InlineData("bpf", SteeringKind.Bpf)]
    [InlineData("nftables", SteeringKind.NfTables)]
    [InlineData("NFTables", SteeringKind.NfTables)]
    public void Steering_is_bpf_nftables_or_auto_by_default(string? value, SteeringKind expected)
    {
        var c = ValidConfig();
        if (value is not null) c["Baton"]!["Steering"] = value;
        Assert.Equal(expected, RouterConfig.Load(Write(c)).Steering);
    }

    [Theory]
    [InlineData(null, null, true)]
    [InlineData("true", null, true)]
    [InlineData("false", null, false)]
    [InlineData("false", "nftables", false)]
    [InlineData(null, "nftables", true)] // asked for by default: the router logs that nftables has none
    [InlineData("true", "bpf", true)]
    public void Hold_queue_is_on_by_default(string? value, string? steering, bool expected)
    {
        var c = ValidConfig();
        if (value is not null) c["Baton"]!["HoldQueue"] = value;
        if (steering is not null) c["Baton"]!["Steering"] = steering;
        Assert.Equal(expected, RouterConfig.Load(Write(c)).HoldQueue);
    }

    [Fact]
    public void Hold_queue_must_be_a_flag_and_cannot_be_asked_of_nftables()
    {
        Assert.Contains("Baton:HoldQueue: 'sometimes' is not true or false", LoadError(c => c["Baton"]!["HoldQueue"] = "sometimes"));
        Assert.Contains("Baton:HoldQueue: the hold queue needs eBPF steering", LoadError(c =>
        {
            c["Baton"]!["HoldQueue"] = "true";
            c["Baton"]!["Steering"] = "nftables";
        }));
    }

    [Fact]
    public void Unknown_steering_names_Baton_Steering() =>
        Assert.Contains("Baton:Steering: 'iptables' is not a flow steering (bpf, nftables, auto)", LoadError(c => c["Baton"]!["Steering"] = "iptables"));

    [Theory]
    [InlineData("IdleTimeout", "soon")]
    [InlineData("IdleTimeout", "00:00:00")]
    [InlineData("HandoffTimeout", "-00:00:01")]
    [InlineData("CloseGrace", "x")]
    public void Bad_duration_names_its_key(string key, string value) =>
        Assert.Contains($"Baton:{key}", LoadError(c => c["Baton"]![key] = value));

    [Fact]
    public void Route_without_cluster_id_names_its_key_path() =>
        Assert.Contains("ReverseProxy:Routes:r1:ClusterId", LoadError(c => Route(c, "r1").Remove("ClusterId")));

    [Fact]
    public void Route_to_an_undefined_cluster_names_its_key_path_and_the_cluster()
    {
        var m = LoadError(c => Route(c, "r1")["ClusterId"] = "ghost");
        Assert.Contains("ReverseProxy:Routes:r1:ClusterId", m);
        Assert.Contains("ghost", m);
    }

    [Fact]
    public void Non_integer_order_names_its_key_path() =>
        Assert.Contains("ReverseProxy:Routes:r1:Order", LoadError(c => Route(c, "r1")["Order"] = "first"));

    [Theory]
    [InlineData("{**catch-all}", "/{**catch-all}")]
    [InlineData("api/{**x}", "/api/{**x}")]
    [InlineData("~/api/{**x}", "/api/{**x}")]
    [InlineData("/api/{**x}", "/api/{**x}")]
    public void A_path_is_rooted_as_ASP_NET_Core_roots_route_templates(string template, string rooted)
    {
        var c = ValidConfig();
        Route(c, "r1")["Match"]!["Path"] = template;
        Assert.Equal(rooted, RouterConfig.Load(Write(c)).Routes.Routes.Single(r => r.RouteId == "r1").Path);
    }

    [Fact]
    public void An_empty_path_names_its_key_path() =>
        Assert.Contains("ReverseProxy:Routes:r1:Match:Path", LoadError(c => Route(c, "r1")["Match"]!["Path"] = ""));

    [Fact]
    public void A_cluster_without_Transfer_whose_destinations_are_all_URLs_is_relayed_and_says_how_to_hand_off()
    {
        var c = ValidConfig();
        ClusterNode(c, "c1")["Destinations"] = new JsonObject
        {
            ["o1"] = new JsonObject { ["Address"] = "http://10.0.0.21:8080/" },
            ["o2"] = new JsonObject { ["Address"] = "HTTP://10.0.0.22:8080/" },
        };
        var o = RouterConfig.Load(Write(c));

        Assert.Equal(RelayKind.Instance, o.Routes.Clusters["c1"].Transfer);
        Assert.Equal(["http://10.0.0.21:8080/", "http://10.0.0.22:8080/"], o.Routes.Clusters["c1"].Destinations.Select(d => d.Url!.ToString()).Order());
        var w = Assert.Single(o.Warnings);
        Assert.StartsWith("ReverseProxy:Clusters:c1: no Transfer", w);
        Assert.Contains("set Transfer to handoff", w);
    }

    [Fact]
    public void An_https_origin_in_a_cluster_without_Transfer_is_refused_as_https()
    {
        var m = LoadError(c => ClusterNode(c, "c1")["Destinations"] = new JsonObject { ["o1"] = new JsonObject { ["Address"] = "https://10.0.0.21/" } });
        Assert.Contains("ReverseProxy:Clusters:c1:Destinations:o1:Address", m);
        Assert.Contains("https is not supported", m);
    }

    [Fact]
    public void Route_without_path_or_hosts_names_its_match_section() =>
        Assert.Contains("ReverseProxy:Routes:r1:Match", LoadError(c => Route(c, "r1")["Match"] = new JsonObject { ["Methods"] = new JsonArray("GET") }));

    [Fact]
    public void No_routes_names_the_routes_section() =>
        Assert.Contains("ReverseProxy:Routes", LoadError(c => Proxy(c).Remove("Routes")));

    [Fact]
    public void Unknown_transfer_mode_names_its_key_path()
    {
        var m = LoadError(c => ClusterNode(c, "c1")["Transfer"] = "teleport");
        Assert.Contains("ReverseProxy:Clusters:c1:Transfer", m);
        Assert.Contains("teleport", m);
    }

    [Theory]
    [InlineData("7")]
    [InlineData("-1")]
    public void Numeric_transfer_mode_that_is_not_a_mode_is_refused(string value) =>
        Assert.Contains("ReverseProxy:Clusters:c1:Transfer", LoadError(c => ClusterNode(c, "c1")["Transfer"] = value));

    [Fact]
    public void Handoff_cluster_without_destinations_names_its_key_path() =>
        Assert.Contains("ReverseProxy:Clusters:c1:Destinations", LoadError(c => ClusterNode(c, "c1").Remove("Destinations")));

    [Theory]
    [InlineData("10.0.0.11")]
    [InlineData("not-an-address:7000")]
    [InlineData("10.0.0.11:0")]
    public void Bad_destination_address_names_its_key_path(string value) =>
        Assert.Contains("ReverseProxy:Clusters:c1:Destinations:be1:Address",
            LoadError(c => ClusterNode(c, "c1")["Destinations"]!["be1"]!["Address"] = value));

    [Fact]
    public void Missing_destination_address_names_its_key_path() =>
        Assert.Contains("ReverseProxy:Clusters:c1:Destinations:be2:Address",
            LoadError(c => ClusterNode(c, "c1")["Destinations"]!["be2"] = new JsonObject { ["Health"] = "x" }));

    [Fact]
    public void Same_destination_name_with_two_addresses_is_refused()
    {
        var m = LoadError(c => Proxy(c)["Clusters"]!["c2"] = new JsonObject
        {
            ["Destinations"] = new JsonObject { ["be1"] = new JsonObject { ["Address"] = "10.0.0.99:7000" } },
        });
        Assert.Contains("ReverseProxy:Clusters", m);
        Assert.Contains("be1", m);
    }

    private static JsonObject LocalAndRelayConfig() => JsonNode.Parse("""
        {
          "Baton": { "Listen": "127.0.0.1:8080", "WorkerSocket": "workers.sock", "Relay": { "ConnectTimeout": "00:00:02", "MaxIdlePerTarget": "8" } },
          "ReverseProxy": {
            "Routes": {
              "w": { "ClusterId": "workers", "Match": { "Path": "/w/{**rest}" } },
              "o": { "ClusterId": "origins", "Match": { "Path": "/{**rest}" } }
            },
            "Clusters": {
              "workers": { "Transfer": "local", "Destinations": { "w1": {}, "w2": {} } },
              "origins": { "Transfer": "Relay", "Destinations": { "o1": { "Address": "http://127.0.0.1:9001/" } } }
            }
          }
        }
        """)!.AsObject();

    [Fact]
    public void Local_and_relay_clusters_need_no_key_interface_or_privilege()
    {
        var o = RouterConfig.Load(Write(LocalAndRelayConfig()));
        Assert.Null(o.Key);
        Assert.Null(o.Interface);
        Assert.Equal(Path.Combine(_dir, "workers.sock"), o.WorkerSocket);
        Assert.Equal(LocalKind.Instance, o.Routes.Clusters["workers"].Transfer);
        Assert.Equal(["w1", "w2"], o.Routes.Clusters["workers"].Destinations.Select(d => d.Name).Order());
        var origin = Assert.Single(o.Routes.Clusters["origins"].Destinations);
        Assert.Equal(RelayKind.Instance, o.Routes.Clusters["origins"].Transfer);
        Assert.Equal(new Uri("http://127.0.0.1:9001/"), origin.Url);
        Assert.Equal(TimeSpan.FromSeconds(2), o.Relay.ConnectTimeout);
        Assert.Equal(8, o.Relay.MaxIdlePerTarget);
    }

    [Fact]
    public void Local_cluster_without_worker_socket_names_Baton_WorkerSocket()
    {
        var c = LocalAndRelayConfig();
        c["Baton"]!.AsObject().Remove("WorkerSocket");
        var m = Assert.Throws<ConfigException>(() => RouterConfig.Load(Write(c))).Message;
        Assert.Contains("Baton:WorkerSocket", m);
    }

    [Theory]
    [InlineData("127.0.0.1:9001")]
    [InlineData("https://127.0.0.1:9001/")]
    [InlineData("ftp://127.0.0.1/")]
    public void Relay_destination_that_is_not_an_http_url_names_its_key_path(string value)
    {
        var c = LocalAndRelayConfig();
        c["ReverseProxy"]!["Clusters"]!["origins"]!["Destinations"]!["o1"]!["Address"] = value;
        var m = Assert.Throws<ConfigException>(() => RouterConfig.Load(Write(c))).Message;
        Assert.Contains("ReverseProxy:Clusters:origins:Destinations:o1:Address", m);
    }

    [Fact]
    public void Handoff_cluster_without_key_file_says_why_it_is_needed()
    {
        var m = LoadError(c => c["Baton"]!.AsObject().Remove("KeyFile"));
        Assert.Contains("Baton:KeyFile", m);
        Assert.Contains("handoff", m);
    }

    [Fact]
    public void Same_destination_name_in_two_modes_is_refused()
    {
        var c = LocalAndRelayConfig();
        c["ReverseProxy"]!["Clusters"]!["origins"]!["Destinations"]!["w1"] = new JsonObject { ["Address"] = "http://127.0.0.1:9002/" };
        var m = Assert.Throws<ConfigException>(() => RouterConfig.Load(Write(c))).Message;
        Assert.Contains("'w1'", m);
    }

    [Fact]
    public void LoadRoutes_reads_a_reverse_proxy_section_on_its_own()
    {
        var path = Write(new JsonObject { ["ReverseProxy"] = Proxy(ValidConfig()).DeepClone() }, "proxy.json");
        var section = new ConfigurationBuilder().AddJsonFile(path).Build().GetSection("ReverseProxy");
        var table = ReverseProxyConfig.Load(section);

        var head = Baton.Http.RequestHeadParser.Parse("GET /status HTTP/1.1\r\nHost: www.example.com\r\n\r\n"u8).Head!;
        Assert.Equal("local", table.Match(head)!.Value.Cluster.Id);
        var other = Baton.Http.RequestHeadParser.Parse("GET /status HTTP/1.1\r\nHost: else.test\r\n\r\n"u8).Head!;
        Assert.Equal("c1", table.Match(other)!.Value.Cluster.Id);
    }

    [Fact]
    public void LoadRoutes_error_names_the_key_path()
    {
        var proxy = Proxy(ValidConfig()).DeepClone().AsObject();
        proxy["Routes"]!["r1"]!.AsObject().Remove("ClusterId");
        var path = Write(new JsonObject { ["ReverseProxy"] = proxy }, "proxy.json");
        var section = new ConfigurationBuilder().AddJsonFile(path).Build().GetSection("ReverseProxy");
        var e = Assert.Throws<ConfigException>(() => ReverseProxyConfig.Load(section));
        Assert.Contains("ReverseProxy:Routes:r1:ClusterId", e.Message);
    }

    [Fact]
    public void Balancing_policy_and_its_settings_are_read_per_cluster()
    {
        var c = ValidConfig();
        ClusterNode(c, "c1")["LoadBalancingPolicy"] = "Lard";
        ClusterNode(c, "c1")["LoadBalancing"] = new JsonObject { ["LardHigh"] = "12", ["LardLow"] = "3", ["HashKey"] = "Header:X-User" };
        var cluster = RouterConfig.Load(Write(c)).Routes.Clusters["c1"];
        Assert.Equal("Lard", cluster.LoadBalancingPolicy);
        Assert.Equal(12, cluster.LoadBalancing!.LardHigh);
        Assert.Equal(3, cluster.LoadBalancing.LardLow);
        Assert.Equal("Header:X-User", cluster.LoadBalancing.HashKey);
    }

    [Fact]
    public void Unknown_balancing_policy_is_refused_naming_the_key()
    {
        var message = LoadError(c => ClusterNode(c, "c1")["LoadBalancingPolicy"] = "Fastest");
        Assert.Contains("ReverseProxy:Clusters:c1:LoadBalancingPolicy", message);
        Assert.Contains("Fastest", message);
    }

    [Fact]
    public void Non_numeric_balancing_setting_is_refused_naming_the_key()
    {
        var message = LoadError(c => ClusterNode(c, "c1")["LoadBalancing"] = new JsonObject { ["LardHigh"] = "many" });
        Assert.Contains("ReverseProxy:Clusters:c1:LoadBalancing:LardHigh", message);
    }
}
