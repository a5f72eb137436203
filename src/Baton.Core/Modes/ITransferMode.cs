using Baton.Routing;

namespace Baton.Modes;

/// <summary>
/// One way of moving a connection to a destination, as the router runs it: what it starts
/// router-wide (steering, a worker socket) lives from its start to its disposal, and it makes each
/// destination's <see cref="ITransferTarget"/>. The router registers each mode in one line
/// (<see cref="ModeCatalog"/>) and otherwise never names one.
/// </summary>
public interface ITransferMode : IAsyncDisposable
{
    /// <summary>The target through which the router reaches <paramref name="destination"/> of <paramref name="cluster"/>.</summary>
    ITransferTarget CreateTarget(Cluster cluster, Destination destination);

    /// <summary>Per-cycle timings collected since the start (<c>Baton:TimingsFile</c>), or null when this mode keeps none.</summary>
    ModeTimings? Timings => null;
}

/// <summary>A mode's per-cycle timings as CSV: its header and one row per cycle.</summary>
public sealed record ModeTimings(string Header, Func<IEnumerable<string>> Rows);
