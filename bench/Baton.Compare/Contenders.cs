using System.Text.Json.Nodes;
using Baton.Modes.Handoff.Protocol;
using Baton.Lab;

namespace Baton.Compare;

/// <summary>A contender while it runs: where wrk goes, and whose CPU counts as router and as back-end.</summary>
internal sealed class Running(string name, string url, int? routerPid, Func<IEnumerable<int>> backendPids, Action stop, Func<string>? output = null)
{
    /// <summary>What the router printed, when it is a Baton process (shown when a run fails).</summary>
    public string Output => output?.Invoke() ?? "";

    public string Name { get; } = name;

    /// <summary>Base URL without the path, e.g. http://10.77.11.100:80.</summary>
    public string Url { get; } = url;

    /// <summary>Root of the router's process tree (null for the direct reference).</summary>
    public int? RouterPid { get; } = routerPid;

    /// <summary>The processes that serve the responses (agents, workers or origins).</summary>
    public Func<IEnumerable<int>> BackendPids { get; } = backendPids;

    public void Stop() => stop();
}

/// <summary>
/// The namespace cluster (client, router, be1..be3) with an origin on every back-end (port 8080 on
/// its own address): the one HTTP server all proxies use, <c>baton origin</c>, nginx or the ASP.NET
/// Core sample (<see cref="Origins"/>). Starts each contender in turn on the VIP, port
/// 80, in the router namespace.
/// </summary>
internal sealed class Arena : IDisposable
{
    public const int OriginPort = 8080;

    /// <summary>
    /// The HTTP server on every back-end that every proxy fronts (and handoff-forward forwards to):
    /// Baton's own test origin, Debian's nginx serving files, or the ASP.NET Core sample (which is also
    /// its host's agent for handoff-aspnet).
    /// </summary>
    public static readonly string[] Origins = ["baton", "nginx", "sample"];

    /// <summary>Contenders whose router forwards at XDP (Baton:Xdp): the run's wire is prepared for them (<see cref="PrepareWire"/>).</summary>
    public static readonly string[] XdpContenders = ["handoff-xdp"];

    /// <summary>The ASP.NET Core sample as its own agent: only with the sample as the origin.</summary>
    public const string AspNetContender = "handoff-aspnet";

    /// <summary>The sample application's own agent (handoff-aspnet): beside <c>baton agent</c>'s port, so both can run.</summary>
    public const int SampleAgentPort = 7071;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly Dictionary<string, BatonProcess> _origins = new();
    private readonly Dictionary<string, NginxServer> _nginxOrigins = new();

    public Arena(NetnsCluster net, string dir, string yarpDll, string origin = "baton")
    {
        Net = net;
        Dir = dir;
        YarpDll = yarpDll;
        Origin = origin;
    }

    /// <summary>Which server the origins are (<see cref="Origins"/>).</summary>
    public string Origin { get; }

    private string SampleKey => Path.Combine(Dir, "sample-cluster.key");

    private static string SampleDll => Path.Combine(AppContext.BaseDirectory, "Baton.Sample.dll");

    public NetnsCluster Net { get; }

    public string Dir { get; }

    public string YarpDll { get; }

    public string RouterNs => Net.Ns("router");

    public string ClientNs => Net.Ns("client");

    public IEnumerable<string> BackendNamespaces => Net.Backends.Select(Net.Ns);

    public IEnumerable<int> OriginPids => _origins.Values.Select(o => o.Pid).Concat(_nginxOrigins.Values.Select(n => n.Pid));

    private string VipUrl => $"http://{Net.Vip}:{NetnsCluster.ServicePort}";

    private string OriginUrl(string be) => $"http://{Net.AddressOf(be)}:{OriginPort}/";

