using Baton.Lab;
using Baton.Tests.Support;

namespace Baton.Tests.Lab;

/// <summary>
/// The loopback lab as `baton demo --mode local|relay` uses it: real router and back-end processes
/// on 127.0.0.1, no root. One test body for both modes.
/// </summary>
public sealed class LoopbackLabTests
{
    [Theory]
    [InlineData(LoopbackMode.Local)]
    [InlineData(LoopbackMode.Relay)]
    public async Task One_keep_alive_connection_is_served_by_every_backend_and_the_router(LoopbackMode mode)
    {
        var lab = await LoopbackLab.StartAsync(mode).WaitAsync(TimeSpan.FromMinutes(2));
        var pids = lab.Backends.Values.Append(lab.Router).Select(p => p.Pid).ToList();
        try
        {
            var ports = new List<int>();
            using var http = lab.CreateHttpClient(ports);
            var served = new List<string>();
            foreach (var path in new[] { "/be1/a", "/be2/bytes/100000", "/router/b", "/be3/c", "/any/page" })
            {
                using var resp = await http.GetAsync(path).WaitAsync(LoopbackPair.HangGuard);
                var body = await resp.Content.ReadAsByteArrayAsync();
                Assert.Equal(200, (int)resp.StatusCode);
                var host = resp.Headers.GetValues("Baton-Host").Single();
                served.Add(host);
                // Only a passed socket has a transfer time; a relayed request never left the router.
                Assert.Equal(mode == LoopbackMode.Local && host != "router", resp.Headers.Contains("Baton-Handoff-Us"));
                if (path.Contains("/bytes/")) Assert.Equal(100000, body.Length);
            }
            Assert.Equal(["be1", "be2", "router", "be3"], served.Take(4));
            Assert.Contains(served[4], LoopbackLab.BackendNames);
            Assert.Single(ports);
        }
        finally
        {
            await lab.DisposeAsync();
        }
        // Stopped and reaped: their /proc entries are gone.
        Assert.All(pids, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"pid {pid} still runs"));
        Assert.False(Directory.Exists(lab.Directory));
    }
}
