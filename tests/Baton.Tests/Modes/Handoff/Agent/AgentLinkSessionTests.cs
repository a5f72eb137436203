using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography;
using Baton.Modes;
using Baton.Modes.Handoff.Agent;
using Baton.Modes.Handoff.Protocol;
using Baton.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Baton.Tests.Modes.Handoff.Agent;

/// <summary>
/// The agent's side of a control link, driven by a router played by the test over a real loopback
/// link (no root: nothing here is restored): what it answers, what it ignores, and what ends it.
/// Until now only the root cluster suite ran this code.
/// </summary>
public sealed class AgentLinkSessionTests : IAsyncDisposable
{
    private static CancellationToken Guard() => new CancellationTokenSource(LoopbackPair.HangGuard).Token;

    private readonly LoopbackPair _pair = LoopbackPair.Create();
    private readonly DeliveryWatch _delivery = new(TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(10));
    private readonly CancellationTokenSource _stop = new();
    private ControlLink _router = null!;
    private Task _session = null!;

    private static AgentOptions Options { get; } = NewOptions();

    private static AgentOptions NewOptions() => new()
    {
        Name = "be1",
        ControlEndpoint = new IPEndPoint(IPAddress.Loopback, 7070),
        Key = new ClusterKey(RandomNumberGenerator.GetBytes(32)),
        Mac = PhysicalAddress.Parse("02-00-00-00-00-11"),
    };

    private async Task StartAsync(AgentOptions? options = null)
    {
        options ??= Options;
        var router = ControlLink.EstablishAsync(new NetworkStream(_pair.Client, ownsSocket: false), Options.Key, isRouter: true, Guard());
        var agent = ControlLink.EstablishAsync(new NetworkStream(_pair.Server, ownsSocket: false), Options.Key, isRouter: false, Guard());
        await Task.WhenAll(router, agent);
        _router = router.Result;
        _session = new AgentLinkSession(agent.Result, _pair.Server, options, _delivery, NullLogger.Instance, new HeldConnections(), _stop.Token).RunAsync(_stop.Token);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_session is not null) await Record.ExceptionAsync(() => _session.WaitAsync(LoopbackPair.HangGuard));
        if (_router is not null) await _router.DisposeAsync();
        _delivery.Dispose();
        _pair.Dispose();
    }

    private async Task<ControlMessage> NextAsync() => (await _router.ReceiveAsync(Guard()))!.Value;

    [Fact]
    public async Task The_agent_introduces_itself_then_refuses_a_malformed_handoff_and_an_unknown_return_without_ending_the_link()
    {
        await StartAsync();
        var welcome = await NextAsync();
        Assert.Equal(ControlMessageType.Welcome, welcome.Type);
        Assert.Equal(("be1", Options.Mac), (welcome.Read<Welcome>().Name, welcome.Read<Welcome>().Mac));

        // Not a snapshot: refused on the link's own thread (a blocking send), the router keeps the connection.
        await _router.SendRawAsync(ControlMessageType.HandoffRequest, 7, new byte[] { 1, 2, 3 }, Guard());
        var refused = await NextAsync();
        Assert.Equal((ControlMessageType.Refused, 7UL), (refused.Type, refused.ConnectionId));
        Assert.Contains("malformed snapshot", refused.Read<Refused>().Reason);

        // A failed return for a connection this agent never parked: refused at once, so the router stops waiting.
        await _router.SendAsync(new ReturnFailed(), 9, Guard());
        var unknown = await NextAsync();
        Assert.Equal((ControlMessageType.Refused, 9UL, "not parked here"), (unknown.Type, unknown.ConnectionId, unknown.Read<Refused>().Reason));
        Assert.False(_session.IsCompleted);
    }

    [Fact]
    public async Task Freeze_and_Stay_for_unknown_connections_are_ignored_and_Go_for_one_ends_the_link_as_a_protocol_error()
    {
        await StartAsync();
        Assert.Equal(ControlMessageType.Welcome, (await NextAsync()).Type);

        await _router.SendAsync(new Freeze(), 21, Guard()); // the connection ended meanwhile: nothing to answer
        await _router.SendAsync(new Stay(), 22, Guard());
        await _router.SendAsync(new Go(TimeSpan.Zero), 23, Guard());

        var error = await Assert.ThrowsAsync<ControlProtocolException>(() => _session.WaitAsync(LoopbackPair.HangGuard));
        Assert.Equal("Go for unknown connection 23", error.Message);
    }

    [Fact]
    public async Task A_message_only_an_agent_sends_is_a_protocol_error_naming_it()
    {
        await StartAsync();
        Assert.Equal(ControlMessageType.Welcome, (await NextAsync()).Type);

        await _router.SendRawAsync(ControlMessageType.Returned, 5, new byte[4], Guard());

        var error = await Assert.ThrowsAsync<ControlProtocolException>(() => _session.WaitAsync(LoopbackPair.HangGuard));
        Assert.Equal("unexpected Returned from the router", error.Message);
    }

    [Fact]
    public async Task An_application_that_knows_its_health_is_reported_after_the_welcome_and_at_each_change()
    {
        var app = new FakeHealth();
        await StartAsync(new AgentOptions { Name = Options.Name, ControlEndpoint = Options.ControlEndpoint, Key = Options.Key, Mac = Options.Mac, Application = app });
        Assert.Equal(ControlMessageType.Welcome, (await NextAsync()).Type);
        var first = await NextAsync();
        Assert.Equal((ControlMessageType.ApplicationHealth, 0UL), (first.Type, first.ConnectionId));
        Assert.Equal(new ApplicationHealth(true, ""), first.Read<ApplicationHealth>());

        app.Set(false, "origin http://127.0.0.1:8080/: Connection refused");
        Assert.Equal(new ApplicationHealth(false, "origin http://127.0.0.1:8080/: Connection refused"), (await NextAsync()).Read<ApplicationHealth>());
        app.Set(true, "");
        Assert.Equal(new ApplicationHealth(true, ""), (await NextAsync()).Read<ApplicationHealth>());
    }

    private sealed class FakeHealth : Baton.Application.IBatonApplication, Baton.Application.IApplicationHealth
    {
        private volatile Tuple<bool, string> _health = Tuple.Create(true, "");
        public (bool CanServe, string Reason) Health => (_health.Item1, _health.Item2);
        public event Action? HealthChanged;
        public void Set(bool canServe, string reason)
        {
            _health = Tuple.Create(canServe, reason);
            HealthChanged?.Invoke();
        }
        public Task ServeAsync(Baton.Application.BatonTransaction transaction, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
