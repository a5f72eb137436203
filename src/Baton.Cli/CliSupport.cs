using Baton.Configuration;
using System.CommandLine;
using System.Net.NetworkInformation;
using System.Runtime.InteropServices;
using Baton.Modes;
using Baton.Router;
using Baton.Steering;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Baton.Modes.Handoff.Repair;

namespace Baton.Cli;

/// <summary>What every command shares: logging, stop signals, and one-line errors.</summary>
internal static class CliSupport
{
    /// <summary>--forward: the back-end's own HTTP/1.1 server, which serves the connections handed here.</summary>
    public static Option<string?> ForwardOption() => new("--forward")
    {
        Description = "Serve each request with this host's HTTP/1.1 server instead of the built-in application, e.g. http://127.0.0.1:8080/ or unix:/run/app.sock " +
            "(the response goes to the client from here, never through the router)",
    };

    /// <summary>--forward-proxy-protocol: the origin reads the client from a PROXY protocol v2 header.</summary>
    public static Option<bool> ForwardProxyProtocolOption() => new("--forward-proxy-protocol")
    {
        Description = "Begin each connection to the --forward origin with a PROXY protocol v2 header naming the client (nginx: listen ... proxy_protocol; " +
            "HAProxy: accept-proxy); such connections are not shared between clients",
    };

    /// <summary>--forward-timeout: how long the origin may take to its response head.</summary>
    public static Option<int> ForwardTimeoutOption() => new("--forward-timeout")
    {
        Description = "Seconds the --forward origin may take from a request to its response head before the client is answered 504 (default 100)",
        DefaultValueFactory = _ => 100,
    };

    /// <summary>The application --forward names, or the built-in one; null <paramref name="origin"/> is the built-in one.</summary>
    public static Baton.Application.IBatonApplication Application(string? origin, string hostName, ILoggerFactory loggers, bool proxyProtocol = false, int timeoutSeconds = 100)
    {
        if (origin is null && proxyProtocol) throw new ArgumentException("--forward-proxy-protocol needs --forward");
        if (timeoutSeconds is < 1 or > 86_400) throw new ArgumentException($"--forward-timeout: {timeoutSeconds} is not between 1 and 86400 seconds");
        if (origin is null) return new Baton.Application.BuiltInApplication();
        Baton.Modes.Relay.OriginConnector connector;
        try
        {
            connector = Baton.Modes.Relay.OriginConnector.For(new Uri(origin, UriKind.Absolute));
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException)
        {
            throw new ArgumentException($"--forward: '{origin}' is neither http://host:port/ nor unix:/path/to/socket (e.g. http://127.0.0.1:8080/)");
        }
        if (proxyProtocol) connector = new Baton.Modes.Relay.ProxyProtocolConnector(connector);
        var options = new Baton.Modes.Relay.RelayOptions { ResponseHeadTimeout = TimeSpan.FromSeconds(timeoutSeconds) };
        return new Baton.Application.OriginForwarder(connector, options, hostName, loggers.CreateLogger("Baton.Forward"));
    }

    /// <summary>An agent's metrics: the same two ways a router's <c>Baton:Metrics</c> offers, as options.</summary>
    public sealed class MetricsOptionGroup
    {
        public Option<string?> Listen { get; } = new("--metrics-listen") { Description = "Serve Prometheus metrics on GET /metrics at this address:port (its own listener; off by default)" };
        public Option<string?> OtlpEndpoint { get; } = new("--otlp-endpoint") { Description = "Push metrics by OTLP to this collector URL, e.g. http://collector:4317 (off by default)" };
        public Option<string> OtlpProtocol { get; } = new("--otlp-protocol") { Description = "OTLP transport: grpc (default) or http/protobuf", DefaultValueFactory = _ => "grpc" };

        public IEnumerable<Option> All => [Listen, OtlpEndpoint, OtlpProtocol];

        public MetricsOptions Read(ParseResult parse)
        {
            System.Net.IPEndPoint? listen = null;
            if (parse.GetValue(Listen) is { } l && (!System.Net.IPEndPoint.TryParse(l, out listen) || listen.Port == 0))
                throw new ArgumentException($"--metrics-listen: '{l}' is not address:port");
            Uri? otlp = null;
            if (parse.GetValue(OtlpEndpoint) is { } o && (!Uri.TryCreate(o, UriKind.Absolute, out otlp) || otlp.Scheme is not ("http" or "https")))
                throw new ArgumentException($"--otlp-endpoint: '{o}' is not an http:// or https:// URL");
            var protocol = MetricsOptions.ParseProtocol(parse.GetValue(OtlpProtocol))
                ?? throw new ArgumentException($"--otlp-protocol: '{parse.GetValue(OtlpProtocol)}' is not grpc or http/protobuf");
            return new MetricsOptions { Listen = listen, OtlpEndpoint = otlp, OtlpProtocol = protocol };
        }
    }

