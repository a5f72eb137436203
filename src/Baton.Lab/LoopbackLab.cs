using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace Baton.Lab;

/// <summary>How the back-ends of a <see cref="LoopbackLab"/> are reached.</summary>
public enum LoopbackMode
{
    /// <summary><c>baton worker</c> processes; the router passes them the client's socket.</summary>
    Local,

    /// <summary><c>baton origin</c> HTTP servers; the router relays the bytes.</summary>
    Relay,
}

/// <summary>
/// A Baton cluster on this host's loopback, without root: a router process on 127.0.0.1 and three
/// back-end processes be1..be3 (workers in local mode, origins in relay mode), with the same routes
/// as <see cref="BatonLab"/>: <c>/beN/…</c> to that back-end, <c>/router/…</c> served by the router,
/// everything else balanced over all three. Dispose stops the processes it started (by id) and
/// deletes its folder.
/// </summary>
public sealed class LoopbackLab : IBatonLab
{
    /// <summary>The back-ends' names.</summary>
    public static readonly IReadOnlyList<string> BackendNames = ["be1", "be2", "be3"];

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private const int PortAttempts = 3;

    private readonly Dictionary<string, BatonProcess> _backends = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IPEndPoint> _origins = new(StringComparer.Ordinal);
    private readonly Action<string>? _echo;
    private readonly TimeSpan _idleTimeout;

    private LoopbackLab(LoopbackMode mode, string dir, TimeSpan idleTimeout, Action<string>? echo)
    {
        Mode = mode;
        Directory = dir;
        _idleTimeout = idleTimeout;
        _echo = echo;
    }

    /// <summary>Workers or origins.</summary>
    public LoopbackMode Mode { get; }

    /// <summary>Folder with the router configuration (and the workers' socket).</summary>
    public string Directory { get; }

    /// <summary>Path of the router configuration.</summary>
    public string ConfigFile => Path.Combine(Directory, "router.json");

    /// <summary>The Unix socket workers register on (local mode).</summary>
    public string WorkerSocket => Path.Combine(Directory, "workers.sock");

    /// <summary>Where the router listens, on 127.0.0.1.</summary>
    public IPEndPoint Service { get; private set; } = null!;

    /// <summary>The router process.</summary>
    public BatonProcess Router { get; private set; } = null!;

    /// <summary>Worker or origin processes by name.</summary>
    public IReadOnlyDictionary<string, BatonProcess> Backends => _backends;

    /// <summary>Each origin's HTTP endpoint (relay mode).</summary>
    public IReadOnlyDictionary<string, IPEndPoint> Origins => _origins;

