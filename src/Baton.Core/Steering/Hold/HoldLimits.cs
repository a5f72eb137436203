namespace Baton.Steering.Hold;

/// <summary>
/// Bounds of the hold queue. What does not fit is dropped and counted: the client retransmits it
/// after its RTO, exactly as without a hold queue, so a bound costs latency, never correctness.
/// </summary>
/// <param name="FramesPerConnection">Frames kept per frozen connection.</param>
/// <param name="BytesPerConnection">Bytes kept per frozen connection (frames as read, virtio header included).</param>
/// <param name="TotalFrames">Frames kept over all connections.</param>
/// <param name="TotalBytes">Bytes kept over all connections.</param>
/// <param name="MaxAge">
/// How long a connection's frames are kept: a freeze lasts ~0.1–3 ms here (bench/results/handoff.md),
/// and after 1 s the client has retransmitted them anyway, so older ones are only memory.
/// </param>
public sealed record HoldLimits(int FramesPerConnection, int BytesPerConnection, int TotalFrames, long TotalBytes, TimeSpan MaxAge)
{
    /// <summary>
    /// The router's bounds. Per connection: what the client may send while its connection is frozen
    /// is its receive window, which autotuning grows up to tcp_rmem's maximum (6 MiB by default);
    /// a fixed 256 KiB dropped part of uploads frozen mid-body (bench/soak.sh, 64 connections:
    /// overflows in every run), and the client resent it. So a connection may keep up to that
    /// maximum and 64 KiB (frames: one per KiB, at least 64). In all: 64 MiB and 65,536 frames, which
    /// bound the memory when many connections are in transit at once.
    /// </summary>
    public static HoldLimits Default { get; } = ForWindow(Modes.Handoff.Repair.ReceiveWindow.HostMaximum);

    /// <summary>The bounds for connections whose receive window is at most <paramref name="window"/> bytes.</summary>
    public static HoldLimits ForWindow(int window)
    {
        int bytes = Math.Max(256 * 1024, window + (64 << 10));
        return new(Math.Max(64, bytes / 1024), bytes, 65536, 64L * 1024 * 1024, TimeSpan.FromSeconds(1));
    }
}
