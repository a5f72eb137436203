using Baton.Health;
using Baton.Modes;
using Baton.Modes.Relay;
using Baton.Routing;
using Baton.Routing.LoadBalancing;
using Microsoft.Extensions.Configuration;

namespace Baton.Configuration;

/// <summary>
/// Validates YARP's <c>ReverseProxy</c> section and builds the <see cref="RouteTable"/>: routes,
/// clusters, destinations, balancing and health. What Baton does not implement, and settings that
/// cannot take effect, become warnings; everything wrong is an error named by its key.
/// </summary>
public static class ReverseProxyConfig
{
    /// <summary>
    /// Reads routes and clusters from <paramref name="proxy"/>, throwing one
    /// <see cref="ConfigException"/> with every error. Warnings go to <paramref name="warnings"/>.
    /// </summary>
    public static RouteTable Load(IConfigurationSection proxy, ICollection<string>? warnings = null)
    {
        var r = new ConfigReader();
        var table = Read(proxy, r, warnings ?? new List<string>());
        r.ThrowIfAny();
        return table!;
    }

    /// <summary>The mode each cluster names, as far as it names one (for what the Baton section must then have).</summary>
    internal static IEnumerable<TransferMode> ModesNamed(IConfigurationSection proxy) =>
        proxy.GetSection("Clusters").GetChildren()
            .Select(cs => ModeCatalog.Named(TransferOf(cs).Name))
            .OfType<TransferMode>();

    /// <summary>
    /// The transfer mode a cluster names, or the one it implies when it names none, as a YARP
    /// configuration does not: relay when every destination's Address is an http(s):// URL (in YARP
    /// that is an HTTP origin), else handoff, the default (an agent's host:port; a URL among them is
    /// read as the agent's endpoint, as it always was).
    /// </summary>
    internal static (string Name, bool Implied) TransferOf(IConfigurationSection cluster)
    {
        if (cluster["Transfer"] is { } named) return (named, false);
        var addresses = cluster.GetSection("Destinations").GetChildren().Select(d => d["Address"]).ToList();
        bool urls = addresses.Count > 0 && addresses.All(a => a is not null
            && (a.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || a.StartsWith("https://", StringComparison.OrdinalIgnoreCase)));
        return urls ? (RelayKind.Instance.Name, true) : (ModeCatalog.Default.Name, false);
    }

