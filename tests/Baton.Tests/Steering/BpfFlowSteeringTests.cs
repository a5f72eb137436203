using System.Net;
using System.Net.NetworkInformation;
using Baton.Steering;
using Baton.Lab;
using Baton.Steering.Bpf;

namespace Baton.Tests.Steering;

/// <summary>
/// The eBPF steering on a real kernel: a veth pair in a namespace of its own, client frames written
/// into one end, what the router's side does with them read back at the same end. Needs root.
/// </summary>
public sealed class BpfFlowSteeringTests : IDisposable
{
    private static readonly PhysicalAddress BackendMac = PhysicalAddress.Parse("02-BA-70-2A-00-0B");
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(400);
    private readonly SteeringLink _link = new();

    private BpfFlowSteering Start() => _link.Run(() => new BpfFlowSteering(SteeringLink.Device, SteeringLink.Service, SteeringLink.RouterMac));

    private List<FlowEntry>? Attached() => _link.Run(() => BpfFlowSteering.ReadAttached(SteeringLink.Device));

    private static IPEndPoint Client(int port) => new(SteeringLink.ClientAddress, port);

    [Fact]
    public void Entries_are_added_changed_and_removed_in_the_kernel_map()
    {
        using var steering = Start();
        steering.AddBackend("be1", BackendMac);
        steering.Block(Client(40001));
        steering.Forward(Client(40002), "be1");
        Assert.Equal(2, steering.Count);
        var entries = Attached()!.ToDictionary(e => e.Client);
        Assert.Equal(2, entries.Count);
        Assert.Equal(FlowAction.Block, entries[Client(40001)].Action);
        var forward = entries[Client(40002)];
        Assert.Equal(FlowAction.Forward, forward.Action);
        Assert.Equal(BackendMac, forward.BackendMac);
        Assert.Equal(SteeringLink.RouterMac, forward.RouterMac);
        Assert.Equal(_link.Run(() => (int)Baton.Interop.Libc.IfNameToIndex(SteeringLink.Device)), forward.IfIndex);

        steering.Forward(Client(40001), "be1"); // block → forward in place
        Assert.All(Attached()!, e => Assert.Equal(FlowAction.Forward, e.Action));
        steering.Clear(Client(40001));
        steering.Clear(Client(40001)); // absent: nothing happens
        Assert.Equal([Client(40002)], Attached()!.Select(e => e.Client));
        Assert.Equal(1, steering.Count);
        Assert.Throws<SteeringException>(() => steering.Forward(Client(40003), "nobody"));
    }

    [Fact]
    public void Miss_reaches_the_stack_block_drops_and_forward_rewrites_both_macs_and_sends_the_frame_back_out()
    {
        using var steering = Start();
        using var wire = _link.OpenWire();
        steering.AddBackend("be1", BackendMac);
        var client = AnsweredThenBlocked(steering, wire, 40010);
        // Only the service is steered: the same client's packets to another port or address pass.
        var otherPort = new IPEndPoint(SteeringLink.Service.Address, 81);
        wire.Send(SteeringLink.Syn(client, otherPort));
        Assert.NotNull(wire.Receive(f => WireSocket.IsTcp(f, otherPort, client), TimeSpan.FromSeconds(2)));
        var otherAddress = new IPEndPoint(SteeringLink.RouterAddress, 80);
        wire.Send(SteeringLink.Syn(client, otherAddress));
        Assert.NotNull(wire.Receive(f => WireSocket.IsTcp(f, otherAddress, client), TimeSpan.FromSeconds(2)));

        steering.Forward(client, "be1");
        ForwardedToBackend(wire, client);
        Assert.Null(wire.Receive(f => WireSocket.IsTcp(f, SteeringLink.Service, client), Quiet)); // and the stack never saw it

        steering.Clear(client);
        StackAnswers(wire, client);
    }

