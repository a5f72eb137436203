using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Baton.Router;

/// <summary>
/// Accepts client connections on the router's address and runs each on its own task until it
/// ends; at stop, closes the listening socket first and gives the running connections a grace
/// period to finish (Kestrel's ConnectionDispatcher, in small).
/// </summary>
internal sealed class ConnectionListener(IPEndPoint listen, Func<Socket, CancellationToken, Task> run)
{
    /// <summary>How long stop waits for running connections once no new one is accepted.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(3);

    /// <summary>Binds <c>listen</c>; throws <see cref="SocketException"/> when the address is taken or not this host's.</summary>
    public Socket Bind()
    {
        var listener = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(listen);
            listener.Listen(1024);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Accepts on <paramref name="listener"/> (from <see cref="Bind"/>, owned from here on) until
    /// <paramref name="ct"/> is cancelled; then runs <paramref name="stopping"/> (if any) before it
    /// waits for the running connections.
    /// </summary>
    public async Task RunAsync(Socket listener, CancellationToken ct, Func<Task>? stopping = null)
    {
        var connections = new ConcurrentDictionary<Task, byte>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                Socket client;
                try { client = await listener.AcceptAsync(ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                client.NoDelay = true;
                var task = Task.Run(() => run(client, ct));
                connections[task] = 0;
                _ = task.ContinueWith(t => connections.TryRemove(t, out _), TaskScheduler.Default);
            }
        }
        finally
        {
            listener.Dispose();
            if (stopping is not null) await stopping().ConfigureAwait(false);
            try { await Task.WhenAll(connections.Keys).WaitAsync(StopGrace).ConfigureAwait(false); }
            catch (Exception) { } // each connection logs its own end; a slow one is left to its cancellation
        }
    }
}
