using Baton.Modes.Adaptive;
using Baton.Modes.Handoff;
using Baton.Modes.Local;
using Baton.Modes.Relay;

namespace Baton.Modes;

/// <summary>
/// Every transfer mode Baton has: adding one is its folder and a line here. In this order modes
/// start, and their timings claim <c>Baton:TimingsFile</c> (the first) or go next to it.
/// </summary>
public static class ModeCatalog
{
    /// <summary>The modes, in start order.</summary>
    public static IReadOnlyList<TransferMode> All { get; } =
    [
        HandoffKind.Instance,
        LocalKind.Instance,
        RelayKind.Instance,
        AdaptiveKind.Instance,
        Baton.Router.RouterKind.Instance,
    ];

    /// <summary>The mode a cluster's <c>Transfer</c> names (any case), or null.</summary>
    public static TransferMode? Named(string name) =>
        All.FirstOrDefault(m => m.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The mode of a cluster without a <c>Transfer</c> key.</summary>
    public static TransferMode Default => HandoffKind.Instance;
}