    [Fact]
    public void A_run_that_leaves_keeps_its_back_ends_connections_forwarded_and_the_next_run_takes_them_over()
    {
        var first = Start();
        using var wire = _link.OpenWire();
        first.AddBackend("be1", BackendMac);
        first.Forward(Client(40101), "be1");
        first.Forward(Client(40102), "be1");
        first.Block(Client(40103)); // parked (or in transit) when the run ended: still blocked for the next
        Assert.True(first.Leave());

        // Between the runs: still forwarded, by the filter and map the first left on the device.
        Assert.Equal(3, Attached()!.Count);
        ForwardedToBackend(wire, Client(40101));

        using var next = _link.Run(() => new BpfFlowSteering(SteeringLink.Device, SteeringLink.Service, SteeringLink.RouterMac, adopt: true));
        Assert.Null(next.AdoptUnavailable);
        Assert.Equal([Client(40101), Client(40102)], next.Adopted.Select(a => a.Client).Order(Comparer<IPEndPoint>.Create((a, b) => a.Port - b.Port)));
        Assert.All(next.Adopted, a => Assert.Equal(BackendMac, a.Backend));
        Assert.Equal([Client(40103)], next.AdoptedBlocked);
        Assert.Equal(FlowAction.Block, Attached()!.Single(e => e.Client.Equals(Client(40103))).Action);
        next.Clear(Client(40103));
        Assert.Equal([Client(40101), Client(40102)], Attached()!.Select(e => e.Client).OrderBy(c => c.Port));
        Assert.Equal(2, next.Count);
        ForwardedToBackend(wire, Client(40102));

        // Its agent connects again: the entries are that back-end's, and change and clear as any.
        next.AddBackend("be1", BackendMac);
        next.Clear(Client(40101));
        StackAnswers(wire, Client(40101));
        ForwardedToBackend(wire, Client(40102));
        Assert.Equal([Client(40102)], Attached()!.Select(e => e.Client));
    }

    [Fact]
    public void A_run_that_took_over_a_crashed_runs_steering_removes_it_at_stop()
    {
        var crashed = Start(); // never disposed: as a killed router leaves it
        crashed.AddBackend("be1", BackendMac);
        crashed.Forward(Client(40121), "be1");
        var next = _link.Run(() => new BpfFlowSteering(SteeringLink.Device, SteeringLink.Service, SteeringLink.RouterMac, adopt: true));
        Assert.Single(next.Adopted);
        next.Dispose();
        Assert.Null(Attached());
    }

    [Fact]
    public void A_start_that_does_not_adopt_replaces_what_a_previous_run_left()
    {
        var first = Start();
        first.AddBackend("be1", BackendMac);
        first.Forward(Client(40111), "be1");
        Assert.True(first.Leave());
        using var next = Start();
        Assert.Empty(next.Adopted);
        Assert.Empty(Attached()!);
    }

    [Fact]
    public void Stop_removes_only_its_own_filter_and_other_filters_on_the_device_survive()
    {
        // Someone else's filter on the same ingress hook, at tc's own choice of handle.
        string other = Path.Combine(Path.GetTempPath(), $"btbpf-other-{Guid.NewGuid():N}.o");
        File.WriteAllBytes(other, SteerProgram.EmbeddedObject());
        try
        {
            _link.Tc("qdisc", "add", "dev", SteeringLink.Device, "clsact");
            _link.Tc("filter", "add", "dev", SteeringLink.Device, "ingress", "pref", "10", "protocol", "all", "bpf", "obj", other, "sec", "tc", "da");
        }
        finally { File.Delete(other); }

        var steering = Start();
        string during = _link.Tc("filter", "show", "dev", SteeringLink.Device, "ingress");
        Assert.Contains($"pref {TcIngressFilter.Priority} bpf", during);
        Assert.Contains($"handle 0x{TcIngressFilter.Handle:x}", during);
        Assert.Contains("pref 10 bpf", during);

        steering.Dispose();
        steering.Dispose(); // idempotent
        string after = _link.Tc("filter", "show", "dev", SteeringLink.Device, "ingress");
        Assert.DoesNotContain($"pref {TcIngressFilter.Priority} ", after);
        Assert.Contains("pref 10 bpf", after);
        Assert.Contains("clsact", _link.Tc("qdisc", "show", "dev", SteeringLink.Device));
        Assert.Null(Attached());
        Assert.Throws<ObjectDisposedException>(() => steering.Block(Client(1)));
    }

    [Fact]
    public void Start_replaces_the_filter_a_crashed_run_left_and_the_old_run_cannot_remove_the_new_one()
    {
        var crashed = Start();
        crashed.Block(Client(40020));
        // The new run starts while the old filter is still attached, as after a crash.
        using var steering = Start();
        steering.Block(Client(40021));
        Assert.Equal([Client(40021)], Attached()!.Select(e => e.Client));
        string filters = _link.Tc("filter", "show", "dev", SteeringLink.Device, "ingress");
        Assert.Single(filters.Split('\n'), l => l.Contains($"handle 0x{TcIngressFilter.Handle:x}"));

        crashed.Dispose(); // its filter is gone already: the new one stays
        Assert.Equal([Client(40021)], Attached()!.Select(e => e.Client));

        using var wire = _link.OpenWire();
        var client = Client(40021);
        wire.Send(SteeringLink.Syn(client, SteeringLink.Service));
        Assert.Null(wire.Receive(f => WireSocket.IsTcp(f, SteeringLink.Service, client), Quiet)); // still blocked by the new run
    }

