using System.Net;
using System.Net.NetworkInformation;

namespace Baton.Steering;

/// <summary>
/// The routing node's per-connection packet steering. A client connection (client address and
/// port) is absent (packets reach this host's own stack), blocked (dropped while the connection
/// is frozen in transit) or forwarded at layer 2 to the back-end that owns it.
/// </summary>
public interface IFlowSteering : IDisposable
{
    /// <summary>Declares a back-end that connections can be forwarded to.</summary>
    void AddBackend(string name, PhysicalAddress mac);

    /// <summary>Drops the connection's packets until it is forwarded or cleared.</summary>
    void Block(IPEndPoint client);

    /// <summary>
    /// Freezes the connection as <see cref="Block"/> does, but where the steering has a hold queue
    /// its packets are kept and replayed, in order, when it is forwarded (to that back-end) or
    /// cleared (to this host): the client need not resend them after its RTO. Without a hold
    /// queue (nftables) this is <see cref="Block"/>.
    /// </summary>
    void Hold(IPEndPoint client) => Block(client);

    /// <summary>Sends the connection's packets to <paramref name="backend"/>.</summary>
    void Forward(IPEndPoint client, string backend);

    /// <summary>Lets the connection's packets reach this host again. Clearing an absent entry does nothing.</summary>
    void Clear(IPEndPoint client);

    /// <summary>How many connections currently have an entry.</summary>
    int Count { get; }

    /// <summary>
    /// Stops, leaving the entries of connections away at back-ends in force for the next run to take
    /// over; false where the steering cannot (then it is disposed as usual).
    /// </summary>
    bool Leave()
    {
        Dispose();
        return false;
    }
}

/// <summary>A steering change the kernel refused; the message carries libnftables' own words.</summary>
public sealed class SteeringException(string message) : Exception(message);
