using Baton.Configuration;
using Baton.Modes.Handoff.Router;
using Baton.Routing;
using Microsoft.Extensions.Configuration;

namespace Baton.Modes.Handoff;

/// <summary>
/// <c>handoff</c>: the live TCP connection moves to the destination's host (TCP_REPAIR and
/// steering). A destination's <c>Address</c> is its agent's control endpoint.
/// </summary>
public sealed class HandoffKind : TransferMode
{
    /// <summary>The one instance.</summary>
    public static HandoffKind Instance { get; } = new();

    private HandoffKind() { }

    /// <inheritdoc />
    public override string Name => "handoff";

    /// <inheritdoc />
    public override NodeNeeds Needs => NodeNeeds.AgentLinks;

    /// <inheritdoc />
    public override string OwnHealth => "agent control link";

    /// <inheritdoc />
    public override string StartsOnlyWithTheRouter => "the router started without steering";

    internal override Destination? ReadDestination(IConfigurationSection d, ConfigReader r) =>
        r.Endpoint(d, "Address") is { } agent ? new Destination(d.Key, ControlEndpoint: agent) : null;

    internal override ITransferMode Start(ModeStart start) => HandoffMode.Start(start.Options, start.Log, start.Stopping, start.Adopter);
}
