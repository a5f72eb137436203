namespace Baton.Modes.Adaptive;

/// <summary>
/// How an <c>adaptive</c> cluster chooses between relaying a request and handing the connection off:
/// requests whose response is expected to be at least <paramref name="HandoffAbove"/> bytes are
/// handed off, all others relayed.
/// </summary>
/// <param name="HandoffAbove">The response size (head and body, bytes) from which hand-off is used.</param>
public sealed record AdaptiveOptions(long HandoffAbove)
{
    /// <summary>
    /// 128 KiB. bench/compare.sh (docs/benchmarks/compare.md, 2026-11-28) measured relay's router
    /// CPU at about 50–65 µs plus 1.55 µs per KiB, and a hand-off with its return at a fixed
    /// 190–350 µs (nftables steering): the lines cross between about 95 KiB (32 connections) and
    /// 185 KiB (4 connections).
    /// </summary>
    public const long DefaultHandoffAbove = 128 * 1024;

    /// <summary>The defaults.</summary>
    public static AdaptiveOptions Default { get; } = new(DefaultHandoffAbove);
}
