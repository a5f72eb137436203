namespace Baton.Bench;

/// <summary>Nearest-rank percentiles of sorted arrays (shared with Baton.LocalBench).</summary>
internal static class Stats
{
    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    public static double Median(double[] sorted) => Percentile(sorted, 0.5);

    public static double P99(double[] sorted) => Percentile(sorted, 0.99);
}
