using Baton.Configuration;
using Baton.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Baton.Modes;

/// <summary>
/// A way of serving a cluster, as the configuration names it (a cluster's <c>Transfer</c>) and as
/// the router starts it: its name, how its destinations are configured, what the router node must
/// have for it, and the <see cref="ITransferMode"/> it starts. One sealed subclass in each mode's
/// folder, listed once in <see cref="ModeCatalog"/>: nothing else names a mode.
/// </summary>
public abstract class TransferMode
{
    /// <summary>The value of a cluster's <c>Transfer</c> key, lower case.</summary>
    public abstract string Name { get; }

    /// <summary>What the router node must be given for a cluster of this mode (Baton section keys).</summary>
    public virtual NodeNeeds Needs => NodeNeeds.None;

    /// <summary>Whether destinations are HTTP origins: a URL the router can relay to, and probe by default.</summary>
    public virtual bool HasOrigin => false;

    /// <summary>What tells this mode's destination health when active checks cannot probe it (no Health URL), or null.</summary>
    public virtual string? OwnHealth => null;

    /// <summary>Whether the router serves such a cluster itself: it has no destinations and starts nothing.</summary>
    public virtual bool ServedByTheRouter => false;

    /// <summary>Why the mode cannot start after the router did (a reload naming it first), or null when it can.</summary>
    public virtual string? StartsOnlyWithTheRouter => null;

    /// <summary>Cluster keys only this mode reads, with the error for a cluster of another mode that gives one.</summary>
    public virtual IReadOnlyList<(string Key, string OnlyHere)> OwnClusterKeys => [];

    /// <summary>One destination of a cluster of this mode, or null after recording its errors in <paramref name="r"/>.</summary>
    internal abstract Destination? ReadDestination(IConfigurationSection destination, ConfigReader r);

    /// <summary>The cluster's settings of this mode (<see cref="Cluster.ModeSettings"/>), recording errors in <paramref name="r"/>.</summary>
    internal virtual object? ReadClusterSettings(IConfigurationSection cluster, ConfigReader r) => null;

    /// <summary>Starts what the mode runs router-wide (steering, a worker socket), once, when a cluster first uses it.</summary>
    internal abstract ITransferMode Start(ModeStart start);

    /// <inheritdoc />
    public sealed override string ToString() => Name;
}

/// <summary>What the router node needs for a mode, each asked only when a cluster uses such a mode.</summary>
[Flags]
public enum NodeNeeds
{
    /// <summary>Nothing.</summary>
    None = 0,
    /// <summary>Baton:KeyFile, the key shared with the agents, and Baton:Interface, where packets are steered.</summary>
    AgentLinks = 1,
    /// <summary>Baton:WorkerSocket, where worker processes register.</summary>
    WorkerSocket = 2,
}

/// <summary>What a mode is started with: the router's options and logs, and the modes it is made of.</summary>
internal sealed class ModeStart(RouterOptions options, ILoggerFactory loggers, ILogger log, Func<TransferMode, ITransferMode> started,
    RouterStopping? stopping = null, IConnectionAdopter? adopter = null)
{
    public RouterOptions Options => options;

    /// <summary>How the router stops (a restart leaves connections away where they are).</summary>
    public RouterStopping Stopping { get; } = stopping ?? new RouterStopping();

    /// <summary>Who takes over connections an earlier run of the router left away; null: nobody (they are refused).</summary>
    public IConnectionAdopter? Adopter => adopter;

    public ILoggerFactory Loggers => loggers;

    public ILogger Log => log;

    /// <summary>The running instance of <paramref name="mode"/>, started now if it is not yet.</summary>
    public T Started<T>(TransferMode mode) where T : ITransferMode => (T)started(mode);
}
