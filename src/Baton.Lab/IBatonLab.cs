using System.Net;

namespace Baton.Lab;

/// <summary>
/// A running Baton cluster that a client can drive: a router process and back-end processes, in
/// network namespaces (<see cref="BatonLab"/>) or on this host's loopback (<see cref="LoopbackLab"/>).
/// Dispose stops exactly the processes it started.
/// </summary>
public interface IBatonLab : IAsyncDisposable
{
    /// <summary>Where clients reach the router.</summary>
    IPEndPoint Service { get; }

    /// <summary>The router process.</summary>
    BatonProcess Router { get; }

    /// <summary>Back-end processes (agents, workers or origins) by name.</summary>
    IReadOnlyDictionary<string, BatonProcess> Backends { get; }

    /// <summary>A new client socket (in the client's network stack) connected to <see cref="Service"/>.</summary>
    Task<System.Net.Sockets.Socket> ConnectClientAsync(CancellationToken ct = default);

    /// <summary>
    /// An ordinary HttpClient with at most one connection open at a time, so sequential requests
    /// share one keep-alive connection. Every connection's local port is added to <paramref name="localPorts"/>.
    /// </summary>
    HttpClient CreateHttpClient(List<int> localPorts);

    /// <summary>
    /// A TCP counter of /proc/net/snmp (e.g. <c>EstabResets</c>) as the client's network stack sees
    /// it, or null when the client shares this host's stack, where every other connection counts too.
    /// </summary>
    long? ClientTcpCounter(string counter);
}

/// <summary>The HttpClient both labs hand out (<see cref="IBatonLab.CreateHttpClient"/>): connections through the lab's own <c>ConnectClientAsync</c>.</summary>
internal static class LabHttpClient
{
    public static HttpClient Create(IBatonLab lab, List<int> localPorts)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            UseProxy = false,
            ConnectCallback = async (ctx, ct) =>
            {
                var s = await lab.ConnectClientAsync(ct).ConfigureAwait(false);
                lock (localPorts) localPorts.Add(((IPEndPoint)s.LocalEndPoint!).Port);
                return new System.Net.Sockets.NetworkStream(s, ownsSocket: true);
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri($"http://{lab.Service}/"), Timeout = TimeSpan.FromSeconds(30) };
    }
}
