using Baton.Modes.Handoff.Protocol;
using Baton.Modes.Relay;
using Baton.Modes;
using Baton.Routing;
using Baton.Steering;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.FileProviders.Physical;

namespace Baton.Configuration;

/// <summary>
/// The router's JSON configuration, in three stages: <see cref="Read"/> the file,
/// <see cref="Validate"/> it whole (every error, each naming its key, not only the first), and
/// <see cref="Build"/> the options, which is where the key file and account names are resolved.
/// A <c>Baton</c> section sets up the node itself; a <c>ReverseProxy</c> section in YARP's schema holds
/// routes and clusters (<see cref="ReverseProxyConfig"/>).
/// </summary>
public static class RouterConfig
{
    /// <summary>Loads, validates and builds <paramref name="path"/>. Relative paths in it are relative to the file.</summary>
    public static RouterOptions Load(string path)
    {
        if (!File.Exists(path)) throw new ConfigException($"configuration file '{path}' does not exist");
        Exception? notJson = null;
        var c = Read(path, watch: false, loadFailed: e => notJson = e);
        if (notJson is not null) throw NotJson(path, notJson);
        return From(c, path);
    }

    /// <summary>
    /// Stage 1: reads <paramref name="path"/> as JSON configuration. A file that does not parse is
    /// given to <paramref name="loadFailed"/> and reads as empty; with <paramref name="watch"/>, each
    /// saved version is read again and signals the root's reload token.
    /// </summary>
    public static IConfigurationRoot Read(string path, bool watch, Action<Exception> loadFailed)
    {
        var full = Path.GetFullPath(path);
        return new ConfigurationBuilder().AddJsonFile(s =>
        {
            // The default provider hides dot-files (ExclusionFilters.Sensitive): '.baton.json' never
            // reloaded (ConfigWatcherTests).
            s.FileProvider = new PhysicalFileProvider(Path.GetDirectoryName(full)!, ExclusionFilters.None);
            s.Path = Path.GetFileName(full);
            s.Optional = watch; // while watching, a file briefly gone (an editor's rename) is a version to refuse, not a crash
            s.ReloadOnChange = watch;
            s.OnLoadException = ctx =>
            {
                loadFailed(ctx.Exception.InnerException ?? ctx.Exception);
                ctx.Ignore = true;
            };
        }).Build();
    }

    /// <summary>The error for a configuration file that is not JSON.</summary>
    public static ConfigException NotJson(string path, Exception parseError) =>
        new($"configuration file '{path}' is not valid JSON: {parseError.Message}");

    /// <summary>Stages 2 and 3 for configuration <paramref name="c"/>, read from <paramref name="path"/>.</summary>
    public static RouterOptions From(IConfiguration c, string path)
    {
        var r = new ConfigReader();
        var valid = Validate(c, path, r);
        r.ThrowIfAny();
        var options = Build(valid!, r);
        r.ThrowIfAny();
        return options;
    }

    /// <summary>What validation leaves for the build: the options, and the names only the build resolves.</summary>
    private sealed record Validated(RouterOptions Options, string? KeyFile, string? WorkerUser, string? WorkerGroup, string? AdminTokenFile);