    /// <summary>The route table, or null when an error was recorded in <paramref name="r"/>.</summary>
    internal static RouteTable? Read(IConfigurationSection proxy, ConfigReader r, ICollection<string> warnings)
    {
        int errorsBefore = r.ErrorCount;
        foreach (var w in ProxySchema.Unsupported(proxy)) warnings.Add(w);
        var clusters = new List<Cluster>();
        foreach (var cs in proxy.GetSection("Clusters").GetChildren())
            if (ReadCluster(cs, r, warnings) is { } cluster) clusters.Add(cluster);

        // A name is one back-end: every cluster that lists it must reach it the same way.
        var byName = new Dictionary<string, (TransferMode Mode, Destination D)>(StringComparer.Ordinal);
        foreach (var cl in clusters)
            foreach (var d in cl.Destinations)
                if (!byName.TryGetValue(d.Name, out var seen)) byName[d.Name] = (cl.Transfer, d);
                else if (seen.Mode != cl.Transfer || !seen.D.SameBackend(d))
                    r.Error("ReverseProxy:Clusters", $"destination '{d.Name}' is given twice differently ({seen.Mode} {seen.D.Address}, {cl.Transfer} {d.Address})");

        var clusterIds = proxy.GetSection("Clusters").GetChildren().Select(c => c.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var routes = new List<Route>();
        foreach (var rs in proxy.GetSection("Routes").GetChildren())
            if (ReadRoute(rs, clusterIds, r) is { } route) routes.Add(route);
        if (!proxy.GetSection("Routes").GetChildren().Any()) r.Error("ReverseProxy:Routes", "no routes are defined");
        return r.ErrorCount == errorsBefore ? new RouteTable(routes, clusters) : null;
    }

    private static Cluster? ReadCluster(IConfigurationSection cs, ConfigReader r, ICollection<string> warnings)
    {
        int errorsBefore = r.ErrorCount;
        var (modeText, implied) = TransferOf(cs);
        if (ModeCatalog.Named(modeText) is not { } mode)
        {
            r.Error($"{cs.Path}:Transfer", $"'{modeText}' is not a transfer mode ({string.Join(", ", ModeCatalog.All.Select(m => m.Name))})");
            return null; // what a destination needs depends on the mode
        }
        if (implied)
            warnings.Add($"{cs.Path}: no Transfer, and every destination's Address is an HTTP URL, so the cluster is relayed to them as origins; " +
                $"to hand its connections off instead, set Transfer to handoff and each Address to that host's agent (host:port)");
        var dests = new List<Destination>();
        foreach (var ds in cs.GetSection("Destinations").GetChildren())
        {
            var d = mode.ReadDestination(ds, r);
            var health = ds["Health"] is null ? null : r.HttpUrl(ds, "Health", "health probes speak plain HTTP/1.1");
            if (d is not null) dests.Add(d with { Health = health, Metadata = ConfigReader.Metadata(ds) });
        }
        if (!mode.ServedByTheRouter && !cs.GetSection("Destinations").GetChildren().Any())
            r.Error($"{cs.Path}:Destinations", $"a {mode.Name} cluster needs at least one destination");
        var policy = cs["LoadBalancingPolicy"];
        int beforeBalancing = r.ErrorCount;
        var lb = LoadBalancingFrom(cs.GetSection("LoadBalancing"), r);
        // The policy is made once here to check its name against its settings (when those are valid).
        if (r.ErrorCount == beforeBalancing)
        {
            try { LoadBalancingPolicies.Create(policy, lb); }
            catch (ArgumentException e) { r.Error($"{cs.Path}:LoadBalancingPolicy", e.Message); }
        }
        var metadata = ConfigReader.Metadata(cs);
        var healthCheck = HealthCheckFrom(cs, mode, dests, metadata, r, warnings);
        // A key another mode owns is a mistake here (adaptive's HandoffAbove on a relay cluster).
        foreach (var other in ModeCatalog.All.Where(m => m != mode))
            foreach (var (key, onlyThere) in other.OwnClusterKeys)
                if (cs[key] is not null) r.Error($"{cs.Path}:{key}", onlyThere);
        var settings = mode.ReadClusterSettings(cs, r);
        return r.ErrorCount == errorsBefore ? new Cluster(cs.Key, mode, dests, policy, lb, healthCheck, metadata, settings) : null;
    }

    private static Route? ReadRoute(IConfigurationSection rs, IReadOnlySet<string> clusterIds, ConfigReader r)
    {
        int errorsBefore = r.ErrorCount;
        var clusterId = r.Required(rs, "ClusterId");
        if (clusterId is not null && !clusterIds.Contains(clusterId))
            r.Error($"{rs.Path}:ClusterId", $"cluster '{clusterId}' is not defined");
        int order = 0;
        if (rs["Order"] is { } o && !int.TryParse(o, out order))
            r.Error($"{rs.Path}:Order", $"'{o}' is not an integer");
        var match = rs.GetSection("Match");
        var hosts = match.GetSection("Hosts").GetChildren().Select(h => h.Value ?? "").Where(h => h.Length > 0).ToList();
        var pathTemplate = RootedTemplate(match["Path"]);
        if (pathTemplate == "")
            r.Error($"{match.Path}:Path", "is empty (use '/{**catch-all}' to match every path)");
        else if (pathTemplate is not null && !pathTemplate.StartsWith('/'))
            r.Error($"{match.Path}:Path", $"'{pathTemplate}' must start with '/'");
        var methods = match.GetSection("Methods").GetChildren().Select(m => m.Value ?? "").Where(m => m.Length > 0).ToList();
        var headers = new List<HeaderCondition>();
        foreach (var h in match.GetSection("Headers").GetChildren())
        {
            var mode = r.EnumValue(h, "Mode", HeaderMatchMode.ExactHeader);
            var values = ConfigReader.Values(h);
            if (mode is not (HeaderMatchMode.Exists or HeaderMatchMode.NotExists) && values.Count == 0)
                r.Error($"{h.Path}:Values", "this mode needs at least one value");
            headers.Add(new HeaderCondition(r.Required(h, "Name") ?? "", values, mode, r.Flag(h, "IsCaseSensitive")));
        }
        var query = new List<QueryCondition>();
        foreach (var q in match.GetSection("QueryParameters").GetChildren())
        {
            var mode = r.EnumValue(q, "Mode", QueryParameterMatchMode.Exact);
            var values = ConfigReader.Values(q);
            if (mode != QueryParameterMatchMode.Exists && values.Count == 0)
                r.Error($"{q.Path}:Values", "this mode needs at least one value");
            query.Add(new QueryCondition(r.Required(q, "Name") ?? "", values, mode, r.Flag(q, "IsCaseSensitive")));
        }
        // As YARP: Methods, Headers and QueryParameters narrow a route, they cannot make one alone.
        if (pathTemplate is null && hosts.Count == 0)
            r.Error(match.Path, "a route needs a Path or Hosts (use Path '/{**catch-all}' to match every path)");
        return r.ErrorCount == errorsBefore ? new Route(rs.Key, clusterId!, order, hosts, pathTemplate, methods, headers, query, ConfigReader.Metadata(rs)) : null;
    }

    // As ASP.NET Core's route templates (and so YARP's): a template is rooted whether it starts with
    // '/', '~/' or neither ("{**catch-all}", as YARP's own samples write it).
    private static string? RootedTemplate(string? template) => template switch
    {
        null or "" => template,
        _ when template.StartsWith("~/", StringComparison.Ordinal) => template[1..],
        _ when template[0] is '/' or '~' => template,
        _ => "/" + template,
    };

    // YARP's HealthCheck section, with Baton's Rise/Fall; YARP's threshold metadata key is read as Fall.
    private static HealthCheckOptions HealthCheckFrom(IConfigurationSection cluster, TransferMode mode, IReadOnlyList<Destination> destinations,
        IReadOnlyDictionary<string, string>? metadata, ConfigReader r, ICollection<string> warnings)
    {
        var hc = cluster.GetSection("HealthCheck");
        var a = hc.GetSection("Active");
        var defaults = new ActiveHealthCheckOptions();
        int fall = defaults.Fall;
        string thresholdKey = $"{cluster.Path}:Metadata:{ActiveHealthCheckOptions.ThresholdMetadataKey}";
        bool thresholdGiven = metadata?.TryGetValue(ActiveHealthCheckOptions.ThresholdMetadataKey, out _) == true;
        if (thresholdGiven) fall = r.PositiveInt(cluster.GetSection("Metadata"), ActiveHealthCheckOptions.ThresholdMetadataKey) ?? fall;
        if (a["Fall"] is not null && r.PositiveInt(a, "Fall") is { } f)
        {
            if (thresholdGiven && f != fall)
                r.Error($"{a.Path}:Fall", $"{f} contradicts {thresholdKey} ({fall}); give one of them");
            fall = f;
        }
        if (a["Policy"] is { } activePolicy && !activePolicy.Equals(ActiveHealthCheckOptions.ConsecutiveFailures, StringComparison.OrdinalIgnoreCase))
            r.Error($"{a.Path}:Policy", $"'{activePolicy}' is not an active health policy (ConsecutiveFailures)");
        var probePath = a["Path"] ?? "";
        if (probePath.Length > 0 && !probePath.StartsWith('/'))
            r.Error($"{a.Path}:Path", $"'{probePath}' must start with '/'");
        var active = defaults with
        {
            Enabled = r.Flag(a, "Enabled"),
            Interval = r.Duration(a, "Interval", defaults.Interval),
            Timeout = r.Duration(a, "Timeout", defaults.Timeout),
            Path = probePath,
            Query = a["Query"] ?? "",
            Fall = fall,
            Rise = a["Rise"] is null ? defaults.Rise : r.PositiveInt(a, "Rise") ?? defaults.Rise,
        };

        var p = hc.GetSection("Passive");
        var passiveDefaults = new PassiveHealthCheckOptions();
        var passivePolicy = p["Policy"] ?? PassiveHealthCheckOptions.ConsecutiveFailures;
        if (passivePolicy.Equals(PassiveHealthCheckOptions.TransportFailureRate, StringComparison.OrdinalIgnoreCase))
            warnings.Add($"{p.Path}:Policy: YARP's TransportFailureRate is not implemented by Baton; it counts consecutive failed transactions (ConsecutiveFailures, Passive:Fall) instead");
        else if (!passivePolicy.Equals(PassiveHealthCheckOptions.ConsecutiveFailures, StringComparison.OrdinalIgnoreCase))
            r.Error($"{p.Path}:Policy", $"'{passivePolicy}' is not a passive health policy (ConsecutiveFailures, TransportFailureRate)");
        var passive = passiveDefaults with
        {
            Enabled = r.Flag(p, "Enabled"),
            Policy = passivePolicy,
            ReactivationPeriod = p["ReactivationPeriod"] is null ? null : r.Duration(p, "ReactivationPeriod", PassiveHealthCheckOptions.DefaultReactivationPeriod),
            Fall = p["Fall"] is null ? passiveDefaults.Fall : r.PositiveInt(p, "Fall") ?? passiveDefaults.Fall,
        };

        var available = AvailableDestinations.Canonical(hc["AvailableDestinationsPolicy"]);
        if (available is null)
            r.Error($"{hc.Path}:AvailableDestinationsPolicy", $"'{hc["AvailableDestinationsPolicy"]}' is not one of {AvailableDestinations.HealthyAndUnknown}, {AvailableDestinations.HealthyOrPanic}");

        if (active.Enabled)
        {
            if (mode.ServedByTheRouter)
                warnings.Add($"{a.Path}:Enabled: a {mode.Name} cluster has no destinations to probe");
            foreach (var d in destinations.Where(d => d.Health is null && !mode.HasOrigin && mode.OwnHealth is not null))
                warnings.Add($"{cluster.Path}:Destinations:{d.Name}:Health: missing, so active checks cannot probe this {mode.Name} destination " +
                    $"(give its HTTP health URL); its {mode.OwnHealth} is its only health");
        }
        return new HealthCheckOptions { Active = active, Passive = passive, AvailableDestinationsPolicy = available ?? AvailableDestinations.HealthyAndUnknown };
    }

    // Baton's own per-cluster balancing settings (YARP has no place for them).
    private static LoadBalancingOptions LoadBalancingFrom(IConfigurationSection s, ConfigReader r)
    {
        var o = LoadBalancingOptions.Default;
        if (s["HashKey"] is { } key) o = o with { HashKey = key };
        if (r.Number(s, "HashLoadFactor") is { } f) o = o with { HashLoadFactor = f };
        if (r.Number(s, "HashVirtualNodes") is { } v) o = o with { HashVirtualNodes = (int)v };
        if (r.Number(s, "LardHigh") is { } h) o = o with { LardHigh = (int)h };
        if (r.Number(s, "LardLow") is { } l) o = o with { LardLow = (int)l };
        if (r.Number(s, "LardPathDepth") is { } d) o = o with { LardPathDepth = (int)d };
        try { o.Validate(); }
        catch (ArgumentException e) { r.Error(s.Path, e.Message); }
        return o;
    }
}