    /// <summary>
    /// Starts the back-ends and the router and waits until the router listens and, in local mode,
    /// every worker has registered. Throws <see cref="InvalidOperationException"/> with the
    /// process's output when one does not start.
    /// </summary>
    public static async Task<LoopbackLab> StartAsync(LoopbackMode mode, TimeSpan? idleTimeout = null, Action<string>? echo = null, string[]? routerArgs = null)
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("baton-loop-").FullName;
        var lab = new LoopbackLab(mode, dir, idleTimeout ?? TimeSpan.FromSeconds(60), echo);
        try
        {
            if (mode == LoopbackMode.Relay)
            {
                // Origins first: the router's relay clusters name their ports.
                foreach (var be in BackendNames)
                {
                    var (p, port) = await lab.StartListeningAsync(be, port => ["origin", "--name", be, "--listen", $"127.0.0.1:{port}"],
                        $"origin {be} listening on").ConfigureAwait(false);
                    lab._backends[be] = p;
                    lab._origins[be] = new IPEndPoint(IPAddress.Loopback, port);
                }
            }
            await lab.StartRouterAsync(routerArgs ?? []).ConfigureAwait(false);
            if (mode == LoopbackMode.Local)
            {
                // The router makes the workers' socket, so workers come after it.
                foreach (var be in BackendNames) lab.StartWorker(be);
                foreach (var be in BackendNames) await lab.WaitForWorkerAsync(be).ConfigureAwait(false);
            }
            return lab;
        }
        catch
        {
            await lab.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts (or restarts) the router on a free port and waits until it listens.</summary>
    public async Task StartRouterAsync(params string[] routerArgs)
    {
        Router?.Dispose();
        var (router, port) = await StartListeningAsync("router", port =>
        {
            File.WriteAllText(ConfigFile, Config(new IPEndPoint(IPAddress.Loopback, port)).ToJsonString(new() { WriteIndented = true }));
            return ["router", "--config", ConfigFile, .. routerArgs];
        }, "router listening on").ConfigureAwait(false);
        Router = router;
        Service = new IPEndPoint(IPAddress.Loopback, port);
    }

    /// <summary>Starts (or restarts) worker <paramref name="name"/> (local mode) with <paramref name="workerArgs"/> added; see <see cref="WaitForWorkerAsync"/>.</summary>
    public BatonProcess StartWorker(string name, params string[] workerArgs)
    {
        if (Mode != LoopbackMode.Local) throw new InvalidOperationException("workers belong to local mode");
        if (_backends.Remove(name, out var old)) old.Dispose();
        var p = BatonProcess.Start(null, name, ["worker", "--name", name, "--socket", WorkerSocket, .. workerArgs], Prefixed(name, _echo));
        _backends[name] = p;
        return p;
    }

    /// <summary>Waits until worker <paramref name="name"/> says it registered and the router says it took it.</summary>
    public async Task WaitForWorkerAsync(string name)
    {
        var p = _backends[name];
        if (!await p.WaitForOutputAsync($"worker {name} registered at", StartTimeout).ConfigureAwait(false))
            throw new InvalidOperationException($"worker {name} did not register:\n{p.Output}");
        if (!await Router.WaitForOutputAsync($"worker {name} registered (pid {p.Pid}", StartTimeout).ConfigureAwait(false))
            throw new InvalidOperationException($"router did not register worker {name}:\n{Router.Output}");
    }

    /// <summary>A new client socket connected to the router.</summary>
    public async Task<Socket> ConnectClientAsync(CancellationToken ct = default)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await s.ConnectAsync(Service, ct).ConfigureAwait(false);
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public HttpClient CreateHttpClient(List<int> localPorts) => LabHttpClient.Create(this, localPorts);

    /// <summary>Always null: the client shares this host's TCP stack and its counters.</summary>
    public long? ClientTcpCounter(string counter) => null;

    /// <summary>This lab's router configuration, in the router's JSON schema.</summary>
    public JsonObject Config(IPEndPoint listen)
    {
        var routes = new JsonObject();
        var clusters = new JsonObject();
        var all = new JsonObject();
        foreach (var be in BackendNames)
        {
            routes[be] = new JsonObject { ["ClusterId"] = be, ["Match"] = new JsonObject { ["Path"] = $"/{be}/{{**rest}}" } };
            clusters[be] = new JsonObject { ["Transfer"] = TransferName, ["Destinations"] = new JsonObject { [be] = Destination(be) } };
            all[be] = Destination(be);
        }
        routes["router"] = new JsonObject { ["ClusterId"] = "router", ["Match"] = new JsonObject { ["Path"] = "/router/{**rest}" } };
        clusters["router"] = new JsonObject { ["Transfer"] = "router" };
        routes["all"] = new JsonObject { ["ClusterId"] = "all", ["Match"] = new JsonObject { ["Path"] = "/{**rest}" } };
        clusters["all"] = new JsonObject { ["Transfer"] = TransferName, ["Destinations"] = all };
        var node = new JsonObject
        {
            ["Listen"] = listen.ToString(),
            ["Name"] = "router",
            ["IdleTimeout"] = _idleTimeout.ToString("c"),
        };
        if (Mode == LoopbackMode.Local) node["WorkerSocket"] = Path.GetFileName(WorkerSocket); // relative to the configuration file
        return new JsonObject
        {
            ["Baton"] = node,
            ["ReverseProxy"] = new JsonObject { ["Routes"] = routes, ["Clusters"] = clusters },
        };
    }

    private string TransferName => Mode == LoopbackMode.Local ? "local" : "relay";

    private JsonObject Destination(string be) => Mode == LoopbackMode.Local
        ? new JsonObject()
        : new JsonObject { ["Address"] = $"http://{_origins[be]}/" };

    /// <summary>
    /// Starts a process that listens on a port it is given and waits for <paramref name="ready"/>.
    /// The port is free when picked, but another process may take it before ours binds: then
    /// another port is tried.
    /// </summary>
    private async Task<(BatonProcess Process, int Port)> StartListeningAsync(string name, Func<int, string[]> args, string ready)
    {
        for (int attempt = 1; ; attempt++)
        {
            int port = Loopback.FreePort();
            var p = BatonProcess.Start(null, name, args(port), Prefixed(name, _echo));
            if (await p.WaitForOutputAsync(ready, StartTimeout).ConfigureAwait(false)) return (p, port);
            bool taken = p.HasExited && p.Output.Contains("in use", StringComparison.OrdinalIgnoreCase);
            p.Dispose();
            if (!taken || attempt == PortAttempts)
                throw new InvalidOperationException($"{name} did not start:\n{p.Output}");
        }
    }

    private static Action<string>? Prefixed(string name, Action<string>? echo) =>
        echo is null ? null : line => echo($"[{name}] {line}");

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        try
        {
            Router?.Dispose();
            foreach (var p in _backends.Values) p.Dispose();
        }
        finally
        {
            try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
        }
        return ValueTask.CompletedTask;
    }
}
