using System.Net;
using System.Net.Sockets;
using System.Text;
using Baton.Health;
using Baton.Routing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Baton.Modes.Relay;

namespace Baton.Tests.Health;

/// <summary>The prober against a loopback HTTP server started here: rounds are driven by the test.</summary>
public sealed class ActiveHealthProberTests : IAsyncDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly HealthServer _server = new();
    private readonly ActiveHealthProber _prober;

    public ActiveHealthProberTests() => _prober = new ActiveHealthProber(_time, NullLogger.Instance);

    public async ValueTask DisposeAsync()
    {
        await _prober.DisposeAsync();
        _server.Dispose();
    }

    private ClusterHealth Cluster(int fall, int rise, TimeSpan? timeout = null, TimeSpan? interval = null)
    {
        var active = new ActiveHealthCheckOptions
        {
            Enabled = true,
            Path = "/healthz",
            Query = "?deep=1",
            Fall = fall,
            Rise = rise,
            Timeout = timeout ?? TimeSpan.FromSeconds(10),
            Interval = interval ?? TimeSpan.FromSeconds(15),
        };
        var cluster = new Cluster("origins", RelayKind.Instance,
            [new Destination("o1", Url: new Uri($"http://127.0.0.1:{_server.Port}/"))],
            HealthCheck: new HealthCheckOptions { Active = active });
        return ClusterHealth.For(cluster, null, _time);
    }

    [Fact]
    public async Task Healthy_then_unhealthy_after_Fall_failures_then_back_after_Rise_successes()
    {
        var cluster = Cluster(fall: 3, rise: 2);
        var o1 = cluster["o1"]!;

        await _prober.ProbeAsync(cluster);
        Assert.Equal(HealthState.Healthy, o1.Active);
        Assert.Equal("GET /healthz?deep=1 HTTP/1.1", _server.RequestLines.Single());
        Assert.Contains($"Host: 127.0.0.1:{_server.Port}", _server.LastHead);

        _server.Status = 503;
        await _prober.ProbeAsync(cluster);
        await _prober.ProbeAsync(cluster);
        Assert.Equal(HealthState.Healthy, o1.Active);
        await _prober.ProbeAsync(cluster);
        Assert.Equal(HealthState.Unhealthy, o1.Active);

        _server.Status = 204; // any 2xx
        await _prober.ProbeAsync(cluster);
        Assert.Equal(HealthState.Unhealthy, o1.Active);
        await _prober.ProbeAsync(cluster);
        Assert.Equal(HealthState.Healthy, o1.Active);
        Assert.Equal(6, _server.RequestLines.Count);
    }

    [Fact]
    public async Task A_refused_connection_is_a_failure()
    {
        var cluster = Cluster(fall: 1, rise: 1);
        _server.Dispose(); // nobody listens on the port any more

        await _prober.ProbeAsync(cluster);
        Assert.Equal(HealthState.Unhealthy, cluster["o1"]!.Active);
    }

    [Fact]
    public async Task No_status_line_within_Timeout_is_a_failure()
    {
        var cluster = Cluster(fall: 1, rise: 1, timeout: TimeSpan.FromSeconds(2));
        _server.Silent = true;

        var round = _prober.ProbeAsync(cluster);
        await _server.WaitForRequestsAsync(1);
        Assert.False(round.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(2));
        await round.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HealthState.Unhealthy, cluster["o1"]!.Active);
    }

    [Fact]
    public async Task Apply_probes_at_once_and_then_every_Interval()
    {
        var cluster = Cluster(fall: 1, rise: 1, interval: TimeSpan.FromSeconds(5));
        _prober.Apply([cluster]);
        await _server.WaitForRequestsAsync(1);
        while (cluster["o1"]!.Active != HealthState.Healthy) await Task.Delay(10);
        await Task.Delay(100); // the loop is now waiting for its interval on the fake clock

        _time.Advance(TimeSpan.FromSeconds(4));
        await Task.Delay(100);
        Assert.Single(_server.RequestLines);

        _time.Advance(TimeSpan.FromSeconds(1));
        await _server.WaitForRequestsAsync(2);

        _prober.Apply([]); // a reload without the cluster stops its loop
        _time.Advance(TimeSpan.FromSeconds(60));
        await Task.Delay(100);
        Assert.Equal(2, _server.RequestLines.Count);
    }

    /// <summary>A loopback HTTP server that answers every request with <see cref="Status"/>, or never.</summary>
    private sealed class HealthServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly List<string> _lines = [];

        public HealthServer()
        {
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _ = AcceptAsync();
        }

        public int Port { get; }
        public volatile int Status = 200;
        public volatile bool Silent;
        public string LastHead { get; private set; } = "";

        public IReadOnlyList<string> RequestLines
        {
            get { lock (_lines) return _lines.ToList(); }
        }

        public async Task WaitForRequestsAsync(int count)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (RequestLines.Count < count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"{count} probe(s) expected, {RequestLines.Count} came");
                await Task.Delay(10);
            }
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptSocketAsync(_stop.Token);
                    _ = ServeAsync(client);
                }
            }
            // InvalidOperationException: the listener was stopped between one accept and the next.
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or InvalidOperationException) { }
        }

        private async Task ServeAsync(Socket client)
        {
            using var _ = client;
            try
            {
                var buffer = new byte[4096];
                int filled = 0;
                while (!Encoding.ASCII.GetString(buffer, 0, filled).Contains("\r\n\r\n"))
                {
                    int n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, _stop.Token);
                    if (n == 0) return;
                    filled += n;
                }
                var head = Encoding.ASCII.GetString(buffer, 0, filled);
                LastHead = head;
                lock (_lines) _lines.Add(head[..head.IndexOf("\r\n", StringComparison.Ordinal)]);
                if (Silent)
                {
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                    return;
                }
                var body = "ok\n";
                await client.SendAsync(Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 {Status} Whatever\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}"), SocketFlags.None);
                client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
        }
    }
}