    [Fact]
    public void With_xdp_forwarded_frames_leave_from_the_driver_and_misses_and_blocks_still_meet_tc()
    {
        // The wire end drains what XDP sends back out (a veth needs a program on the peer for that).
        VethXdpPeer.AttachPassAll(_link.Name, SteeringLink.Wire);
        var crashed = StartXdp(); // left attached, as after a crash: the next start replaces it
        using var steering = StartXdp();
        Assert.True(steering.Xdp, steering.XdpUnavailable);
        using var wire = _link.OpenWire();
        steering.AddBackend("be1", BackendMac);
        var client = AnsweredThenBlocked(steering, wire, 40030);

        steering.Forward(client, "be1");
        long before = XdpTx();
        for (int i = 0; i < 3; i++)
            ForwardedToBackend(wire, client, sequence: (uint)(1000 + i));
        Assert.Equal(3, XdpTx() - before); // each one sent back out by the driver, none by tc

        steering.Clear(client);
        StackAnswers(wire, client);

        crashed.Dispose(); // not its program any more: it stays
        Assert.NotEqual(0u, XdpProgramOnDevice());
        steering.Dispose();
        Assert.Equal(0u, XdpProgramOnDevice());
    }

    [Fact]
    public void Xdp_asked_for_where_another_program_holds_the_hook_leaves_it_there_and_tc_steers()
    {
        VethXdpPeer.AttachPassAll(_link.Name, SteeringLink.Device);
        uint other = XdpProgramOnDevice();
        using (var steering = StartXdp())
        {
            Assert.False(steering.Xdp);
            Assert.Contains("another XDP program", steering.XdpUnavailable);
            steering.AddBackend("be1", BackendMac);
            var client = Client(40040);
            steering.Forward(client, "be1");
            using var wire = _link.OpenWire();
            wire.Send(SteeringLink.Syn(client, SteeringLink.Service));
            Assert.NotNull(wire.Receive(f => WireSocket.IsTcp(f, client, SteeringLink.Service) && f.AsSpan(0, 6).SequenceEqual(BackendMac.GetAddressBytes()), TimeSpan.FromSeconds(2)));
        }
        Assert.Equal(other, XdpProgramOnDevice());
    }

    // A client on this port: with no entry the router's stack answers it, and a block then silences it.
    private static IPEndPoint AnsweredThenBlocked(BpfFlowSteering steering, WireSocket wire, int port)
    {
        var client = Client(port);
        StackAnswers(wire, client);
        steering.Block(client);
        NothingComesBack(wire, client);
        return client;
    }

    // No entry: the router's own stack answers the SYN (a reset: nothing listens on the VIP here).
    private static void StackAnswers(WireSocket wire, IPEndPoint client)
    {
        wire.Send(SteeringLink.Syn(client, SteeringLink.Service));
        Assert.NotNull(wire.Receive(f => WireSocket.IsTcp(f, SteeringLink.Service, client), TimeSpan.FromSeconds(2)));
    }

    // Blocked: neither the stack's answer nor the frame itself comes back.
    private static void NothingComesBack(WireSocket wire, IPEndPoint client)
    {
        wire.Send(SteeringLink.Syn(client, SteeringLink.Service));
        Assert.Null(wire.Receive(f => WireSocket.IsTcp(f, SteeringLink.Service, client) || WireSocket.IsTcp(f, client, SteeringLink.Service), Quiet));
    }

    // Forwarded: the frame comes back out addressed to the back-end, from the router, the IP packet untouched.
    private static void ForwardedToBackend(WireSocket wire, IPEndPoint client, uint? sequence = null)
    {
        var sent = SteeringLink.Syn(client, SteeringLink.Service, sequence);
        wire.Send(sent);
        var forwarded = wire.Receive(f => WireSocket.IsTcp(f, client, SteeringLink.Service), TimeSpan.FromSeconds(2));
        Assert.NotNull(forwarded);
        Assert.Equal(BackendMac.GetAddressBytes(), forwarded[..6]);
        Assert.Equal(SteeringLink.RouterMac.GetAddressBytes(), forwarded[6..12]);
        Assert.Equal(sent[12..], forwarded[12..sent.Length]);
    }

    private BpfFlowSteering StartXdp() => _link.Run(() => new BpfFlowSteering(SteeringLink.Device, SteeringLink.Service, SteeringLink.RouterMac, xdp: true));

    private uint XdpProgramOnDevice() => _link.Run(() => XdpForward.Query((int)Baton.Interop.Libc.IfNameToIndex(SteeringLink.Device)));

    private long XdpTx() => Netns.XdpTxFrames(_link.Name, SteeringLink.Device);

    [Fact]
    public void A_device_that_does_not_exist_is_a_steering_error()
    {
        var e = _link.Run(() => Assert.Throws<SteeringException>(() => new BpfFlowSteering("btbpf-none", SteeringLink.Service, SteeringLink.RouterMac)));
        Assert.Contains("btbpf-none", e.Message);
    }

    public void Dispose() => _link.Dispose();
}
