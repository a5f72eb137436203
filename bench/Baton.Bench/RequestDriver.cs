using System.Diagnostics;

namespace Baton.Bench;

/// <summary>Drives sequential GETs over raw keep-alive connections and checks who served each one.</summary>
internal static class RequestDriver
{
    /// <summary>
    /// Sends <paramref name="total"/> requests spread over the connections, each connection sequential;
    /// returns latencies in µs. A request must be answered 200 by the host its path's first segment names.
    /// </summary>
    public static async Task<double[]> DriveAsync(List<RawClient> clients, int total, Func<int, int, string> path, CancellationToken ct)
    {
        var tasks = new Task<double[]>[clients.Count];
        for (int c = 0; c < clients.Count; c++)
        {
            int conn = c;
            int count = total / clients.Count + (c < total % clients.Count ? 1 : 0);
            tasks[c] = Task.Run(async () =>
            {
                var latency = new double[count];
                for (int i = 0; i < count; i++)
                {
                    string p = path(conn, i);
                    long t0 = Stopwatch.GetTimestamp();
                    var r = await clients[conn].GetAsync(p, ct).ConfigureAwait(false);
                    latency[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                    if (r.Status != 200)
                        throw new InvalidOperationException($"GET {p} on connection {conn} answered {r.Status}");
                    string expected = p.Split('/')[1];
                    if (!string.Equals(r.Host, expected, StringComparison.Ordinal))
                        throw new InvalidOperationException($"GET {p} on connection {conn} was served by '{r.Host}', expected '{expected}'");
                }
                return latency;
            });
        }
        var all = await Task.WhenAll(tasks).ConfigureAwait(false);
        return [.. all.SelectMany(x => x)];
    }
}
