using System.Net;
using System.Net.NetworkInformation;
using Baton.Modes.Handoff.Protocol;
using Baton.Http;
using Baton.Application;

namespace Baton.Modes.Handoff.Agent;

/// <summary>Settings of a back-end agent.</summary>
public sealed class AgentOptions
{
    /// <summary>The agent's name; the router's routes and the Baton-Host header use it.</summary>
    public required string Name { get; init; }

    /// <summary>Where the agent listens for the router's control link (its real address, not the VIP).</summary>
    public required IPEndPoint ControlEndpoint { get; init; }

    /// <summary>The cluster key shared with the router.</summary>
    public required ClusterKey Key { get; init; }

    /// <summary>This host's MAC on the router's segment: the router rewrites frames to it.</summary>
    public required PhysicalAddress Mac { get; init; }

    /// <summary>The application that serves handed-off transactions.</summary>
    public IBatonApplication Application { get; init; } = new BuiltInApplication();

    /// <summary>Limit on a request head.</summary>
    public int HeadLimit { get; init; } = RequestHeadParser.DefaultHeadLimit;

    /// <summary>How long to wait for the router's Freeze after asking it to take a connection back.</summary>
    public TimeSpan FreezeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Diagnostics: how long to wait before answering Ready to a hand-off and before dumping a
    /// connection on Freeze, which widens the window in which the router has it frozen (from ~0.1 ms
    /// to this) so that the router's hold queue can be tested and measured. Zero (the default) in
    /// production: every millisecond here is latency for the client.
    /// </summary>
    public TimeSpan FreezeDelay { get; init; } = TimeSpan.Zero;

    /// <summary>How long a response may take to leave the kernel before the connection is closed instead of returned.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The MAC the router must rewrite frames to: that of <paramref name="interfaceName"/>, or of
    /// the interface holding <paramref name="controlAddress"/> when none is named.
    /// </summary>
    /// <exception cref="ArgumentException">No such interface here.</exception>
    public static PhysicalAddress MacFor(IPAddress controlAddress, string? interfaceName)
    {
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (interfaceName is not null ? nic.Name == interfaceName
                : nic.GetIPProperties().UnicastAddresses.Any(u => u.Address.Equals(controlAddress)))
                return nic.GetPhysicalAddress();
        }
        throw new ArgumentException(interfaceName is not null
            ? $"no interface named '{interfaceName}' here"
            : $"no interface here holds {controlAddress}");
    }
}