    /// <summary>Stage 2: checks every key and records each error in <paramref name="r"/>; touches no file.</summary>
    private static Validated? Validate(IConfiguration c, string path, ConfigReader r)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var b = c.GetSection("Baton");
        var warnings = new List<string>();
        var proxy = c.GetSection("ReverseProxy");
        var routes = ReverseProxyConfig.Read(proxy, r, warnings);
        var modes = ReverseProxyConfig.ModesNamed(proxy).ToList();
        bool handoff = modes.Any(m => m.Needs.HasFlag(NodeNeeds.AgentLinks));
        bool local = modes.Any(m => m.Needs.HasFlag(NodeNeeds.WorkerSocket));
        // What each mechanism needs is asked for only when a cluster uses it: a local-only router
        // needs neither a key nor an interface, nor root.
        string? keyFile = handoff || b["KeyFile"] is not null
            ? r.Required(b, "KeyFile", handoff ? "handoff clusters need the cluster key shared with the agents" : null)
            : null;
        string? workerSocket = local || b["WorkerSocket"] is not null
            ? r.Required(b, "WorkerSocket", local ? "local clusters need the Unix socket path workers register on" : null)
            : null;
        var listen = r.Endpoint(b, "Listen");
        var admin = b.GetSection("Admin");
        string? adminTokenFile = admin["Listen"] is not null || admin["TokenFile"] is not null
            ? r.Required(admin, "TokenFile", "the admin API takes calls only with the token in this file")
            : null;
        var iface = handoff ? r.Required(b, "Interface", "handoff clusters steer packets on the router's client-facing interface") : b["Interface"];
        var steering = SteeringFrom(b, r);
        bool holdQueue = r.Flag(b, "HoldQueue", fallback: true);
        // On by default where eBPF steering runs; asking for it with nftables only steering is a contradiction.
        if (b["HoldQueue"] is not null && holdQueue && steering == SteeringKind.NfTables)
            r.Error($"{b.Path}:HoldQueue", "the hold queue needs eBPF steering (Baton:Steering is nftables); remove HoldQueue or set Steering to bpf or auto");
        bool xdp = r.Flag(b, "Xdp", fallback: false);
        if (xdp && steering == SteeringKind.NfTables)
            r.Error($"{b.Path}:Xdp", "XDP forwarding is part of eBPF steering (Baton:Steering is nftables); remove Xdp or set Steering to bpf or auto");
        var options = new RouterOptions
        {
            Listen = listen!,
            Interface = iface,
            Steering = steering,
            HoldQueue = holdQueue,
            Xdp = xdp,
            WorkerSocket = workerSocket is null ? null : Path.Combine(dir, workerSocket),
            Routes = routes!,
            IdleTimeout = r.Duration(b, "IdleTimeout", TimeSpan.FromSeconds(60)),
            HandoffTimeout = r.Duration(b, "HandoffTimeout", TimeSpan.FromSeconds(2)),
            CloseGrace = r.Duration(b, "CloseGrace", TimeSpan.FromSeconds(3)),
            SameTargetShortcut = r.Flag(b, "SameTargetShortcut", fallback: true),
            Relay = RelayFrom(b.GetSection("Relay"), r),
            Metrics = MetricsFrom(b.GetSection("Metrics"), r),
            Admin = new AdminOptions { Listen = admin["Listen"] is null ? null : r.Endpoint(admin, "Listen") },
            Name = b["Name"] ?? "router",
            ConfigFile = Path.GetFullPath(path),
            Warnings = warnings,
        };
        return r.ErrorCount == 0
            ? new Validated(options, keyFile is null ? null : Path.Combine(dir, keyFile), b["WorkerUser"], b["WorkerGroup"],
                adminTokenFile is null ? null : Path.Combine(dir, adminTokenFile))
            : null;
    }

    /// <summary>Stage 3: the options, with the cluster key read and worker account names resolved; errors go to <paramref name="r"/>.</summary>
    private static RouterOptions Build(Validated v, ConfigReader r)
    {
        ClusterKey? key = null;
        if (v.KeyFile is { } keyFile)
        {
            try { key = ClusterKey.FromFile(keyFile); }
            catch (ArgumentException e) { r.Error("Baton:KeyFile", e.Message); }
        }
        string? token = null;
        if (v.AdminTokenFile is { } tokenFile)
        {
            try { token = AdminOptions.ReadToken(tokenFile); }
            catch (ArgumentException e) { r.Error("Baton:Admin:TokenFile", e.Message); }
        }
        return v.Options with
        {
            Key = key,
            Admin = v.Options.Admin with { Token = token },
            WorkerUid = v.WorkerUser is { } user ? AccountId(r, "Baton:WorkerUser", user, "/etc/passwd") : null,
            WorkerGid = v.WorkerGroup is { } group ? AccountId(r, "Baton:WorkerGroup", group, "/etc/group") : null,
        };
    }

    private static SteeringKind SteeringFrom(IConfigurationSection b, ConfigReader r)
    {
        switch (b["Steering"]?.ToLowerInvariant())
        {
            case null or "auto": return SteeringKind.Auto;
            case "bpf": return SteeringKind.Bpf;
            case "nftables": return SteeringKind.NfTables;
            default:
                r.Error($"{b.Path}:Steering", $"'{b["Steering"]}' is not a flow steering (bpf, nftables, auto)");
                return SteeringKind.Auto;
        }
    }

    // Relay settings for every relay destination (YARP keeps these per cluster in HttpClient/HttpRequest).
    private static RelayOptions RelayFrom(IConfigurationSection s, ConfigReader r)
    {
        var d = new RelayOptions();
        return d with
        {
            ConnectTimeout = r.Duration(s, "ConnectTimeout", d.ConnectTimeout),
            ResponseHeadTimeout = r.Duration(s, "ResponseHeadTimeout", d.ResponseHeadTimeout),
            ActivityTimeout = r.Duration(s, "ActivityTimeout", d.ActivityTimeout),
            IdleUpstreamTimeout = r.Duration(s, "IdleUpstreamTimeout", d.IdleUpstreamTimeout),
            UnhealthyCooldown = r.Duration(s, "UnhealthyCooldown", d.UnhealthyCooldown),
            MaxIdlePerTarget = (int?)r.Number(s, "MaxIdlePerTarget") ?? d.MaxIdlePerTarget,
            FailuresBeforeUnhealthy = (int?)r.Number(s, "FailuresBeforeUnhealthy") ?? d.FailuresBeforeUnhealthy,
        };
    }

    /// <summary>Baton:Metrics: the scrape listener and OTLP export, each off unless named.</summary>
    internal static MetricsOptions MetricsFrom(IConfigurationSection s, ConfigReader r)
    {
        var otlp = s.GetSection("Otlp");
        var endpoint = otlp["Endpoint"] is null ? null : r.AbsoluteHttpUrl(otlp, "Endpoint", "the OTLP collector");
        var parsed = MetricsOptions.ParseProtocol(otlp["Protocol"]);
        if (parsed is null) r.Error($"{otlp.Path}:Protocol", $"'{otlp["Protocol"]}' is not an OTLP protocol (grpc, http/protobuf)");
        var protocol = parsed ?? OtlpTransport.Grpc;
        var interval = r.Duration(otlp, "Interval", MetricsOptions.None.OtlpInterval);
        if (interval < TimeSpan.FromSeconds(1)) r.Error($"{otlp.Path}:Interval", $"{interval} is shorter than 1 s");
        return new MetricsOptions
        {
            Listen = s["Listen"] is null ? null : r.Endpoint(s, "Listen"),
            OtlpEndpoint = endpoint,
            OtlpProtocol = protocol,
            OtlpInterval = interval,
        };
    }

    /// <summary>A numeric id, or a name looked up in <paramref name="database"/> (name:x:id:... lines).</summary>
    private static uint? AccountId(ConfigReader r, string key, string value, string database)
    {
        if (uint.TryParse(value, out var id)) return id;
        if (File.Exists(database))
            foreach (var line in File.ReadLines(database))
            {
                var f = line.Split(':');
                if (f.Length > 2 && f[0] == value && uint.TryParse(f[2], out id)) return id;
            }
        r.Error(key, $"'{value}' is neither a number nor a name in {database}");
        return null;
    }
}
