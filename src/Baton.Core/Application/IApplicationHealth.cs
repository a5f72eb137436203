namespace Baton.Application;

/// <summary>
/// An application that knows whether it can serve right now: a forwarder whose origin stopped
/// answering cannot. The agent tells the router at once and at each change, and the router picks no
/// destination whose application cannot serve, rather than leave it to answer 502.
/// </summary>
public interface IApplicationHealth
{
    /// <summary>Whether it can serve now, and if not, why (for the router's log).</summary>
    (bool CanServe, string Reason) Health { get; }

    /// <summary>Raised after <see cref="Health"/> changed, on any thread.</summary>
    event Action? HealthChanged;
}