    /// <summary>Starts the origins; <paramref name="sizes"/> are the response sizes asked for (nginx serves them as files).</summary>
    public async Task StartOriginsAsync(IEnumerable<long>? sizes = null)
    {
        switch (Origin)
        {
            case "nginx":
                // Files of the pattern every origin here answers /bytes/N with, one per size.
                var files = (sizes ?? [1024, 1 << 20]).Distinct().ToDictionary(n => $"bytes/{n}", Baton.Application.BuiltInApplication.Pattern);
                foreach (var be in Net.Backends)
                    _nginxOrigins[be] = new NginxServer(Net.Ns(be), OriginPort, files, "location / { }", listenAddress: Net.AddressOf(be), workerConnections: 1024);
                return;
            case "sample":
                // The ASP.NET Core sample: an ordinary origin on :8080 for the proxies, and its own
                // agent on :7071 for handoff-aspnet.
                ClusterKey.CreateFile(SampleKey);
                foreach (var be in Net.Backends)
                    _origins[be] = BatonProcess.StartDll(Net.Ns(be), $"sample-{be}", SampleDll,
                        [$"--Baton:Agent:Name={be}", $"--Baton:Agent:Listen={Net.AddressOf(be)}:{SampleAgentPort}", $"--Baton:Agent:KeyFile={SampleKey}",
                         $"--Direct={Net.AddressOf(be)}:{OriginPort}"]);
                foreach (var (be, p) in _origins)
                    if (!await p.WaitForOutputAsync("Application started", StartTimeout).ConfigureAwait(false))
                        throw new InvalidOperationException($"the sample on {be} did not start:\n{p.Output}");
                return;
            default:
                foreach (var be in Net.Backends)
                    _origins[be] = BatonProcess.Start(Net.Ns(be), $"origin-{be}", ["origin", "--name", be, "--listen", $"{Net.AddressOf(be)}:{OriginPort}"]);
                foreach (var (be, p) in _origins)
                    if (!await p.WaitForOutputAsync($"origin {be} listening on", StartTimeout).ConfigureAwait(false))
                        throw new InvalidOperationException($"origin {be} did not start:\n{p.Output}");
                return;
        }
    }


    public Task<Running> StartAsync(string contender) => contender switch
    {
        "direct" => Task.FromResult(new Running("direct", $"http://{Net.AddressOf("be1")}:{OriginPort}", null, () => OriginPids, () => { })),
        "handoff" => StartHandoffAsync(),
        // The agents forward to their host's origin (--forward), the one every proxy here fronts: an
        // unmodified server behind the hand-off. Its back-end CPU is agent plus origin.
        "handoff-forward" => StartHandoffAsync(forward: true),
        // The same with response bodies copied through the agent instead of spliced: the pump
        // against a plain copy, in one run.
        "handoff-forward-copy" => StartHandoffAsync(forward: true, copy: true),
        // The ASP.NET Core sample serves the connections in its own process (UseBatonAgent): the
        // same origin the proxies front, its back-end CPU the sample's alone.
        AspNetContender => StartHandoffToSampleAsync(),
        "adaptive" => StartHandoffAsync(adaptive: true),
        // The same-target shortcut measured both ways, on requests that alternate between back-ends
        // (round robin: the next request never stays) and on ones that mostly go to the same back-end
        // (consistent hash on the path with the load bound out of reach: wrk asks for one path).
        "handoff-noshortcut" => StartHandoffAsync(shortcut: false),
        "handoff-same" => StartHandoffAsync(samePath: true),
        "handoff-same-noshortcut" => StartHandoffAsync(samePath: true, shortcut: false),
        // Forwarded frames leave from the router interface's XDP hook (Baton:Xdp), ahead of tc, on a
        // wire prepared for it (PrepareWire).
        "handoff-xdp" => StartHandoffAsync(xdp: true),
        "local" => StartLocalAsync(),
        "relay" => StartRelayAsync(),
        "relay-copy" => StartRelayAsync(copy: true),
        "relay-pool" => StartRelayAsync(pool: true),
        "handoff-pool" => StartHandoffAsync(pool: true),
        "yarp" => StartYarpAsync(),
        "haproxy" => StartHaproxyAsync(),
        "nginx" => StartNginxAsync(),
        _ => throw new ArgumentException($"unknown contender '{contender}'"),
    };

    /// <summary>
    /// One wire for every contender of a run that has an XDP variant, so that the variants differ only
    /// in where the router steers (<see cref="NetnsCluster.PrepareForXdp"/>: the client's checksums in
    /// software, an XDP program on the router's switch port). Returns what the wire is, for the report.
    /// </summary>
    public string PrepareWire(IEnumerable<string> contenders)
    {
        if (!contenders.Any(XdpContenders.Contains)) return "veth defaults";
        Net.PrepareForXdp("client");
        return "prepared for XDP (client checksums in software, an XDP pass program on the router's switch port)";
    }

    private string Folder(string name)
    {
        var d = Path.Combine(Dir, name);
        Directory.CreateDirectory(d);
        return d;
    }

    private static void WriteJson(string path, JsonObject json) =>
        File.WriteAllText(path, json.ToJsonString(new() { WriteIndented = true }));

