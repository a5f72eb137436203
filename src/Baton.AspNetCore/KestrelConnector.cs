using System.Net;
using System.Net.Sockets;
using Baton.Interop;
using Baton.Modes.Relay;

namespace Baton.AspNetCore;

/// <summary>
/// The origin of a back-end whose application runs in this process: each transaction's request goes
/// to Kestrel over a new socketpair, one end ours, the other a Kestrel connection that names the
/// client (<see cref="BatonTransport.TryDeliver"/>). The forwarder's exchange then frames the
/// response, so Kestrel only ever sees one request per connection: its keep-alive loop meets the
/// end of input, never the client's next request, and it never touches the client's socket, so its
/// close sends nothing to the client.
/// </summary>
internal sealed class KestrelConnector : OriginConnector
{
    private readonly BatonTransport transport;

    public KestrelConnector(BatonTransport transport)
    {
        this.transport = transport;
        transport.AcceptingChanged += OnAvailabilityChanged;
    }

    public override string Description => "Kestrel in this process";

    public override string Authority => "localhost";

    // Each connection carries its own client's address to Kestrel: it is not for another client.
    public override bool SharedAcrossClients => false;

    public override ValueTask<Socket> ConnectAsync(IPEndPoint client, EndPoint? local, CancellationToken ct)
    {
        var (ours, kestrels) = Libc.StreamPair();
        if (transport.TryDeliver(kestrels, client, local)) return ValueTask.FromResult(ours);
        ours.Dispose();
        kestrels.Dispose();
        throw new SocketException((int)SocketError.ConnectionRefused);
    }

    public override ValueTask<string?> ProbeAsync(TimeSpan timeout, CancellationToken ct) =>
        ValueTask.FromResult(transport.IsAccepting ? null : "Kestrel is not serving handed-off connections (starting or stopping)");
}
