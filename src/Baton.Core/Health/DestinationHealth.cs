namespace Baton.Health;

/// <summary>What is known of a destination's health (YARP's three states).</summary>
public enum HealthState
{
    /// <summary>Not probed yet, or not probed at all: available under both policies.</summary>
    Unknown,
    /// <summary>The last probes succeeded.</summary>
    Healthy,
    /// <summary>Probes failed, the destination's link or worker is down, or it is passively deactivated.</summary>
    Unhealthy,
}

/// <summary>
/// One destination's health within one cluster: the active state driven by probe results with rise
/// and fall thresholds, and passive deactivation after failed transactions. Thread-safe: probes
/// come from the prober, transaction results from every connection, reads from every pick.
/// </summary>
/// <remarks>
/// Active: Unknown becomes Healthy on the first success and Unhealthy after <see cref="ActiveHealthCheckOptions.Fall"/>
/// failures in a row; Healthy becomes Unhealthy after Fall failures in a row; Unhealthy becomes Healthy
/// after <see cref="ActiveHealthCheckOptions.Rise"/> successes in a row.
/// Passive: after <see cref="PassiveHealthCheckOptions.Fall"/> failed transactions in a row the destination
/// is left out for the reactivation period; then it is half-open, like relay's connect health: the
/// first transaction decides (a success resets the count, a failure deactivates it again).
/// </remarks>
public sealed class DestinationHealth
{
    private readonly ActiveHealthCheckOptions _active;
    private readonly PassiveHealthCheckOptions _passive;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private int _state; // HealthState, written under _gate
    private int _run;   // consecutive probe results of one kind: > 0 successes, < 0 failures
    private int _passiveFailures;
    private long _deactivatedUntil; // TimeProvider timestamp; 0 = never deactivated

    /// <param name="name">The destination's name.</param>
    /// <param name="probeUri">The full probe URL (health address + path + query), or null when it cannot be probed.</param>
    /// <param name="active">Thresholds of active checks.</param>
    /// <param name="passive">Settings of passive deactivation.</param>
    /// <param name="time">The clock for the reactivation period.</param>
    public DestinationHealth(string name, Uri? probeUri, ActiveHealthCheckOptions active, PassiveHealthCheckOptions passive, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(active.Fall, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(active.Rise, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(passive.Fall, 1);
        Name = name;
        ProbeUri = probeUri;
        _active = active;
        _passive = passive;
        _time = time;
    }

    /// <summary>The destination's name.</summary>
    public string Name { get; }

    /// <summary>Where active probes go; null when the destination has no HTTP health address.</summary>
    public Uri? ProbeUri { get; }

    internal ActiveHealthCheckOptions ActiveOptions => _active;
    internal PassiveHealthCheckOptions PassiveOptions => _passive;

    /// <summary>The state from active probes (Unknown when not probed).</summary>
    public HealthState Active => (HealthState)Volatile.Read(ref _state);

    /// <summary>Whether failed transactions have taken the destination out for now.</summary>
    public bool IsDeactivated
    {
        get
        {
            long until = Volatile.Read(ref _deactivatedUntil);
            return until != 0 && _time.GetTimestamp() < until;
        }
    }

    /// <summary>
    /// The state the balancer goes by: Unhealthy when the transfer target cannot take a transaction
    /// (<paramref name="targetHealthy"/> false: link down, worker gone, relay connects failing) or the
    /// destination is passively deactivated; otherwise the active state.
    /// </summary>
    public HealthState Effective(bool targetHealthy) =>
        !targetHealthy || IsDeactivated ? HealthState.Unhealthy : Active;

    /// <summary>Counts one probe result; returns the new active state when it changed, else null.</summary>
    public HealthState? RecordProbe(bool success)
    {
        lock (_gate)
        {
            _run = success ? Math.Max(_run, 0) + 1 : Math.Min(_run, 0) - 1;
            var old = (HealthState)_state;
            var next = old switch
            {
                HealthState.Unknown when success => HealthState.Healthy,
                HealthState.Unhealthy when _run >= _active.Rise => HealthState.Healthy,
                HealthState.Unknown or HealthState.Healthy when -_run >= _active.Fall => HealthState.Unhealthy,
                _ => old,
            };
            if (next == old) return null;
            Volatile.Write(ref _state, (int)next);
            return next;
        }
    }

    /// <summary>Counts a transaction the destination did not serve; true when this deactivated it.</summary>
    public bool RecordFailure()
    {
        if (!_passive.Enabled) return false;
        if (Interlocked.Increment(ref _passiveFailures) < _passive.Fall) return false;
        var period = _passive.ReactivationPeriod ?? PassiveHealthCheckOptions.DefaultReactivationPeriod;
        long until = _time.GetTimestamp() + (long)(period.TotalSeconds * _time.TimestampFrequency);
        Volatile.Write(ref _deactivatedUntil, Math.Max(until, 1));
        return true;
    }

    /// <summary>Counts a transaction the destination served: the run of failures is over.</summary>
    public void RecordSuccess()
    {
        // Read first: the common case (no failures) must not write a shared cache line per request.
        if (Volatile.Read(ref _passiveFailures) != 0) Volatile.Write(ref _passiveFailures, 0);
    }

    /// <summary>Whether this state can be kept across a reload to <paramref name="other"/>'s settings.</summary>
    internal bool SameSettings(Uri? probeUri, ActiveHealthCheckOptions active, PassiveHealthCheckOptions passive) =>
        ProbeUri == probeUri && _active == active && _passive == passive;

    /// <inheritdoc />
    public override string ToString() => IsDeactivated ? $"{Name} (deactivated)" : $"{Name} ({Active})";
}
