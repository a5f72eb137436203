using System.Net;
using Baton.Modes.Handoff.Protocol;
using Baton.Health;
using Baton.Routing;
using Baton.Routing.LoadBalancing;
using Baton.Steering;
using Microsoft.Extensions.Configuration;
using Baton.Modes.Adaptive;
using Baton.Modes.Relay;

namespace Baton.Router;

/// <summary>A configuration error, naming the key path and what is wrong.</summary>
public sealed class ConfigException(string message) : Exception(message);

/// <summary>
/// Reads the router's JSON configuration: a <c>Baton</c> section for the node itself and a
/// <c>ReverseProxy</c> section in YARP's schema for routes and clusters.
/// </summary>
public static class RouterConfig
{
    /// <summary>Loads and validates <paramref name="path"/>. Relative paths in it are relative to the file.</summary>
    public static RouterOptions Load(string path)
    {
        if (!File.Exists(path)) throw new ConfigException($"configuration file '{path}' does not exist");
        IConfiguration c;
        try
        {
            c = new ConfigurationBuilder().AddJsonFile(Path.GetFullPath(path), optional: false, reloadOnChange: false).Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException)
        {
            throw new ConfigException($"configuration file '{path}' is not valid JSON: {e.Message}");
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var b = c.GetSection("Baton");
        var warnings = new List<string>();
        var routes = LoadRoutes(c.GetSection("ReverseProxy"), warnings);
        bool handoff = routes.Clusters.Values.Any(x => x.Transfer.HandsOff());
        bool local = routes.Clusters.Values.Any(x => x.Transfer == TransferMode.Local);
        // What each mechanism needs is asked for only when a cluster uses it: a local-only router
        // needs neither a key nor an interface, nor root.
        ClusterKey? key = null;
        if (handoff || b["KeyFile"] is not null)
        {
            var keyFile = Required(b, "KeyFile", handoff ? "handoff clusters need the cluster key shared with the agents" : null);
            try { key = ClusterKey.FromFile(Path.Combine(dir, keyFile)); }
            catch (ArgumentException e) { throw new ConfigException($"Baton:KeyFile: {e.Message}"); }
        }
        string? workerSocket = null;
        if (local || b["WorkerSocket"] is not null)
            workerSocket = Path.Combine(dir, Required(b, "WorkerSocket", local ? "local clusters need the Unix socket path workers register on" : null));
        uint? workerUid = b["WorkerUser"] is { } user ? AccountId(b, "WorkerUser", user, "/etc/passwd") : null;
        uint? workerGid = b["WorkerGroup"] is { } group ? AccountId(b, "WorkerGroup", group, "/etc/group") : null;
        return new RouterOptions
        {
            Listen = Endpoint(b, "Listen"),
            Interface = handoff ? Required(b, "Interface", "handoff clusters steer packets on the router's client-facing interface") : b["Interface"],
            Steering = SteeringFrom(b),
            HoldQueue = HoldQueueFrom(b),
            Key = key,
            WorkerSocket = workerSocket,
            WorkerUid = workerUid,
            WorkerGid = workerGid,
            Routes = routes,
            IdleTimeout = Duration(b, "IdleTimeout", TimeSpan.FromSeconds(60)),
            HandoffTimeout = Duration(b, "HandoffTimeout", TimeSpan.FromSeconds(2)),
            CloseGrace = Duration(b, "CloseGrace", TimeSpan.FromSeconds(3)),
            SameTargetShortcut = b["SameTargetShortcut"] is null || Flag(b, "SameTargetShortcut"),
            Relay = RelayFrom(b.GetSection("Relay")),
            Name = b["Name"] ?? "router",
            ConfigFile = Path.GetFullPath(path),
            Warnings = warnings,
        };
    }

    /// <summary>
    /// Reads routes and clusters from a YARP-shaped <c>ReverseProxy</c> section. What Baton does not
    /// implement, and settings that cannot take effect, are added to <paramref name="warnings"/>.
    /// </summary>
    public static RouteTable LoadRoutes(IConfigurationSection proxy, ICollection<string>? warnings = null)
    {
        warnings ??= new List<string>();
        foreach (var w in ProxySchema.Unsupported(proxy)) warnings.Add(w);
        var clusters = new List<Cluster>();
        foreach (var cs in proxy.GetSection("Clusters").GetChildren())
        {
            string at = cs.Path;
            var modeText = cs["Transfer"] ?? "handoff";
            TransferMode? parsed = modeText.ToLowerInvariant() switch
            {
                "handoff" => TransferMode.Handoff,
                "local" => TransferMode.Local,
                "relay" => TransferMode.Relay,
                "router" => TransferMode.Router,
                "adaptive" => TransferMode.Adaptive,
                _ => null,
            };
            if (parsed is not { } mode)
                throw new ConfigException($"{at}:Transfer: '{modeText}' is not a transfer mode (handoff, local, relay, adaptive, router)");
            var dests = new List<Destination>();
            foreach (var ds in cs.GetSection("Destinations").GetChildren())
            {
                var d = mode switch
                {
                    TransferMode.Handoff => new Destination(ds.Key, ControlEndpoint: Endpoint(ds, "Address")),
                    TransferMode.Relay => new Destination(ds.Key, Url: HttpUrl(ds, "Address", "relay destinations are HTTP/1.1 servers")),
                    TransferMode.Adaptive => new Destination(ds.Key, Url: HttpUrl(ds, "Address", "an adaptive destination's Address is the HTTP/1.1 origin it relays to"),
                        ControlEndpoint: Endpoint(ds, "Agent", "the agent on the same back-end that takes hand-offs")),
                    _ => new Destination(ds.Key),
                };
                dests.Add(d with
                {
                    Health = ds["Health"] is null ? null : HttpUrl(ds, "Health", "health probes speak plain HTTP/1.1"),
                    Metadata = MetadataOf(ds),
                });
            }
            if (mode != TransferMode.Router && dests.Count == 0)
                throw new ConfigException($"{at}:Destinations: a {modeText.ToLowerInvariant()} cluster needs at least one destination");
            var policy = cs["LoadBalancingPolicy"];
            var lb = LoadBalancingFrom(cs.GetSection("LoadBalancing"));
            try
            {
                LoadBalancingPolicies.Create(policy, lb);
            }
            catch (ArgumentException e)
            {
                throw new ConfigException($"{at}:LoadBalancingPolicy: {e.Message}");
            }
            var metadata = MetadataOf(cs);
            var health = HealthCheckFrom(cs, mode, dests, metadata, warnings);
            clusters.Add(new Cluster(cs.Key, mode, dests, policy, lb, health, metadata, AdaptiveFrom(cs, mode)));
        }
        // A name is one back-end: every cluster that lists it must reach it the same way.
        var byName = new Dictionary<string, (TransferMode Mode, Destination D)>(StringComparer.Ordinal);
        foreach (var cl in clusters)
            foreach (var d in cl.Destinations)
                if (!byName.TryGetValue(d.Name, out var seen)) byName[d.Name] = (cl.Transfer, d);
                else if (seen.Mode != cl.Transfer || !seen.D.SameBackend(d))
                    throw new ConfigException($"ReverseProxy:Clusters: destination '{d.Name}' is given twice differently ({seen.Mode.ToString().ToLowerInvariant()} {seen.D.Address}, {cl.Transfer.ToString().ToLowerInvariant()} {d.Address})");

        var routes = new List<Route>();
        foreach (var rs in proxy.GetSection("Routes").GetChildren())
        {
            var clusterId = Required(rs, "ClusterId");
            if (!clusters.Any(x => x.Id.Equals(clusterId, StringComparison.OrdinalIgnoreCase)))
                throw new ConfigException($"{rs.Path}:ClusterId: cluster '{clusterId}' is not defined");
            int order = 0;
            if (rs["Order"] is { } o && !int.TryParse(o, out order))
                throw new ConfigException($"{rs.Path}:Order: '{o}' is not an integer");
            var match = rs.GetSection("Match");
            var hosts = match.GetSection("Hosts").GetChildren().Select(h => h.Value ?? "").Where(h => h.Length > 0).ToList();
            var pathTemplate = match["Path"];
            if (pathTemplate is not null && !pathTemplate.StartsWith('/'))
                throw new ConfigException($"{match.Path}:Path: '{pathTemplate}' must start with '/'");
            var methods = match.GetSection("Methods").GetChildren().Select(m => m.Value ?? "").Where(m => m.Length > 0).ToList();
            var headers = match.GetSection("Headers").GetChildren().Select(h => new HeaderCondition(
                Required(h, "Name"), Values(h), EnumValue(h, "Mode", HeaderMatchMode.ExactHeader), Flag(h, "IsCaseSensitive"))).ToList();
            var query = match.GetSection("QueryParameters").GetChildren().Select(q => new QueryCondition(
                Required(q, "Name"), Values(q), EnumValue(q, "Mode", QueryParameterMatchMode.Exact), Flag(q, "IsCaseSensitive"))).ToList();
            foreach (var h in match.GetSection("Headers").GetChildren())
                if (EnumValue(h, "Mode", HeaderMatchMode.ExactHeader) is not (HeaderMatchMode.Exists or HeaderMatchMode.NotExists) && Values(h).Count == 0)
                    throw new ConfigException($"{h.Path}:Values: this mode needs at least one value");
            foreach (var q in match.GetSection("QueryParameters").GetChildren())
                if (EnumValue(q, "Mode", QueryParameterMatchMode.Exact) != QueryParameterMatchMode.Exists && Values(q).Count == 0)
                    throw new ConfigException($"{q.Path}:Values: this mode needs at least one value");
            // As YARP: Methods, Headers and QueryParameters narrow a route, they cannot make one alone.
            if (pathTemplate is null && hosts.Count == 0)
                throw new ConfigException($"{match.Path}: a route needs a Path or Hosts (use Path '/{{**catch-all}}' to match every path)");
            routes.Add(new Route(rs.Key, clusterId, order, hosts, pathTemplate, methods, headers, query, MetadataOf(rs)));
        }
        if (routes.Count == 0) throw new ConfigException("ReverseProxy:Routes: no routes are defined");
        return new RouteTable(routes, clusters);
    }

    // YARP's HealthCheck section, with Baton's Rise/Fall; YARP's threshold metadata key is read as Fall.
    private static HealthCheckOptions HealthCheckFrom(IConfigurationSection cluster, TransferMode mode, IReadOnlyList<Destination> destinations,
        IReadOnlyDictionary<string, string>? metadata, ICollection<string> warnings)
    {
        var hc = cluster.GetSection("HealthCheck");
        var a = hc.GetSection("Active");
        var defaults = new ActiveHealthCheckOptions();
        int fall = defaults.Fall;
        string thresholdKey = $"{cluster.Path}:Metadata:{ActiveHealthCheckOptions.ThresholdMetadataKey}";
        bool thresholdGiven = metadata?.TryGetValue(ActiveHealthCheckOptions.ThresholdMetadataKey, out _) == true;
        if (thresholdGiven) fall = PositiveInt(cluster.GetSection("Metadata"), ActiveHealthCheckOptions.ThresholdMetadataKey);
        if (a["Fall"] is not null)
        {
            int f = PositiveInt(a, "Fall");
            if (thresholdGiven && f != fall)
                throw new ConfigException($"{a.Path}:Fall: {f} contradicts {thresholdKey} ({fall}); give one of them");
            fall = f;
        }
        if (a["Policy"] is { } activePolicy && !activePolicy.Equals(ActiveHealthCheckOptions.ConsecutiveFailures, StringComparison.OrdinalIgnoreCase))
            throw new ConfigException($"{a.Path}:Policy: '{activePolicy}' is not an active health policy (ConsecutiveFailures)");
        var probePath = a["Path"] ?? "";
        if (probePath.Length > 0 && !probePath.StartsWith('/'))
            throw new ConfigException($"{a.Path}:Path: '{probePath}' must start with '/'");
        var active = defaults with
        {
            Enabled = Flag(a, "Enabled"),
            Interval = Duration(a, "Interval", defaults.Interval),
            Timeout = Duration(a, "Timeout", defaults.Timeout),
            Path = probePath,
            Query = a["Query"] ?? "",
            Fall = fall,
            Rise = a["Rise"] is null ? defaults.Rise : PositiveInt(a, "Rise"),
        };

        var p = hc.GetSection("Passive");
        var passiveDefaults = new PassiveHealthCheckOptions();
        var passivePolicy = p["Policy"] ?? PassiveHealthCheckOptions.ConsecutiveFailures;
        if (passivePolicy.Equals(PassiveHealthCheckOptions.TransportFailureRate, StringComparison.OrdinalIgnoreCase))
            warnings.Add($"{p.Path}:Policy: YARP's TransportFailureRate is not implemented by Baton; it counts consecutive failed transactions (ConsecutiveFailures, Passive:Fall) instead");
        else if (!passivePolicy.Equals(PassiveHealthCheckOptions.ConsecutiveFailures, StringComparison.OrdinalIgnoreCase))
            throw new ConfigException($"{p.Path}:Policy: '{passivePolicy}' is not a passive health policy (ConsecutiveFailures, TransportFailureRate)");
        var passive = passiveDefaults with
        {
            Enabled = Flag(p, "Enabled"),
            Policy = passivePolicy,
            ReactivationPeriod = p["ReactivationPeriod"] is null ? null : Duration(p, "ReactivationPeriod", TimeSpan.Zero),
            Fall = p["Fall"] is null ? passiveDefaults.Fall : PositiveInt(p, "Fall"),
        };

        var available = AvailableDestinations.Canonical(hc["AvailableDestinationsPolicy"])
            ?? throw new ConfigException($"{hc.Path}:AvailableDestinationsPolicy: '{hc["AvailableDestinationsPolicy"]}' is not one of {AvailableDestinations.HealthyAndUnknown}, {AvailableDestinations.HealthyOrPanic}");

        if (active.Enabled)
        {
            if (mode == TransferMode.Router)
                warnings.Add($"{a.Path}:Enabled: a router cluster has no destinations to probe");
            foreach (var d in destinations.Where(d => d.Health is null && !mode.HasOrigin()))
                warnings.Add($"{cluster.Path}:Destinations:{d.Name}:Health: missing, so active checks cannot probe this {mode.ToString().ToLowerInvariant()} destination " +
                    $"(give its HTTP health URL); its {(mode == TransferMode.Handoff ? "agent control link" : "worker registration")} is its only health");
        }
        return new HealthCheckOptions { Active = active, Passive = passive, AvailableDestinationsPolicy = available };
    }

    private static IReadOnlyDictionary<string, string>? MetadataOf(IConfigurationSection owner)
    {
        var m = owner.GetSection("Metadata");
        if (!m.Exists()) return null;
        return m.GetChildren().Where(c => c.Value is not null).ToDictionary(c => c.Key, c => c.Value!, StringComparer.OrdinalIgnoreCase);
    }

    private static SteeringKind SteeringFrom(IConfigurationSection b) => b["Steering"]?.ToLowerInvariant() switch
    {
        null or "auto" => SteeringKind.Auto,
        "bpf" => SteeringKind.Bpf,
        "nftables" => SteeringKind.NfTables,
        _ => throw new ConfigException($"{b.Path}:Steering: '{b["Steering"]}' is not a flow steering (bpf, nftables, auto)"),
    };

    // On by default where eBPF steering runs; asking for it with nftables only steering is a contradiction.
    private static bool HoldQueueFrom(IConfigurationSection b)
    {
        if (b["HoldQueue"] is null) return true;
        bool on = Flag(b, "HoldQueue");
        if (on && SteeringFrom(b) == SteeringKind.NfTables)
            throw new ConfigException($"{b.Path}:HoldQueue: the hold queue needs eBPF steering (Baton:Steering is nftables); remove HoldQueue or set Steering to bpf or auto");
        return on;
    }

    private static int PositiveInt(IConfigurationSection s, string key) =>
        int.TryParse(s[key], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ConfigException($"{s.Path}:{key}: '{s[key]}' is not a positive integer");

    // Baton's adaptive transfer: the response size from which a request is handed off rather than relayed.
    private static AdaptiveOptions? AdaptiveFrom(IConfigurationSection cluster, TransferMode mode)
    {
        var text = cluster["HandoffAbove"];
        if (mode != TransferMode.Adaptive)
            return text is null ? null : throw new ConfigException($"{cluster.Path}:HandoffAbove: only an adaptive cluster (Transfer: adaptive) chooses by response size");
        if (text is null) return AdaptiveOptions.Default;
        return long.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var bytes) && bytes >= 0
            ? new AdaptiveOptions(bytes)
            : throw new ConfigException($"{cluster.Path}:HandoffAbove: '{text}' is not a size in bytes (0 hands off every request whose size is known)");
    }

    // Relay settings for every relay destination (YARP keeps these per cluster in HttpClient/HttpRequest).
    private static RelayOptions RelayFrom(IConfigurationSection s)
    {
        var d = new RelayOptions();
        return d with
        {
            ConnectTimeout = Duration(s, "ConnectTimeout", d.ConnectTimeout),
            ResponseHeadTimeout = Duration(s, "ResponseHeadTimeout", d.ResponseHeadTimeout),
            ActivityTimeout = Duration(s, "ActivityTimeout", d.ActivityTimeout),
            IdleUpstreamTimeout = Duration(s, "IdleUpstreamTimeout", d.IdleUpstreamTimeout),
            UnhealthyCooldown = Duration(s, "UnhealthyCooldown", d.UnhealthyCooldown),
            MaxIdlePerTarget = s["MaxIdlePerTarget"] is { } m ? (int)Number(s, "MaxIdlePerTarget", m) : d.MaxIdlePerTarget,
            FailuresBeforeUnhealthy = s["FailuresBeforeUnhealthy"] is { } f ? (int)Number(s, "FailuresBeforeUnhealthy", f) : d.FailuresBeforeUnhealthy,
        };
    }

    // Baton's own per-cluster balancing settings (YARP has no place for them).
    private static LoadBalancingOptions LoadBalancingFrom(IConfigurationSection s)
    {
        var o = LoadBalancingOptions.Default;
        if (s["HashKey"] is { } key) o = o with { HashKey = key };
        if (s["HashLoadFactor"] is { } f) o = o with { HashLoadFactor = Number(s, "HashLoadFactor", f) };
        if (s["HashVirtualNodes"] is { } v) o = o with { HashVirtualNodes = (int)Number(s, "HashVirtualNodes", v) };
        if (s["LardHigh"] is { } h) o = o with { LardHigh = (int)Number(s, "LardHigh", h) };
        if (s["LardLow"] is { } l) o = o with { LardLow = (int)Number(s, "LardLow", l) };
        if (s["LardPathDepth"] is { } d) o = o with { LardPathDepth = (int)Number(s, "LardPathDepth", d) };
        try { o.Validate(); }
        catch (ArgumentException e) { throw new ConfigException($"{s.Path}: {e.Message}"); }
        return o;
    }

    private static double Number(IConfigurationSection s, string key, string text) =>
        double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d)
            ? d
            : throw new ConfigException($"{s.Path}:{key}: '{text}' is not a number");