    // An agent's warnings and errors (the console logger's "warn:", "fail:" and "crit:"), last 10, for a failed run's report.
    private static IEnumerable<string> Problems(string host, BatonProcess p) =>
        p.Output.Split('\n').Where(l => l.Contains(" warn:", StringComparison.Ordinal) || l.Contains(" fail:", StringComparison.Ordinal) || l.Contains(" crit:", StringComparison.Ordinal))
            .TakeLast(10).Select(l => $"{host}: {l}");

    /// <summary>Router config: everything to cluster "all", round robin over be1..be3, but /router/… served by the router.</summary>
    private JsonObject BatonConfig(string transfer, Func<string, JsonObject> destination, JsonObject? extra = null, string policy = "RoundRobin", JsonObject? loadBalancing = null)
    {
        var dests = new JsonObject();
        foreach (var be in Net.Backends) dests[be] = destination(be);
        var baton = new JsonObject { ["Listen"] = Net.Service.ToString(), ["Name"] = "router", ["IdleTimeout"] = "00:02:00" };
        if (extra is not null) foreach (var (k, v) in extra) baton[k] = v?.DeepClone();
        return new JsonObject
        {
            ["Baton"] = baton,
            ["ReverseProxy"] = new JsonObject
            {
                ["Routes"] = new JsonObject
                {
                    ["all"] = new JsonObject { ["ClusterId"] = "all", ["Match"] = new JsonObject { ["Path"] = "/{**rest}" } },
                    // Served by the router itself (the soak's router-served share); wrk never asks for it.
                    ["router"] = new JsonObject { ["ClusterId"] = "self", ["Match"] = new JsonObject { ["Path"] = "/router/{**rest}" } },
                },
                ["Clusters"] = new JsonObject
                {
                    ["all"] = new JsonObject { ["Transfer"] = transfer, ["LoadBalancingPolicy"] = policy, ["LoadBalancing"] = loadBalancing ?? new JsonObject(), ["Destinations"] = dests },
                    ["self"] = new JsonObject { ["Transfer"] = "router" },
                },
            },
        };
    }

    private static void StopAll(IEnumerable<IDisposable> items)
    {
        foreach (var i in items.Reverse()) i.Dispose();
    }

    /// <summary>
    /// Agents on the back-ends and a Baton router in front. <paramref name="adaptive"/>: the cluster
    /// is adaptive, each destination both its agent and its host's origin (which runs anyway), and
    /// the router relays or hands off per request by the response size it has learned.
    /// </summary>
    private async Task<Running> StartHandoffAsync(bool adaptive = false, bool shortcut = true, bool samePath = false, bool forward = false, bool copy = false, bool xdp = false, bool pool = false)
    {
        string name = (adaptive ? "adaptive" : "handoff") + (samePath ? "-same" : "") + (shortcut ? "" : "-noshortcut") + (forward ? "-forward" : "") + (copy ? "-copy" : "") + (xdp ? "-xdp" : "") + (pool ? "-pool" : "");
        var dir = Folder(name);
        var key = Path.Combine(dir, "cluster.key");
        ClusterKey.CreateFile(key);
        var config = Path.Combine(dir, "router.json");
        WriteJson(config, BatonConfig(adaptive ? "adaptive" : "handoff",
            be => adaptive
                ? new JsonObject { ["Address"] = OriginUrl(be), ["Agent"] = Net.ControlEndpointOf(be).ToString() }
                : new JsonObject { ["Address"] = Net.ControlEndpointOf(be).ToString() },
            new JsonObject { ["Interface"] = "eth0", ["KeyFile"] = "cluster.key", ["SameTargetShortcut"] = shortcut, ["Xdp"] = xdp },
            samePath ? "ConsistentHash" : "RoundRobin",
            samePath ? new JsonObject { ["HashKey"] = "Path", ["HashLoadFactor"] = "1000" } : null));
        var started = new List<BatonProcess>();
        try
        {
            var agents = Net.Backends.Select(be =>
            {
                var a = BatonProcess.Start(Net.Ns(be), $"agent-{be}",
                    ["agent", "--name", be, "--listen", Net.ControlEndpointOf(be).ToString(), "--key-file", key, .. forward ? new[] { "--forward", OriginUrl(be) } : []],
                    environment: copy ? NoSplice : null);
                started.Add(a);
                return (be, a);
            }).ToList();
            foreach (var (be, a) in agents)
                if (!await a.WaitForOutputAsync("listening for the router", StartTimeout).ConfigureAwait(false))
                    throw new InvalidOperationException($"agent {be} did not start:\n{a.Output}");
            var router = BatonProcess.Start(RouterNs, "router", ["router", "--config", config], environment: pool ? PoolCompletions : null);
            started.Add(router);
            foreach (var be in Net.Backends)
                if (!await router.WaitForOutputAsync($"agent {be} connected", StartTimeout).ConfigureAwait(false))
                    throw new InvalidOperationException($"router did not connect to agent {be}:\n{router.Output}");
            if (xdp && router.Output.Contains("XDP forwarding unavailable", StringComparison.Ordinal))
                throw new InvalidOperationException($"the router runs without XDP:\n{router.Output}");
            // Adaptive responses come from the agents (hand-off) and the origins (relay).
            return new Running(name, VipUrl, router.Pid,
                adaptive || forward ? () => agents.Select(a => a.a.Pid).Concat(OriginPids) : () => agents.Select(a => a.a.Pid), () => StopAll(started),
                () => string.Join('\n', router.Output.Split('\n').TakeLast(30).Concat(agents.SelectMany(a => Problems(a.be, a.a)))));
        }
        catch
        {
            StopAll(started);
            throw;
        }
    }

