using Baton.Configuration;
using Baton.Routing;
using Microsoft.Extensions.Configuration;

namespace Baton.Modes.Relay;

/// <summary><c>relay</c>: a classic proxy to each destination's HTTP/1.1 origin, its <c>Address</c>.</summary>
public sealed class RelayKind : TransferMode
{
    /// <summary>The one instance.</summary>
    public static RelayKind Instance { get; } = new();

    private RelayKind() { }

    /// <inheritdoc />
    public override string Name => "relay";

    /// <inheritdoc />
    public override bool HasOrigin => true;

    internal override Destination? ReadDestination(IConfigurationSection d, ConfigReader r) =>
        r.HttpUrl(d, "Address", "relay destinations are HTTP/1.1 servers") is { } url ? new Destination(d.Key, Url: url) : null;

    internal override ITransferMode Start(ModeStart start) => new RelayMode(start.Options.Relay, start.Loggers);
}
