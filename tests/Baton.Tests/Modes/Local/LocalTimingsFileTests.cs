using System.Globalization;
using Baton.Lab;
using Baton.Tests.Support;
using Baton.Modes.Local.Router;

namespace Baton.Tests.Modes.Local;

/// <summary>
/// `baton router --timings FILE` with local clusters only: at stop the file holds one CSV line per
/// local cycle that came back (bench/Baton.LocalBench reads it), on the clock the router shares
/// with its workers.
/// </summary>
public sealed class LocalTimingsFileTests
{
    [Fact]
    public async Task The_router_writes_one_line_per_local_cycle_and_the_steps_add_up()
    {
        string file = Path.Combine(Path.GetTempPath(), $"baton-timings-{Guid.NewGuid():N}.csv");
        var lab = await LoopbackLab.StartAsync(LoopbackMode.Local, routerArgs: ["--timings", file]).WaitAsync(TimeSpan.FromMinutes(2));
        try
        {
            var ports = new List<int>();
            using (var http = lab.CreateHttpClient(ports))
            {
                // Six local cycles on one keep-alive connection; the router-served request is no cycle.
                foreach (var path in new[] { "/be1/a", "/be2/b", "/router/c", "/be1/d", "/be3/e", "/be2/f", "/be1/g" })
                {
                    using var resp = await http.GetAsync(path).WaitAsync(LoopbackPair.HangGuard);
                    Assert.Equal(200, (int)resp.StatusCode);
                }
            }
            Assert.Single(ports);
            lab.Router.Stop(TimeSpan.FromSeconds(15)); // SIGTERM: the file is written on the way out
            Assert.Equal(0, lab.Router.ExitCode);

            var lines = File.ReadAllLines(file);
            Assert.Equal(LocalCycleTimings.CsvHeader, lines[0]);
            var columns = LocalCycleTimings.CsvHeader.Split(',');
            var rows = lines.Skip(1).Select(l => l.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToList();
            Assert.Equal(6, rows.Count);
            foreach (var r in rows)
            {
                Assert.Equal(columns.Length, r.Length);
                double Col(string name) => r[Array.IndexOf(columns, name)];
                // One clock for both processes: every step, across them too, runs forwards.
                Assert.All(r, v => Assert.True(v >= 0, $"negative step in {string.Join(',', r)}"));
                // Whole-cycle figures are sums of their parts (each rounded to 0.1 µs).
                Assert.Equal(Col("pass_total_us"), Col("pass_prepare_us") + Col("pass_worker_us"), 0.25);
                Assert.Equal(Col("round_trip_us"), Col("pass_total_us") + Col("ret_total_us"), 0.25);
                Assert.Equal(Col("cycle_us"), Col("pass_total_us") + Col("serve_us") + Col("ret_total_us"), 0.25);
                Assert.Equal(Col("ret_total_us"), Col("ret_link_us") + Col("ret_adopt_us") + Col("ret_wake_us"), 0.35);
            }
        }
        finally
        {
            await lab.DisposeAsync();
            File.Delete(file);
        }
    }
}
