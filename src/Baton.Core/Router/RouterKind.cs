using Baton.Configuration;
using Baton.Modes;
using Baton.Routing;
using Microsoft.Extensions.Configuration;

namespace Baton.Router;

/// <summary><c>router</c>: the router answers such a cluster's requests itself, with its built-in application.</summary>
public sealed class RouterKind : TransferMode
{
    /// <summary>The one instance.</summary>
    public static RouterKind Instance { get; } = new();

    private RouterKind() { }

    /// <inheritdoc />
    public override string Name => "router";

    /// <inheritdoc />
    public override bool ServedByTheRouter => true;

    internal override Destination? ReadDestination(IConfigurationSection d, ConfigReader r) => new(d.Key);

    internal override ITransferMode Start(ModeStart start) =>
        throw new InvalidOperationException("the router serves router clusters itself: there is no mode to start");
}