    private async Task<Running> StartHandoffToSampleAsync()
    {
        var dir = Folder(AspNetContender);
        File.Copy(SampleKey, Path.Combine(dir, "cluster.key"), overwrite: true);
        var config = Path.Combine(dir, "router.json");
        WriteJson(config, BatonConfig("handoff", be => new JsonObject { ["Address"] = $"{Net.AddressOf(be)}:{SampleAgentPort}" },
            new JsonObject { ["Interface"] = "eth0", ["KeyFile"] = "cluster.key" }));
        var router = BatonProcess.Start(RouterNs, "router", ["router", "--config", config]);
        foreach (var be in Net.Backends)
            if (!await router.WaitForOutputAsync($"agent {be} connected", StartTimeout).ConfigureAwait(false))
            {
                router.Dispose();
                throw new InvalidOperationException($"router did not connect to the sample's agent on {be}:\n{router.Output}");
            }
        return new Running(AspNetContender, VipUrl, router.Pid, () => OriginPids, router.Dispose,
            () => string.Join('\n', router.Output.Split('\n').TakeLast(30)));
    }

    private async Task<Running> StartLocalAsync()
    {
        var dir = Folder("local");
        var config = Path.Combine(dir, "router.json");
        WriteJson(config, BatonConfig("local", _ => new JsonObject(), new JsonObject { ["WorkerSocket"] = "workers.sock" }));
        var started = new List<BatonProcess>();
        try
        {
            var router = BatonProcess.Start(RouterNs, "router", ["router", "--config", config]);
            started.Add(router);
            if (!await router.WaitForOutputAsync("router listening on", StartTimeout).ConfigureAwait(false))
                throw new InvalidOperationException($"router did not start:\n{router.Output}");
            var workers = new List<BatonProcess>();
            foreach (var be in Net.Backends)
            {
                var w = BatonProcess.Start(RouterNs, $"worker-{be}", ["worker", "--name", be, "--socket", Path.Combine(dir, "workers.sock")]);
                started.Add(w);
                workers.Add(w);
            }
            foreach (var w in workers)
            {
                string be = w.Name["worker-".Length..];
                if (!await router.WaitForOutputAsync($"worker {be} registered (pid {w.Pid}", StartTimeout).ConfigureAwait(false))
                    throw new InvalidOperationException($"router did not register worker {be}:\n{w.Output}\n{router.Output}");
            }
            return new Running("local", VipUrl, router.Pid, () => workers.Select(w => w.Pid), () => StopAll(started));
        }
        catch
        {
            StopAll(started);
            throw;
        }
    }

    private static readonly Dictionary<string, string> PoolCompletions = new() { ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "0" };
    private static readonly Dictionary<string, string> NoSplice = new() { ["BATON_SPLICE"] = "0" };

    private async Task<Running> StartRelayAsync(bool copy = false, bool pool = false)
    {
        string name = copy ? "relay-copy" : pool ? "relay-pool" : "relay";
        var dir = Folder(name);
        var config = Path.Combine(dir, "router.json");
        WriteJson(config, BatonConfig("relay", be => new JsonObject { ["Address"] = OriginUrl(be) }));
        var router = BatonProcess.Start(RouterNs, "router", ["router", "--config", config], environment: copy ? NoSplice : pool ? PoolCompletions : null);
        if (!await router.WaitForOutputAsync("router listening on", StartTimeout).ConfigureAwait(false))
        {
            router.Dispose();
            throw new InvalidOperationException($"router did not start:\n{router.Output}");
        }
        return new Running(name, VipUrl, router.Pid, () => OriginPids, router.Dispose);
    }