    public static ILoggerFactory Loggers(LogLevel level) => LoggerFactory.Create(b => b
        .SetMinimumLevel(level)
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.ColorBehavior = LoggerColorBehavior.Disabled;
        }));

    /// <summary>A token cancelled by Ctrl-C or SIGTERM.</summary>
    /// <summary>SIGUSR2 as .NET takes a raw signal number (Linux: 12).</summary>
    public static readonly PosixSignal SIGUSR2 = (PosixSignal)12;

    public static CancellationTokenSource StopSignal(out IDisposable registrations)
    {
        var cts = new CancellationTokenSource();
        var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
        var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); });
        registrations = new Both(term, intr);
        return cts;
    }

    /// <summary>Runs <paramref name="body"/>; expected failures become one line on stderr and exit code 2.</summary>
    public static Task<int> RunAsync(Func<Task> body) => RunAsync(async () =>
    {
        await body();
        return 0;
    });

    /// <summary>Runs a command whose body decides its exit code; a known failure is one line and exit code 2.</summary>
    public static async Task<int> RunAsync(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e) when (e is MissingPrivilegeException or ConfigException or SteeringException or ArgumentException
                                      or System.Net.Sockets.SocketException or ControlProtocolException or Baton.Lab.LabInUseException
                                      or Baton.Operations.AdminCallException)
        {
            Console.Error.WriteLine($"baton: {e.Message}");
            return 2;
        }
    }

    public static PhysicalAddress MacFor(System.Net.IPAddress address, string? interfaceName)
    {
        try
        {
            return Baton.Modes.Handoff.Agent.AgentOptions.MacFor(address, interfaceName);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(interfaceName is not null ? $"--interface: {e.Message}" : $"--listen: {e.Message}; give --interface");
        }
    }

    /// <summary>
    /// On a single CPU (a router given a core of its own, as bench/compare.sh runs it), the thread
    /// pool's idle workers stop spinning before they sleep. Their spin is sched_yield calls that
    /// switch to the process's other threads and back: 35% of the router's core in `perf`. With it
    /// off, `bench/compare.sh` handoff, router pinned, 2 alternating rounds: router core per request
    /// 1 KiB 365/373 → 228/247 µs and 16 KiB 473/441 → 259/329 µs at 4 connections, 1 KiB 305/238 →
    /// 175/166 µs and 1 MiB 1327/1309 → 862/853 µs at 32, latency no worse. With two CPUs shared by
    /// everything the spin pays at low concurrency (bench/run.sh, 4 connections: router wall time per
    /// cycle 644 → 757/730 µs without it), so it stays there. The pool reads the setting when it
    /// starts its first worker; DOTNET_ (or COMPlus_) ThreadPool_UnfairSemaphoreSpinLimit still decides when set.
    /// </summary>
    public static void NoPoolSpinOnOneCpu()
    {
        if (Environment.ProcessorCount == 1 && Environment.GetEnvironmentVariable("DOTNET_ThreadPool_UnfairSemaphoreSpinLimit") is null
            && Environment.GetEnvironmentVariable("COMPlus_ThreadPool_UnfairSemaphoreSpinLimit") is null)
            AppContext.SetData("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit", 0);
    }

    /// <summary>
    /// The router runs its sockets' continuations on .NET's socket event threads (one per CPU in this
    /// mode) instead of handing each one to the thread pool: a relayed 1 KiB request crossed from the
    /// event thread to a pool thread at every receive, a wake-up and a context switch each. The router
    /// runs no application code, and nothing on its socket paths blocks (repair calls and map updates
    /// take microseconds; the hold queue and link waits have threads of their own), which is what
    /// this mode needs. Agents and workers run applications, so they keep the default. The runtime
    /// reads the variable when the first socket operation starts its event loop, so this runs before
    /// anything opens a socket; a value the operator set (0 turns it off) is left as it is.
    /// </summary>
    public static void InlineSocketCompletions()
    {
        if (Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null)
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
    }

    internal const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>The diagnostics option that writes when this process's connection copies went live and were dumped.</summary>
    public static Option<string?> OwnershipTraceOption() => new("--ownership-trace")
    {
        Description = "Diagnostics: write when each connection copy here went live and was dumped (wall-clock ticks) to this file, to check captures against",
    };

    /// <summary>Starts the ownership trace when a file is given; disposing stops it.</summary>
    public static IDisposable? StartOwnershipTrace(string? file)
    {
        if (file is null) return null;
        Baton.Modes.Handoff.Repair.OwnershipTrace.Start(file);
        return new Stopping(Baton.Modes.Handoff.Repair.OwnershipTrace.Stop);
    }

    private sealed class Stopping(Action stop) : IDisposable
    {
        public void Dispose() => stop();
    }

    private sealed class Both(IDisposable a, IDisposable b) : IDisposable
    {
        public void Dispose() { a.Dispose(); b.Dispose(); }
    }
}
