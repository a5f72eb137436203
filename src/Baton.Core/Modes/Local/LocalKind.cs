using Baton.Configuration;
using Baton.Modes.Local.Router;
using Baton.Routing;
using Microsoft.Extensions.Configuration;

namespace Baton.Modes.Local;

/// <summary>
/// <c>local</c>: the socket's descriptor moves to a worker process on the router's host
/// (SCM_RIGHTS). A destination is the name a worker registers under: it has no address.
/// </summary>
public sealed class LocalKind : TransferMode
{
    /// <summary>The one instance.</summary>
    public static LocalKind Instance { get; } = new();

    private LocalKind() { }

    /// <inheritdoc />
    public override string Name => "local";

    /// <inheritdoc />
    public override NodeNeeds Needs => NodeNeeds.WorkerSocket;

    /// <inheritdoc />
    public override string OwnHealth => "worker registration";

    /// <inheritdoc />
    public override string StartsOnlyWithTheRouter => "the router started without a worker socket";

    internal override Destination? ReadDestination(IConfigurationSection d, ConfigReader r) => new(d.Key);

    internal override ITransferMode Start(ModeStart start) => LocalMode.Start(start.Options, start.Loggers);
}