    private async Task<Running> StartYarpAsync()
    {
        var dir = Folder("yarp");
        var config = Path.Combine(dir, "yarp.json");
        var dests = new JsonObject();
        foreach (var be in Net.Backends) dests[be] = new JsonObject { ["Address"] = OriginUrl(be) };
        WriteJson(config, new JsonObject
        {
            ["Urls"] = VipUrl,
            ["ReverseProxy"] = new JsonObject
            {
                ["Routes"] = new JsonObject { ["all"] = new JsonObject { ["ClusterId"] = "all", ["Match"] = new JsonObject { ["Path"] = "{**catch-all}" } } },
                ["Clusters"] = new JsonObject { ["all"] = new JsonObject { ["LoadBalancingPolicy"] = "RoundRobin", ["Destinations"] = dests } },
            },
        });
        string dotnet = Environment.ProcessPath is { } pp && Path.GetFileNameWithoutExtension(pp) == "dotnet" ? pp : "/usr/share/dotnet/dotnet";
        var p = Proc.Start(RouterNs, "yarp", dotnet, YarpDll, "--config", config);
        if (!await p.WaitForOutputAsync("yarp listening on", StartTimeout).ConfigureAwait(false))
        {
            p.Dispose();
            throw new InvalidOperationException($"YARP did not start:\n{p.Output}");
        }
        return new Running("yarp", VipUrl, p.Pid, () => OriginPids, p.Dispose);
    }

    private async Task<Running> StartHaproxyAsync()
    {
        var dir = Folder("haproxy");
        var config = Path.Combine(dir, "haproxy.cfg");
        var servers = string.Join('\n', Net.Backends.Select(be => $"    server {be} {Net.AddressOf(be)}:{OriginPort}"));
        File.WriteAllText(config, $"""
            global
                maxconn 4096
            defaults
                mode http
                option http-keep-alive
                http-reuse always
                timeout connect 5s
                timeout client 60s
                timeout server 60s
            frontend vip
                bind {Net.Vip}:{NetnsCluster.ServicePort}
                default_backend origins
            backend origins
                balance roundrobin
            {servers}

            """);
        var p = Proc.Start(RouterNs, "haproxy", "haproxy", "-db", "-f", config);
        return await ReadyAsync("haproxy", p).ConfigureAwait(false);
    }

    private async Task<Running> StartNginxAsync()
    {
        var dir = Folder("nginx");
        var config = Path.Combine(dir, "nginx.conf");
        var servers = string.Join('\n', Net.Backends.Select(be => $"        server {Net.AddressOf(be)}:{OriginPort};"));
        File.WriteAllText(config, $$"""
            worker_processes auto;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                client_body_temp_path {{dir}}/body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                keepalive_requests 1000000;
                upstream origins {
            {{servers}}
                    keepalive 64;
                    keepalive_requests 1000000;
                }
                server {
                    listen {{Net.Vip}}:{{NetnsCluster.ServicePort}};
                    location / {
                        proxy_pass http://origins;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_buffers 16 64k;
                        proxy_max_temp_file_size 0;
                    }
                }
            }

            """);
        var p = Proc.Start(RouterNs, "nginx", "/usr/sbin/nginx", "-p", dir, "-c", config, "-e", Path.Combine(dir, "error.log"), "-g", "daemon off;");
        return await ReadyAsync("nginx", p).ConfigureAwait(false);
    }

    /// <summary>Waits until the VIP accepts connections from the client namespace (or the process exits).</summary>
    private async Task<Running> ReadyAsync(string name, Proc p)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (DateTime.UtcNow < deadline && !p.HasExited)
        {
            using var s = Netns.CreateTcpSocket(ClientNs);
            try
            {
                await s.ConnectAsync(Net.Service).WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                return new Running(name, VipUrl, p.Pid, () => OriginPids, p.Dispose);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or TimeoutException)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }
        }
        string output = p.Output;
        p.Dispose();
        throw new InvalidOperationException($"{name} did not start listening on {Net.Service}:\n{output}");
    }

    public void Dispose()
    {
        foreach (var o in _origins.Values) o.Dispose();
        _origins.Clear();
        foreach (var n in _nginxOrigins.Values) n.Dispose();
        _nginxOrigins.Clear();
    }
}
