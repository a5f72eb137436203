using System.Net.Sockets;
using Baton.Modes.Handoff.Protocol;
using Microsoft.Extensions.Logging;
using Baton.Modes.Handoff.Repair;

namespace Baton.Modes.Handoff.Agent;

/// <summary>
/// The back-end side: accepts the router's control link, restores the connections handed to it,
/// runs the application on them and gives them back after each transaction.
/// </summary>
public sealed class AgentHost(AgentOptions options, ILoggerFactory loggers)
{
    private readonly ILogger _log = loggers.CreateLogger("Baton.Agent");
    private readonly HeldConnections _held = new();

    /// <summary>Runs until <paramref name="ct"/> is cancelled. Throws <see cref="MissingPrivilegeException"/> first thing without CAP_NET_ADMIN.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        TcpRepair.EnsurePrivilege();
        using var delivery = new DeliveryWatch(AgentConnection.AckWait, AgentConnection.NextRequestWait);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(options.ControlEndpoint);
        listener.Listen(16);
        AgentLog.Listening(_log, options.Name, options.ControlEndpoint);
        using var reg = ct.Register(listener.Dispose);
        while (!ct.IsCancellationRequested)
        {
            Socket peer;
            try { peer = await listener.AcceptAsync(ct).ConfigureAwait(false); }
            catch (Exception) when (ct.IsCancellationRequested) { break; }
            peer.NoDelay = true;
            _ = Task.Run(() => ServeLinkAsync(peer, delivery, ct), CancellationToken.None);
        }
    }

    private async Task ServeLinkAsync(Socket peer, DeliveryWatch delivery, CancellationToken ct)
    {
        var remote = peer.RemoteEndPoint;
        ControlLink link;
        try
        {
            link = await ControlLink.EstablishAsync(new NetworkStream(peer, ownsSocket: true), options.Key, isRouter: false, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (Faults.IsLinkFailure(e))
        {
            AgentLog.LinkRefused(_log, remote, e.Message);
            peer.Dispose();
            return;
        }
        var session = new AgentLinkSession(link, peer, options, delivery, _log, _held, ct);
        AgentLog.RouterConnected(_log, remote);
        try
        {
            await session.RunAsync(ct).ConfigureAwait(false);
        }
        catch (ControlProtocolException e)
        {
            AgentLog.MessageRefused(_log, remote, e.Message);
        }
        catch (Exception e) when (Faults.IsConnectionEnded(e))
        {
            AgentLog.LinkClosed(_log, remote, e.Message);
        }
        finally
        {
            session.Abandon();
            await link.DisposeAsync().ConfigureAwait(false);
        }
    }
}
