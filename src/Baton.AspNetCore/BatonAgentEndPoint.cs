using System.Net;

namespace Baton.AspNetCore;

/// <summary>
/// The endpoint Kestrel "listens" on for connections handed to this process by a Baton router. It
/// has no address of its own: only <see cref="BatonTransport"/> can bind it, and the connections it
/// yields are those the agent restored, each carrying its client's address.
/// </summary>
public sealed class BatonAgentEndPoint(string name) : EndPoint
{
    /// <summary>The back-end's name (what the router's configuration calls it).</summary>
    public string Name { get; } = name;

    /// <inheritdoc />
    public override string ToString() => $"baton-agent:{Name}";
}
