using Microsoft.Extensions.Configuration;

namespace Baton.Configuration;

/// <summary>
/// The part of YARP's <c>ReverseProxy</c> schema Baton implements. Every other key in a configuration
/// is named in a warning (a YARP feature Baton lacks, or a typo): nothing is ignored silently.
/// </summary>
internal static class ProxySchema
{
    /// <summary>A node of the schema: known children by name, or one shape for every child, or anything below.</summary>
    private sealed class Node
    {
        public Dictionary<string, Node>? Known { get; init; }
        public Node? Each { get; init; }
        public bool AnythingBelow { get; init; }
    }

    private static readonly Node Value = new() { AnythingBelow = true }; // a scalar or an array of them
    private static readonly Node Metadata = new() { AnythingBelow = true }; // kept as written; any key is fine

    private static Node Map(params (string Key, Node Node)[] children) =>
        new() { Known = children.ToDictionary(c => c.Key, c => c.Node, StringComparer.OrdinalIgnoreCase) };

    private static Node Each(Node node) => new() { Each = node };

    private static readonly Node Condition = Map(("Name", Value), ("Values", Value), ("Mode", Value), ("IsCaseSensitive", Value));

    private static readonly Node Root = Map(
        ("Routes", Each(Map(
            ("ClusterId", Value), ("Order", Value), ("Metadata", Metadata),
            ("Match", Map(("Path", Value), ("Hosts", Value), ("Methods", Value), ("Headers", Each(Condition)), ("QueryParameters", Each(Condition))))))),
        ("Clusters", Each(Map(
            ("Transfer", Value), ("HandoffAbove", Value), ("LoadBalancingPolicy", Value), ("Metadata", Metadata),
            ("LoadBalancing", Map(("HashKey", Value), ("HashLoadFactor", Value), ("HashVirtualNodes", Value),
                ("LardHigh", Value), ("LardLow", Value), ("LardPathDepth", Value))),
            ("HealthCheck", Map(
                ("AvailableDestinationsPolicy", Value),
                ("Active", Map(("Enabled", Value), ("Interval", Value), ("Timeout", Value), ("Policy", Value), ("Path", Value),
                    ("Query", Value), ("Fall", Value), ("Rise", Value))),
                ("Passive", Map(("Enabled", Value), ("Policy", Value), ("ReactivationPeriod", Value), ("Fall", Value))))),
            ("Destinations", Each(Map(("Address", Value), ("Agent", Value), ("Health", Value), ("Metadata", Metadata))))))));

    // What the YARP features Baton lacks do there, so the warning says what is missing, not just "unknown".
    private static readonly Dictionary<string, string> YarpFeatures = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Transforms"] = "request and response transforms",
        ["AuthorizationPolicy"] = "authorization",
        ["CorsPolicy"] = "CORS",
        ["RateLimiterPolicy"] = "rate limiting",
        ["OutputCachePolicy"] = "output caching",
        ["TimeoutPolicy"] = "request timeouts",
        ["Timeout"] = "request timeouts",
        ["MaxRequestBodySize"] = "request body size limit",
        ["HttpClient"] = "per-cluster HTTP client settings (relay settings are under Baton:Relay)",
        ["HttpRequest"] = "per-cluster request settings (relay timeouts are under Baton:Relay)",
        ["SessionAffinity"] = "session affinity (ConsistentHash with HashKey Cookie:<name> is the nearest)",
        ["Host"] = "Host header override per destination",
    };

    /// <summary>One warning per key under <paramref name="proxy"/> that Baton does not implement (the key, not what is below it).</summary>
    public static IEnumerable<string> Unsupported(IConfigurationSection proxy) => Walk(proxy, Root);

    private static IEnumerable<string> Walk(IConfigurationSection section, Node node)
    {
        if (node.AnythingBelow) yield break;
        foreach (var child in section.GetChildren())
        {
            Node? shape = node.Each ?? (node.Known?.GetValueOrDefault(child.Key));
            if (shape is null)
            {
                yield return YarpFeatures.TryGetValue(child.Key, out var what)
                    ? $"{child.Path}: YARP's {what}; not implemented by Baton, ignored"
                    : $"{child.Path}: not a key Baton knows; ignored";
                continue;
            }
            foreach (var w in Walk(child, shape)) yield return w;
        }
    }
}