    private static List<string> Values(IConfigurationSection s) =>
        s.GetSection("Values").GetChildren().Select(v => v.Value ?? "").ToList();

    private static bool Flag(IConfigurationSection s, string key) => s[key] switch
    {
        null => false,
        var v when bool.TryParse(v, out var b) => b,
        var v => throw new ConfigException($"{s.Path}:{key}: '{v}' is not true or false"),
    };

    private static T EnumValue<T>(IConfigurationSection s, string key, T fallback) where T : struct, Enum
    {
        var v = s[key];
        if (v is null) return fallback;
        foreach (var name in Enum.GetNames<T>())
            if (name.Equals(v, StringComparison.OrdinalIgnoreCase)) return Enum.Parse<T>(name);
        throw new ConfigException($"{s.Path}:{key}: '{v}' is not one of {string.Join(", ", Enum.GetNames<T>())}");
    }

    private static string Required(IConfigurationSection s, string key, string? why = null) =>
        s[key] is { Length: > 0 } v ? v : throw new ConfigException($"{s.Path}:{key}: missing" + (why is null ? "" : $" ({why})"));

    /// <summary>A numeric id, or a name looked up in <paramref name="database"/> (name:x:id:... lines).</summary>
    private static uint AccountId(IConfigurationSection s, string key, string value, string database)
    {
        if (uint.TryParse(value, out var id)) return id;
        if (File.Exists(database))
            foreach (var line in File.ReadLines(database))
            {
                var f = line.Split(':');
                if (f.Length > 2 && f[0] == value && uint.TryParse(f[2], out id)) return id;
            }
        throw new ConfigException($"{s.Path}:{key}: '{value}' is neither a number nor a name in {database}");
    }

    private static Uri HttpUrl(IConfigurationSection s, string key, string why)
    {
        var v = Required(s, key);
        if (!Uri.TryCreate(v, UriKind.Absolute, out var u) || u.Scheme != Uri.UriSchemeHttp)
            throw new ConfigException($"{s.Path}:{key}: '{v}' is not an http:// URL ({why}; https is not supported)");
        return u;
    }

    private static IPEndPoint Endpoint(IConfigurationSection s, string key, string? why = null)
    {
        var v = Required(s, key, why);
        if (v.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) v = v[7..].TrimEnd('/');
        return IPEndPoint.TryParse(v, out var ep) && ep.Port != 0
            ? ep
            : throw new ConfigException($"{s.Path}:{key}: '{v}' is not an IPv4 address:port");
    }

    private static TimeSpan Duration(IConfigurationSection s, string key, TimeSpan fallback)
    {
        var v = s[key];
        if (v is null) return fallback;
        return TimeSpan.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var t) && t > TimeSpan.Zero
            ? t
            : throw new ConfigException($"{s.Path}:{key}: '{v}' is not a positive duration (hh:mm:ss)");
    }
}
