using System.Net;
using System.Net.Sockets;

namespace Baton.Lab;

/// <summary>
/// A TCP port on this host's loopback that leads into a lab namespace: each connection accepted
/// here is joined to a new one made inside <c>ns</c> to <c>target</c>, bytes copied both ways. How
/// a browser on this host reaches a listener on a namespace's own loopback (the demo's live view).
/// </summary>
public sealed class NamespaceForward : IDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();

    private NamespaceForward(Socket listener, string ns, IPEndPoint target)
    {
        _listener = listener;
        _ = AcceptAsync(ns, target);
    }

    /// <summary>Where this host reaches the target.</summary>
    public IPEndPoint Local => (IPEndPoint)_listener.LocalEndPoint!;

    /// <summary>
    /// Listens on 127.0.0.1:<paramref name="preferredPort"/>, or on a free port when that one is
    /// taken, and forwards to <paramref name="target"/> in namespace <paramref name="ns"/>.
    /// </summary>
    public static NamespaceForward Start(string ns, IPEndPoint target, int preferredPort)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            s.Bind(new IPEndPoint(IPAddress.Loopback, preferredPort));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        }
        s.Listen(64);
        return new NamespaceForward(s, ns, target);
    }

    private async Task AcceptAsync(string ns, IPEndPoint target)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            _ = JoinAsync(client, ns, target);
        }
    }

    private async Task JoinAsync(Socket client, string ns, IPEndPoint target)
    {
        using var inside = Netns.CreateTcpSocket(ns);
        using var c = new NetworkStream(client, ownsSocket: true);
        try
        {
            await inside.ConnectAsync(target, _stop.Token).ConfigureAwait(false);
            using var t = new NetworkStream(inside, ownsSocket: false);
            var up = CopyThenShutdownAsync(c, inside);
            await t.CopyToAsync(c, _stop.Token).ConfigureAwait(false);
            await up.ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException) { }
    }

    private async Task CopyThenShutdownAsync(NetworkStream from, Socket to)
    {
        using var t = new NetworkStream(to, ownsSocket: false);
        await from.CopyToAsync(t, _stop.Token).ConfigureAwait(false);
        to.Shutdown(SocketShutdown.Send);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
    }
}
