using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Baton.Modes.Handoff.Protocol;

namespace Baton.Lab;

/// <summary>
/// A running Baton cluster on namespace hosts: one router process and one agent process per
/// back-end, each in its own namespace, with the default routes (<c>/beN/…</c> to that host,
/// <c>/router/…</c> served by the router, everything else balanced over all back-ends).
/// Used by <c>baton demo</c> and the cluster tests. Dispose stops the processes it started (by id)
/// and deletes the namespaces.
/// </summary>
public sealed class BatonLab : IBatonLab
{
    private readonly Dictionary<string, BatonProcess> _agents = new();
    private readonly Action<string>? _echo;

    private BatonLab(NetnsCluster net, string dir, Action<string>? echo, bool traceOwnership, bool metrics, bool admin)
    {
        HasAdmin = admin;
        Net = net;
        Directory = dir;
        _echo = echo;
        TracesOwnership = traceOwnership;
        PublishesMetrics = metrics;
    }

    /// <summary>The port each host's metrics listener has on its own loopback, when <see cref="PublishesMetrics"/>.</summary>
    public const int MetricsPort = 9464;

    /// <summary>Whether the router and the agents serve Prometheus metrics on 127.0.0.1:<see cref="MetricsPort"/> in their namespaces.</summary>
    public bool PublishesMetrics { get; }

