using Baton.Configuration;
using Baton.Modes.Handoff.Router;
using Baton.Modes.Relay;
using Baton.Routing;

namespace Baton.Modes.Adaptive;

/// <summary>Adaptive: relay or hand-off per request, on top of the two modes it is made of.</summary>
internal sealed class AdaptiveMode(HandoffMode handoff, RelayMode relay) : ITransferMode
{
    // One table for the whole router: a URL's response size does not depend on who serves it.
    private readonly ResponseSizeHints _sizeHints = new();

    // A destination listed by several adaptive clusters takes the first one's threshold (a name is
    // one back-end, reached one way: RouterConfig checks the addresses agree).
    public ITransferTarget CreateTarget(Cluster cluster, Destination destination) =>
        new AdaptiveTarget(relay.CreateRelay(cluster, destination), handoff.CreateHandoff(destination), _sizeHints, cluster.ModeSettings as AdaptiveOptions ?? AdaptiveOptions.Default);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
