using System.Net;
using System.Net.Sockets;
using Baton.Application;
using Baton.Http;
using Baton.Lab;
using Baton.Modes.Relay;
using Baton.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Baton.Tests.Modes.Relay;

/// <summary>
/// The ways a forwarder (or a relay) reaches its origin: a Unix socket, a PROXY protocol v2 header
/// that names the client to nginx, and a failed origin probed at once.
/// </summary>
public sealed class OriginConnectorTests
{
    [Fact]
    public async Task A_unix_socket_origin_serves_requests_on_one_pooled_connection()
    {
        string path = Path.Combine(Path.GetTempPath(), $"baton-origin-{Guid.NewGuid():N}.sock");
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(path));
        builder.Logging.ClearProviders();
        await using var app = builder.Build();
        app.MapGet("/where", (HttpContext c) => $"{c.Connection.Id} {c.Request.Headers["X-Forwarded-For"]}");
        await app.StartAsync().WaitAsync(LoopbackPair.HangGuard);
        try
        {
            await using var relay = new RelayHarness(new Uri($"unix:{path}"));
            using var client = await relay.ConnectAsync();
            var answers = new List<string>();
            for (int i = 0; i < 3; i++)
            {
                await client.SendAsync("GET /where HTTP/1.1\r\nHost: h\r\n\r\n");
                var r = await client.ReadAsync();
                Assert.Equal(200, r.Status);
                answers.Add(r.Text);
            }
            Assert.Single(answers.Distinct()); // one upstream connection, pooled; the client named in X-Forwarded-For
            Assert.EndsWith(" 127.0.0.1", answers[0]);
        }
        finally
        {
            await app.StopAsync();
            File.Delete(path);
        }
    }

    [Fact]
    public void The_PROXY_v2_header_names_client_and_service_in_network_order()
    {
        var header = ProxyProtocol.For(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 51000), new IPEndPoint(IPAddress.Parse("10.77.0.100"), 80));
        Assert.Equal("0D0A0D0A000D0A515549540A" + "21" + "11" + "000C" + "C0000201" + "0A4D0064" + "C738" + "0050", Convert.ToHexString(header));
        Assert.Equal("0D0A0D0A000D0A515549540A" + "20" + "00" + "0000", Convert.ToHexString(ProxyProtocol.ForLocal()));
    }

    [Fact]
    public async Task Nginx_reads_the_client_from_the_PROXY_header_and_connections_are_not_shared_between_clients()
    {
        using var nginx = new NginxServer(null, 0, new Dictionary<string, byte[]>(), """
                location / { add_header X-Client "$proxy_protocol_addr:$proxy_protocol_port" always; return 200 "$connection\n"; }
            """, listenParameters: "proxy_protocol");
        var connector = new ProxyProtocolConnector(OriginConnector.For(nginx.Url));
        Assert.Null(await connector.ProbeAsync(TimeSpan.FromSeconds(5), CancellationToken.None)); // the LOCAL form
        await using var relay = new RelayHarness(connector);
        using var first = await relay.ConnectAsync();
        using var second = await relay.ConnectAsync();
        var seen = new List<(string Client, string Connection)>();
        foreach (var client in new[] { first, second, first })
        {
            await client.SendAsync("GET /who HTTP/1.1\r\nHost: h\r\n\r\n");
            var r = await client.ReadAsync();
            Assert.Equal(200, r.Status);
            Assert.Equal($"127.0.0.1:{((IPEndPoint)client.Socket.LocalEndPoint!).Port}", r["X-Client"]);
            seen.Add((r["X-Client"]!, r.Text.Trim()));
        }
        Assert.Equal(3, seen.Select(s => s.Connection).Distinct().Count()); // a connection per request: none pooled
        Assert.DoesNotContain("broken header", File.ReadAllText(Path.Combine(nginx.Directory, "error.log"))); // the LOCAL probe is a valid header
    }

    [Fact]
    public async Task An_origin_that_fails_a_request_is_probed_at_once_not_at_the_next_tick()
    {
        var connector = new FailingOrigin();
        // Probes an hour apart: any probe after the first is the one the failure asked for.
        await using var forwarder = new OriginForwarder(connector, new RelayOptions { ConnectAttempts = 1 }, "be3", NullLogger.Instance, probeInterval: TimeSpan.FromHours(1));
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        forwarder.HealthChanged += () => changed.TrySetResult();
        Assert.True(forwarder.Health.CanServe);

        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        pair.ClientSends("GET /x HTTP/1.1\r\nHost: h\r\n\r\n"u8);
        var head = (await input.ReadHeadAsync(RequestHeadParser.DefaultHeadLimit, Timeout.InfiniteTimeSpan, CancellationToken.None)).Head!;
        var completed = new TaskCompletionSource<bool>();
        var tx = new BatonTransaction(head, input, Stream.Null, pair.Server, "be3", TimeSpan.Zero, keepAlive => { completed.TrySetResult(keepAlive); return Task.CompletedTask; });
        await forwarder.ServeAsync(tx, CancellationToken.None).WaitAsync(LoopbackPair.HangGuard);

        Assert.True(await completed.Task.WaitAsync(LoopbackPair.HangGuard)); // answered, the connection kept
        Assert.StartsWith("HTTP/1.1 502 ", System.Text.Encoding.ASCII.GetString(LoopbackPair.ReceiveExactly(pair.Client, 13)));
        await changed.Task.WaitAsync(LoopbackPair.HangGuard);
        Assert.Equal((false, "origin down since the failure"), forwarder.Health);
        Assert.Equal(2, connector.Probes);
    }

    /// <summary>An origin that refuses every connection, and whose probe says so once a request has failed.</summary>
    private sealed class FailingOrigin : OriginConnector
    {
        private volatile bool _failed;

        public int Probes;

        public override string Description => "failing origin";

        public override string Authority => "localhost";

        public override ValueTask<Socket> ConnectAsync(IPEndPoint client, EndPoint? local, CancellationToken ct)
        {
            _failed = true;
            throw new SocketException((int)SocketError.ConnectionRefused);
        }

        public override ValueTask<string?> ProbeAsync(TimeSpan timeout, CancellationToken ct)
        {
            Interlocked.Increment(ref Probes);
            return ValueTask.FromResult(_failed ? "origin down since the failure" : null);
        }
    }
}
