using System.Net;
using System.Net.Sockets;

namespace Baton.Modes.Relay;

/// <summary>
/// How a relay, or a back-end forwarding the transactions handed to it, opens a connection to its
/// origin: a TCP or Unix-socket address (<see cref="For(Uri)"/>), or an in-process server such as
/// Kestrel behind <c>UseBatonAgent</c>. What is sent over the connection is the same HTTP/1.1 for all.
/// </summary>
public abstract class OriginConnector
{
    /// <summary>The origin as logs and errors name it.</summary>
    public abstract string Description { get; }

    /// <summary><c>host[:port]</c>: the Host of a request that came without one (HTTP/1.0).</summary>
    public abstract string Authority { get; }

    /// <summary>
    /// Whether one connection may carry requests of different clients, and so be pooled. False when
    /// the connection itself tells the origin who its client is (an in-process server that is given
    /// the client's address with each connection).
    /// </summary>
    public virtual bool SharedAcrossClients => true;

    /// <summary>Opens a connection for a request of <paramref name="client"/>, who reached <paramref name="local"/>.</summary>
    /// <exception cref="SocketException">The origin refused or cannot be reached.</exception>
    public abstract ValueTask<Socket> ConnectAsync(IPEndPoint client, EndPoint? local, CancellationToken ct);

    /// <summary>Whether the origin takes connections now: null when it does, else why not.</summary>
    public abstract ValueTask<string?> ProbeAsync(TimeSpan timeout, CancellationToken ct);

    /// <summary>
    /// Raised by an origin that knows when it starts or stops taking connections (a server in this
    /// process), so that its health is probed at once instead of at the next periodic probe.
    /// </summary>
    public event Action? AvailabilityChanged;

    /// <summary>Raises <see cref="AvailabilityChanged"/>.</summary>
    protected void OnAvailabilityChanged() => AvailabilityChanged?.Invoke();

    /// <summary>
    /// A probe that opens a connection through <paramref name="connector"/>, sends
    /// <paramref name="greeting"/> when there is one, and closes it: null when that worked, else why not.
    /// </summary>
    protected static async ValueTask<string?> ProbeByConnectingAsync(OriginConnector connector, ReadOnlyMemory<byte> greeting, string description, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            using var probe = await connector.ConnectAsync(new IPEndPoint(IPAddress.Loopback, 0), null, deadline.Token).ConfigureAwait(false);
            if (!greeting.IsEmpty) await probe.SendAsync(greeting, SocketFlags.None, deadline.Token).ConfigureAwait(false);
            return null;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return $"origin {description} did not accept a connection within {timeout.TotalSeconds:0.#} s";
        }
        catch (SocketException e)
        {
            return $"origin {description}: {e.Message}";
        }
    }

    /// <summary>
    /// The connector for an origin given as <c>http://host:port/</c> (a path is ignored) or
    /// <c>unix:/path/to/socket</c>.
    /// </summary>
    /// <exception cref="ArgumentException">Neither form (https to origins is not supported).</exception>
    public static OriginConnector For(Uri origin)
    {
        if (origin.IsAbsoluteUri && origin.Scheme == Uri.UriSchemeHttp)
        {
            EndPoint endpoint = IPAddress.TryParse(origin.DnsSafeHost, out var ip)
                ? new IPEndPoint(ip, origin.Port)
                : new DnsEndPoint(origin.DnsSafeHost, origin.Port);
            return new SocketOriginConnector(endpoint, origin.ToString(), origin.IsDefaultPort ? origin.Host : $"{origin.Host}:{origin.Port}");
        }
        if (origin.IsAbsoluteUri && origin.Scheme == "unix" && origin.AbsolutePath.Length > 1)
            return new SocketOriginConnector(new UnixDomainSocketEndPoint(origin.AbsolutePath), origin.ToString(), "localhost");
        throw new ArgumentException(
            $"origin '{origin}' must be http://host:port or unix:/path/to/socket (https to origins is not supported)", nameof(origin));
    }
}

/// <summary>An origin at a socket address: TCP (an address or a name) or a Unix socket's path.</summary>
internal sealed class SocketOriginConnector(EndPoint endpoint, string description, string authority) : OriginConnector
{
    public override string Description => description;

    public override string Authority => authority;

    public override async ValueTask<Socket> ConnectAsync(IPEndPoint client, EndPoint? local, CancellationToken ct)
    {
        var socket = endpoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, ct).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public override ValueTask<string?> ProbeAsync(TimeSpan timeout, CancellationToken ct) => ProbeByConnectingAsync(this, default, description, timeout, ct);
}
