using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using Baton.Steering.Bpf;
using Baton.Steering.Hold;

namespace Baton.Tests.Steering.Hold;

/// <summary>
/// eBPF steering with the hold queue on a real kernel (the veth harness of
/// <see cref="BpfFlowSteeringTests"/>): held frames never reach the stack, and come back in order,
/// out to the back-end after forward or into the stack after clear. Needs root.
/// </summary>
public sealed class BpfHoldTests : IDisposable
{
    private static readonly PhysicalAddress BackendMac = PhysicalAddress.Parse("02-BA-70-2A-00-0B");
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);
    private readonly SteeringLink _link = new();

    private BpfFlowSteering Start(HoldLimits? limits = null) =>
        _link.Run(() => new BpfFlowSteering(SteeringLink.Device, SteeringLink.Service, SteeringLink.RouterMac, limits ?? HoldLimits.Default));

    private static IPEndPoint Client(int port) => new(SteeringLink.ClientAddress, port);

    private static uint Seq(byte[] frame) => BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(34 + 4));

    [Fact]
    public void Held_frames_go_to_the_backend_in_order_after_forward_with_both_macs_rewritten()
    {
        using var steering = Start();
        Assert.True(steering.Holds, steering.HoldUnavailable);
        using var wire = _link.OpenWire();
        steering.AddBackend("be1", BackendMac);
        var client = Client(40100);
        steering.Hold(client);
        Assert.Equal(FlowAction.Hold, _link.Run(() => BpfFlowSteering.ReadAttached(SteeringLink.Device))!.Single().Action);
        var sent = Enumerable.Range(0, 5).Select(_ => SteeringLink.Syn(client, SteeringLink.Service)).ToList();
        foreach (var f in sent) wire.Send(f);
        // Held: neither forwarded nor answered by the stack.
        Assert.Null(wire.Receive(f => WireSocket.IsTcp(f, client, SteeringLink.Service) || WireSocket.IsTcp(f, SteeringLink.Service, client), Quiet));

        steering.Forward(client, "be1");
        var got = new List<byte[]>();
        for (int i = 0; i < sent.Count; i++)
            got.Add(wire.Receive(f => WireSocket.IsTcp(f, client, SteeringLink.Service), TimeSpan.FromSeconds(2)) ?? throw new Xunit.Sdk.XunitException($"replayed frame {i} missing"));
        Assert.Equal(sent.Select(Seq), got.Select(Seq));
        foreach (var (s, g) in sent.Zip(got))
        {
            Assert.Equal(BackendMac.GetAddressBytes(), g[..6]);
            Assert.Equal(SteeringLink.RouterMac.GetAddressBytes(), g[6..12]);
            Assert.Equal(s[12..], g[12..s.Length]); // the IP packet untouched
        }
        Assert.Null(wire.Receive(f => WireSocket.IsTcp(f, SteeringLink.Service, client), Quiet)); // the stack never saw them
    }

    [Fact]
    public void Held_frames_reach_the_routers_own_stack_after_clear()
    {
        using var steering = Start();
        using var wire = _link.OpenWire();
        var client = Client(40101);
        steering.Hold(client);
        wire.Send(SteeringLink.Syn(client, SteeringLink.Service));
        Assert.Null(wire.Receive(f => WireSocket.IsTcp(f, SteeringLink.Service, client), Quiet));
        steering.Clear(client);
        // Nothing listens on the VIP here: the stack's answer to the replayed SYN is a reset, which proves it got it.
        Assert.NotNull(wire.Receive(f => WireSocket.IsTcp(f, SteeringLink.Service, client), TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void What_overflows_a_connections_bound_is_dropped_and_a_blocked_connections_frames_are_discarded()
    {
        using var steering = Start(HoldLimits.Default with { FramesPerConnection = 2 });
        using var wire = _link.OpenWire();
        steering.AddBackend("be1", BackendMac);
        var client = Client(40102);
        steering.Hold(client);
        var sent = Enumerable.Range(0, 4).Select(_ => SteeringLink.Syn(client, SteeringLink.Service)).ToList();
        foreach (var f in sent) wire.Send(f);
        Thread.Sleep(100);
        steering.Forward(client, "be1");
        var first = wire.Receive(f => WireSocket.IsTcp(f, client, SteeringLink.Service), TimeSpan.FromSeconds(2));
        var second = wire.Receive(f => WireSocket.IsTcp(f, client, SteeringLink.Service), TimeSpan.FromSeconds(2));
        Assert.Equal([Seq(sent[0]), Seq(sent[1])], [Seq(first!), Seq(second!)]);
        Assert.Null(wire.Receive(f => WireSocket.IsTcp(f, client, SteeringLink.Service), Quiet));

        var ended = Client(40103);
        steering.Hold(ended);
        wire.Send(SteeringLink.Syn(ended, SteeringLink.Service));
        Thread.Sleep(100);
        steering.Block(ended); // e.g. the connection ended: its held frames go
        steering.Clear(ended);
        Assert.Null(wire.Receive(f => WireSocket.IsTcp(f, SteeringLink.Service, ended), Quiet));
    }

    [Fact]
    public void The_hold_devices_exist_while_steering_runs_and_a_crashed_runs_are_replaced()
    {
        var crashed = Start();
        Assert.True(crashed.Holds, crashed.HoldUnavailable);
        using (var steering = Start()) // the old pair is still there, as after a crash
        {
            Assert.True(steering.Holds, steering.HoldUnavailable);
            Assert.Contains(HoldDevice.QueueName, Links());
        }
        Assert.DoesNotContain(HoldDevice.Name, Links());
        crashed.Dispose();
    }

    private string Links() => Baton.Lab.Netns.ExecIn(_link.Name, "ip", "-o", "link", "show");

    public void Dispose() => _link.Dispose();
}
