using System.Net;

namespace Baton.Steering.Hold;

/// <summary>What <see cref="HoldQueue.Add"/> did with a frame.</summary>
public enum HoldResult
{
    /// <summary>Kept, after the connection's earlier frames.</summary>
    Held,

    /// <summary>Dropped: the connection is not being held (it landed, ended, or was never frozen).</summary>
    NotHeld,

    /// <summary>Dropped: a bound of <see cref="HoldLimits"/> would be exceeded.</summary>
    Overflow,
}

/// <summary>
/// Frames of frozen connections, per client (address, port), in arrival order, within
/// <see cref="HoldLimits"/>. Only connections opened with <see cref="Open"/> are held. Not
/// thread-safe: the owner serializes calls (the capture reads the socket and takes a connection's
/// frames under one lock, so no frame read is ever left behind by a take).
/// </summary>
public sealed class HoldQueue(HoldLimits limits)
{
    private sealed class Held(long openedAt)
    {
        public long OpenedAt = openedAt;
        public readonly List<byte[]> Frames = new();
        // Each frame's place among all frames read for this hold (kept, over a bound, or expired).
        public readonly List<int> Ordinals = new();
        public int Captured;
        public long Bytes;

        public void Clear()
        {
            Frames.Clear();
            Ordinals.Clear();
            Bytes = 0;
        }
    }

    private readonly Dictionary<IPEndPoint, Held> _held = new();

    /// <summary>The bounds in force.</summary>
    public HoldLimits Limits => limits;

    /// <summary>Connections being held.</summary>
    public int Connections => _held.Count;

    /// <summary>Frames kept over all connections.</summary>
    public int Frames { get; private set; }

    /// <summary>Bytes kept over all connections.</summary>
    public long Bytes { get; private set; }

    /// <summary>Starts holding <paramref name="client"/>'s frames (<paramref name="now"/>: a Stopwatch timestamp); holding already, it changes nothing.</summary>
    public void Open(IPEndPoint client, long now) => _held.TryAdd(client, new Held(now));

    /// <summary>Whether <paramref name="client"/>'s frames are being held.</summary>
    public bool IsHeld(IPEndPoint client) => _held.ContainsKey(client);

    /// <summary>Keeps <paramref name="frame"/> (the queue owns it from now on) after the client's earlier ones, if it is held and within bounds.</summary>
    public HoldResult Add(IPEndPoint client, byte[] frame)
    {
        if (!_held.TryGetValue(client, out var h)) return HoldResult.NotHeld;
        int ordinal = h.Captured++;
        if (h.Frames.Count >= limits.FramesPerConnection || h.Bytes + frame.Length > limits.BytesPerConnection
            || Frames >= limits.TotalFrames || Bytes + frame.Length > limits.TotalBytes)
            return HoldResult.Overflow;
        h.Frames.Add(frame);
        h.Ordinals.Add(ordinal);
        h.Bytes += frame.Length;
        Frames++;
        Bytes += frame.Length;
        return HoldResult.Held;
    }

    /// <summary>Stops holding <paramref name="client"/> and returns its frames in arrival order (empty when none or not held).</summary>
    public IReadOnlyList<byte[]> Take(IPEndPoint client)
    {
        if (!_held.Remove(client, out var h)) return [];
        Frames -= h.Frames.Count;
        Bytes -= h.Bytes;
        return h.Frames;
    }

    /// <summary>
    /// Returns <paramref name="client"/>'s frames so far, in arrival order, and goes on holding it
    /// (empty when none or not held).
    /// </summary>
    public IReadOnlyList<byte[]> TakeSoFar(IPEndPoint client)
    {
        if (!_held.TryGetValue(client, out var h) || h.Frames.Count == 0) return [];
        var frames = h.Frames.ToArray();
        Frames -= h.Frames.Count;
        Bytes -= h.Bytes;
        h.Clear();
        return frames;
    }

    /// <summary>Frames read for <paramref name="client"/> in this hold so far, kept or not (0 when not held).</summary>
    public int Captured(IPEndPoint client) => _held.TryGetValue(client, out var h) ? h.Captured : 0;

    /// <summary>
    /// Returns, in arrival order, <paramref name="client"/>'s frames among the first
    /// <paramref name="count"/> read in this hold that are still kept, and goes on holding it.
    /// </summary>
    public IReadOnlyList<byte[]> TakeUpTo(IPEndPoint client, int count)
    {
        if (!_held.TryGetValue(client, out var h)) return [];
        int n = 0;
        while (n < h.Ordinals.Count && h.Ordinals[n] < count) n++;
        if (n == 0) return [];
        var frames = h.Frames.GetRange(0, n);
        long bytes = 0;
        foreach (var f in frames) bytes += f.Length;
        h.Frames.RemoveRange(0, n);
        h.Ordinals.RemoveRange(0, n);
        h.Bytes -= bytes;
        Frames -= n;
        Bytes -= bytes;
        return frames;
    }

    /// <summary>Stops holding <paramref name="client"/> and discards its frames; returns how many there were.</summary>
    public int Drop(IPEndPoint client) => Take(client).Count;

    /// <summary>
    /// Discards the frames of connections held since before <paramref name="now"/> − MaxAge (a
    /// connection that never landed); returns how many frames went. They stay open: a late landing
    /// replays what arrived since.
    /// </summary>
    public int Expire(long now)
    {
        long maxTicks = (long)(limits.MaxAge.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        int dropped = 0;
        foreach (var h in _held.Values)
        {
            if (now - h.OpenedAt <= maxTicks) continue;
            dropped += h.Frames.Count;
            Frames -= h.Frames.Count;
            Bytes -= h.Bytes;
            h.Clear();
            h.OpenedAt = now;
        }
        return dropped;
    }
}
