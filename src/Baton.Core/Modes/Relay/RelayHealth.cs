namespace Baton.Modes.Relay;

/// <summary>
/// Passive health from connect results only (a slow or erroring application is not a dead origin):
/// after <see cref="RelayOptions.FailuresBeforeUnhealthy"/> consecutive connect failures the
/// destination is unhealthy for <see cref="RelayOptions.UnhealthyCooldown"/>. After the cooldown it
/// is half-open: reported healthy, so the balancer sends requests again; the first connect decides —
/// a success closes it (counter reset), a failure opens it for another cooldown.
/// </summary>
internal sealed class RelayHealth(RelayOptions options)
{
    private int _failures;
    private long _unhealthyUntil; // TimeProvider timestamp

    public bool IsHealthy =>
        Volatile.Read(ref _failures) < options.FailuresBeforeUnhealthy
        || options.Time.GetTimestamp() >= Volatile.Read(ref _unhealthyUntil);

    public void ConnectSucceeded() => Volatile.Write(ref _failures, 0);

    /// <summary>Counts a failed connect; true when it (re)opened the circuit.</summary>
    public bool ConnectFailed()
    {
        if (Interlocked.Increment(ref _failures) < options.FailuresBeforeUnhealthy) return false;
        var t = options.Time;
        long until = t.GetTimestamp() + (long)(options.UnhealthyCooldown.TotalSeconds * t.TimestampFrequency);
        Volatile.Write(ref _unhealthyUntil, until);
        return true;
    }
}
