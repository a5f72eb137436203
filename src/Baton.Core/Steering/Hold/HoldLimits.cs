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
    /// The router's bounds: a frozen keep-alive connection sees a request or two and their ACKs, so 64
    /// frames / 256 KiB cover a pipelining client's full receive window of requests; 8192 frames /
    /// 32 MiB in total bound the memory when thousands of connections are in transit at once.
    /// </summary>
    public static HoldLimits Default { get; } = new(64, 256 * 1024, 8192, 32L * 1024 * 1024, TimeSpan.FromSeconds(1));
}
