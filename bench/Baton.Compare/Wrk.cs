using System.Globalization;
using System.Text.RegularExpressions;

namespace Baton.Compare;

/// <summary>One wrk run's figures.</summary>
internal sealed record WrkResult(long Requests, double Seconds, double RequestsPerSecond, double P50Us, double P99Us, long Errors, string Raw);

/// <summary>Runs wrk in the client namespace and reads its report.</summary>
internal static partial class Wrk
{
    public static async Task<WrkResult> RunAsync(string clientNs, string url, int connections, TimeSpan duration, CancellationToken ct)
    {
        int threads = Math.Min(2, connections);
        using var p = Proc.Start(clientNs, "wrk", "wrk", $"-t{threads}", $"-c{connections}",
            $"-d{(int)Math.Ceiling(duration.TotalSeconds)}s", "--latency", "--timeout", "10s", url);
        await p.WaitForExitAsync(ct).ConfigureAwait(false);
        return Parse(p.Output);
    }

    public static WrkResult Parse(string output)
    {
        var total = TotalRx().Match(output);
        var rps = RpsRx().Match(output);
        if (!total.Success || !rps.Success) throw new InvalidOperationException($"wrk gave no result:\n{output}");
        long errors = 0;
        var sock = SocketErrorsRx().Match(output);
        if (sock.Success)
            for (int g = 1; g <= 4; g++) errors += long.Parse(sock.Groups[g].Value, CultureInfo.InvariantCulture);
        var non2xx = Non2xxRx().Match(output);
        if (non2xx.Success) errors += long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture);
        return new WrkResult(
            long.Parse(total.Groups[1].Value, CultureInfo.InvariantCulture),
            Duration(total.Groups[2].Value),
            double.Parse(rps.Groups[1].Value, CultureInfo.InvariantCulture),
            Percentile(output, "50%"), Percentile(output, "99%"), errors, output);
    }

    private static double Percentile(string output, string label)
    {
        var m = Regex.Match(output, @"^\s*" + Regex.Escape(label) + @"\s+([0-9.]+)(us|ms|s|m|h)\s*$", RegexOptions.Multiline);
        return m.Success ? Micros(m.Groups[1].Value, m.Groups[2].Value) : double.NaN;
    }

    private static double Duration(string s)
    {
        var m = Regex.Match(s, @"^([0-9.]+)(us|ms|s|m|h)$");
        return m.Success ? Micros(m.Groups[1].Value, m.Groups[2].Value) / 1e6 : double.NaN;
    }

    private static double Micros(string value, string unit) =>
        double.Parse(value, CultureInfo.InvariantCulture) * unit switch
        {
            "us" => 1,
            "ms" => 1e3,
            "s" => 1e6,
            "m" => 60e6,
            _ => 3600e6,
        };

    [GeneratedRegex(@"(\d+) requests in ([0-9.]+(?:us|ms|s|m|h)),")]
    private static partial Regex TotalRx();

    [GeneratedRegex(@"Requests/sec:\s+([0-9.]+)")]
    private static partial Regex RpsRx();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrorsRx();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex Non2xxRx();
}