    /// <summary>
    /// What host <paramref name="host"/> (router, be1, ...) serves on <c>GET /metrics</c> now, read
    /// from inside its namespace, as a Prometheus server beside it would.
    /// </summary>
    public async Task<PrometheusText> ScrapeAsync(string host)
    {
        if (!PublishesMetrics) throw new InvalidOperationException("the lab does not publish metrics (BatonLab.StartAsync metrics)");
        using var http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (ctx, ct) =>
            {
                var s = Netns.CreateTcpSocket(Net.Ns(host));
                await s.ConnectAsync(IPAddress.Loopback, MetricsPort, ct).ConfigureAwait(false);
                return new NetworkStream(s, ownsSocket: true);
            },
        });
        return new PrometheusText(await http.GetStringAsync($"http://127.0.0.1:{MetricsPort}/metrics").ConfigureAwait(false));
    }

    /// <summary>The router's admin listener, on its namespace's loopback, when <see cref="HasAdmin"/>.</summary>
    public static readonly Uri AdminUrl = new("http://127.0.0.1:9901");

    /// <summary>Whether the router has an admin listener (<see cref="AdminUrl"/>, token in <see cref="AdminTokenFile"/>).</summary>
    public bool HasAdmin { get; }

    /// <summary>Path of the admin token file.</summary>
    public string AdminTokenFile => Path.Combine(Directory, "admin.token");

    /// <summary>
    /// Runs <c>baton ctl</c> with <paramref name="args"/> in the router's namespace, as an operator
    /// on the router host would, and returns its exit code and output once it has exited.
    /// </summary>
    public async Task<(int ExitCode, string Output)> CtlAsync(TimeSpan timeout, params string[] args)
    {
        if (!HasAdmin) throw new InvalidOperationException("the lab's router has no admin listener (BatonLab.StartAsync admin)");
        using var ctl = BatonProcess.Start(Net.Ns("router"), "ctl", ["ctl", "--admin", AdminUrl.ToString(), "--token-file", AdminTokenFile, .. args]);
        var exited = await Task.Run(() => ctl.WaitForExit(timeout)).ConfigureAwait(false);
        if (!exited) throw new TimeoutException($"baton ctl {string.Join(' ', args)} did not exit in {timeout.TotalSeconds:0} s:\n{ctl.Output}");
        return (ctl.ExitCode, ctl.Output);
    }

    private string[] MetricsArgs => PublishesMetrics ? ["--metrics-listen", $"127.0.0.1:{MetricsPort}"] : [];

    /// <summary>Whether the router and agents write <c>--ownership-trace</c> files (<see cref="OwnershipTraceOf"/>).</summary>
    public bool TracesOwnership { get; }

    /// <summary>The ownership trace file of host <paramref name="host"/> (router, be1, ...).</summary>
    public string OwnershipTraceOf(string host) => Path.Combine(Directory, $"{host}.owners");

    /// <summary>
    /// The ownership events of <paramref name="host"/> for the client connection from
    /// <paramref name="clientPort"/>, in order (UTC; the traces are flushed every 50 ms).
    /// </summary>
    public IReadOnlyList<(DateTime At, bool Live)> OwnershipEvents(string host, int clientPort)
    {
        string file = OwnershipTraceOf(host);
        if (!File.Exists(file)) return [];
        return WireOwnership.ParseTrace(File.ReadAllLines(file)).TryGetValue(clientPort, out var events)
            ? events.Select(e => (new DateTime(e.Ticks, DateTimeKind.Utc), e.Live)).ToList()
            : [];
    }

    private string[] TraceArgs(string host) => TracesOwnership ? ["--ownership-trace", OwnershipTraceOf(host)] : [];

    /// <summary>The namespace hosts.</summary>
    public NetnsCluster Net { get; }

    /// <summary>Folder with the cluster key and router configuration.</summary>
    public string Directory { get; }

    /// <summary>The router process.</summary>
    public BatonProcess Router { get; private set; } = null!;

    /// <summary>Agent processes by back-end name.</summary>
    public IReadOnlyDictionary<string, BatonProcess> Agents => _agents;

    /// <summary>The service on the VIP, reached from the client namespace.</summary>
    public IPEndPoint Service => Net.Service;

    IReadOnlyDictionary<string, BatonProcess> IBatonLab.Backends => _agents;

    /// <summary>The counter in the client namespace: its stack carries only the lab's connections.</summary>
    public long? ClientTcpCounter(string counter) => Netns.SnmpCounter(Net.Ns("client"), "Tcp", counter);

    /// <summary>Path of the cluster key file.</summary>
    public string KeyFile => Path.Combine(Directory, "cluster.key");

    /// <summary>Path of the router configuration.</summary>
    public string ConfigFile => Path.Combine(Directory, "router.json");

    /// <summary>
    /// Builds the namespaces, writes key and configuration, starts agents and router, and waits until
    /// all agents are connected. <paramref name="steering"/> is the router's <c>Baton:Steering</c>
    /// (bpf, nftables, auto); null leaves it to the router's default. <paramref name="configure"/>
    /// changes the router's configuration further before it starts. With <paramref name="metrics"/>
    /// every host serves Prometheus metrics on its own loopback (<see cref="ScrapeAsync"/>).
    /// </summary>
    public static async Task<BatonLab> StartAsync(string prefix, int subnet, TimeSpan idleTimeout, Action<string>? echo = null, string[]? routerArgs = null,
        string? steering = null, Action<JsonNode>? configure = null, bool traceOwnership = false, bool metrics = false, bool admin = false)
    {
        StaleProcesses.Claim(prefix);
        var net = NetnsCluster.Create(prefix, subnet);
        var dir = System.IO.Directory.CreateTempSubdirectory("baton-lab-").FullName;
        var lab = new BatonLab(net, dir, echo, traceOwnership, metrics, admin);
        try
        {
            ClusterKey.CreateFile(lab.KeyFile);
            var config = DefaultConfig(net, idleTimeout);
            if (steering is not null) config["Baton"]!["Steering"] = steering;
            if (metrics) config["Baton"]!["Metrics"] = new JsonObject { ["Listen"] = $"127.0.0.1:{MetricsPort}" };
            if (admin)
            {
                File.WriteAllText(lab.AdminTokenFile, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)) + "\n");
                config["Baton"]!["Admin"] = new JsonObject { ["Listen"] = $"{AdminUrl.Host}:{AdminUrl.Port}", ["TokenFile"] = "admin.token" };
            }
            configure?.Invoke(config);
            File.WriteAllText(lab.ConfigFile, config.ToJsonString(new() { WriteIndented = true }));
            foreach (var be in net.Backends) lab._agents[be] = lab.StartAgent(be);
            foreach (var (be, p) in lab._agents)
                if (!await p.WaitForOutputAsync("listening for the router", TimeSpan.FromSeconds(30)).ConfigureAwait(false))
                    throw new InvalidOperationException($"agent {be} did not start:\n{p.Output}");
            await lab.StartRouterAsync(routerArgs ?? []).ConfigureAwait(false);
            return lab;
        }
        catch
        {
            await lab.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts (or restarts) the router and waits until it has connected to every agent.</summary>
    public async Task StartRouterAsync(params string[] routerArgs)
    {
        Router?.Dispose();
        Router = BatonProcess.Start(Net.Ns("router"), "router", ["router", "--config", ConfigFile, .. TraceArgs("router"), .. routerArgs], Prefixed("router", _echo));
        StaleProcesses.Record(Net.Prefix, Router.Pid);
        foreach (var be in Net.Backends)
            if (!await Router.WaitForOutputAsync($"agent {be} connected", TimeSpan.FromSeconds(30)).ConfigureAwait(false))
                throw new InvalidOperationException($"router did not connect to agent {be}:\n{Router.Output}");
        // The operator's listeners start once the router listens: wait for them too.
        foreach (var (on, line) in new[] { (PublishesMetrics, "metrics for Prometheus at"), (HasAdmin, "admin API at") })
            if (on && !await Router.WaitForOutputAsync(line, TimeSpan.FromSeconds(30)).ConfigureAwait(false))
                throw new InvalidOperationException($"router did not start its listener ({line}):\n{Router.Output}");
    }

    /// <summary>Starts (or restarts) the agent of back-end <paramref name="backend"/>, with <paramref name="agentArgs"/> added to its command line.</summary>
    public BatonProcess StartAgent(string backend, params string[] agentArgs) =>
        ReplaceAgent(backend, () => BatonProcess.Start(Net.Ns(backend), backend,
            ["agent", "--name", backend, "--listen", Net.ControlEndpointOf(backend).ToString(), "--key-file", KeyFile, .. TraceArgs(backend), .. MetricsArgs, .. agentArgs],
            Prefixed(backend, _echo)));

    /// <summary>
    /// Restarts back-end <paramref name="backend"/>'s agent with <paramref name="agentArgs"/> added
    /// (e.g. <c>--forward</c>) and waits until <paramref name="router"/> has connected to it again.
    /// </summary>
    public Task<BatonProcess> RestartAgentAsync(BatonProcess router, string backend, params string[] agentArgs) =>
        ConnectedAsync(router, backend, () => StartAgent(backend, agentArgs), TimeSpan.FromSeconds(30));

    /// <summary>
    /// Runs back-end <paramref name="backend"/>'s agent as an ASP.NET Core application's own process
    /// (<c>UseBatonAgent</c> bound from <c>Baton:Agent</c>), in place of <c>baton agent</c>, and waits
    /// until the router has connected to it; the next <see cref="StartAgent"/> puts the plain agent back.
    /// </summary>
    public Task<BatonProcess> StartAgentApplicationAsync(string backend, string dll, params string[] args) =>
        ConnectedAsync(Router, backend, () => ReplaceAgent(backend, () => BatonProcess.StartDll(Net.Ns(backend), backend, dll,
            [$"--Baton:Agent:Name={backend}", $"--Baton:Agent:Listen={Net.ControlEndpointOf(backend)}", $"--Baton:Agent:KeyFile={KeyFile}", .. args],
            Prefixed(backend, _echo))), TimeSpan.FromSeconds(60));

    private BatonProcess ReplaceAgent(string backend, Func<BatonProcess> start)
    {
        if (_agents.Remove(backend, out var old)) old.Dispose();
        var p = start();
        _agents[backend] = p;
        StaleProcesses.Record(Net.Prefix, p.Pid);
        return p;
    }

    // The router's log is shared by everything that restarts agents: wait for one more "connected" line, not for any.
    private static async Task<BatonProcess> ConnectedAsync(BatonProcess router, string backend, Func<BatonProcess> start, TimeSpan timeout)
    {
        string line = $"agent {backend} connected";
        int Count() => router.Output.Split('\n').Count(l => l.Contains(line, StringComparison.Ordinal));
        int before = Count();
        var agent = start();
        var deadline = DateTime.UtcNow + timeout;
        while (Count() <= before)
        {
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException($"router did not connect to the restarted agent {backend}:\n{router.Output}\n{agent.Output}");
            await Task.Delay(50).ConfigureAwait(false);
        }
        return agent;
    }

    /// <summary>A new client socket in the client namespace, connected to the service on the VIP.</summary>
    public async Task<Socket> ConnectClientAsync(CancellationToken ct = default)
    {
        var s = Netns.CreateTcpSocket(Net.Ns("client"));
        await s.ConnectAsync(Net.Service, ct).ConfigureAwait(false);
        return s;
    }

    /// <summary>
    /// An ordinary HttpClient whose connections start in the client namespace. At most one connection
    /// is open at a time, so sequential requests share one keep-alive connection. Every connection's
    /// local port is added to <paramref name="localPorts"/>.
    /// </summary>
    public HttpClient CreateHttpClient(List<int> localPorts) => LabHttpClient.Create(this, localPorts);

    /// <summary>The default configuration for this cluster, in the router's JSON schema.</summary>
    public static JsonObject DefaultConfig(NetnsCluster net, TimeSpan idleTimeout)
    {
        var routes = new JsonObject();
        var clusters = new JsonObject();
        foreach (var be in net.Backends)
        {
            routes[be] = new JsonObject { ["ClusterId"] = be, ["Match"] = new JsonObject { ["Path"] = $"/{be}/{{**rest}}" } };
            clusters[be] = new JsonObject
            {
                ["Transfer"] = "handoff",
                ["Destinations"] = new JsonObject { [be] = new JsonObject { ["Address"] = net.ControlEndpointOf(be).ToString() } },
            };
        }
        routes["router"] = new JsonObject { ["ClusterId"] = "router", ["Match"] = new JsonObject { ["Path"] = "/router/{**rest}" } };
        clusters["router"] = new JsonObject { ["Transfer"] = "router" };
        routes["all"] = new JsonObject { ["ClusterId"] = "all", ["Match"] = new JsonObject { ["Path"] = "/{**rest}" } };
        var all = new JsonObject();
        foreach (var be in net.Backends) all[be] = new JsonObject { ["Address"] = net.ControlEndpointOf(be).ToString() };
        clusters["all"] = new JsonObject { ["Transfer"] = "handoff", ["Destinations"] = all };
        return new JsonObject
        {
            ["Baton"] = new JsonObject
            {
                ["Listen"] = net.Service.ToString(),
                ["Interface"] = "eth0",
                ["KeyFile"] = "cluster.key",
                ["IdleTimeout"] = idleTimeout.ToString("c"),
            },
            ["ReverseProxy"] = new JsonObject { ["Routes"] = routes, ["Clusters"] = clusters },
        };
    }

    private static Action<string>? Prefixed(string name, Action<string>? echo) =>
        echo is null ? null : line => echo($"[{name}] {line}");

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        try
        {
            Router?.Dispose();
            foreach (var a in _agents.Values) a.Dispose();
        }
        finally
        {
            Net.Dispose();
            StaleProcesses.Forget(Net.Prefix);
            try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
        }
        return ValueTask.CompletedTask;
    }
}
