using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Baton.Modes;
using Baton.Modes.Handoff.Protocol;
using Baton.Tests.Support;
using Baton.Modes.Handoff.Repair;

namespace Baton.Tests.Modes.Handoff.Protocol;

/// <summary>ControlLink over real loopback TCP connections.</summary>
public class ControlLinkTests
{
    private const int HeaderLength = 28, TagLength = 32;

    private static CancellationToken Guard() => new CancellationTokenSource(LoopbackPair.HangGuard).Token;

    private static ClusterKey NewKey() => new(RandomNumberGenerator.GetBytes(32));

    /// <summary>Router and agent links established directly over one loopback connection.</summary>
    private static async Task<(LoopbackPair Pair, ControlLink Router, ControlLink Agent)> Connect(ClusterKey routerKey, ClusterKey agentKey)
    {
        var pair = LoopbackPair.Create();
        var router = ControlLink.EstablishAsync(new NetworkStream(pair.Client, ownsSocket: false), routerKey, isRouter: true, Guard());
        var agent = ControlLink.EstablishAsync(new NetworkStream(pair.Server, ownsSocket: false), agentKey, isRouter: false, Guard());
        await Task.WhenAll(router, agent);
        return (pair, router.Result, agent.Result);
    }

    /// <summary>
    /// Router and agent links with the test in the middle: router ⇄ RawRouter … RawAgent ⇄ agent.
    /// The Hellos are relayed unchanged, so both links hold the same session key, and every later
    /// frame passes through the test's hands as raw bytes.
    /// </summary>
    private sealed class Mitm : IAsyncDisposable
    {
        private readonly LoopbackPair _routerPair = LoopbackPair.Create();
        private readonly LoopbackPair _agentPair = LoopbackPair.Create();
        public ControlLink Router { get; private set; } = null!;
        public ControlLink Agent { get; private set; } = null!;
        /// <summary>The router's peer end: read what the router sent, write what it will receive.</summary>
        public NetworkStream RawRouter { get; }
        /// <summary>The agent's peer end.</summary>
        public NetworkStream RawAgent { get; }

        private Mitm()
        {
            RawRouter = new NetworkStream(_routerPair.Server, ownsSocket: false);
            RawAgent = new NetworkStream(_agentPair.Client, ownsSocket: false);
        }

        public static async Task<Mitm> Create(ClusterKey key)
        {
            var m = new Mitm();
            var router = ControlLink.EstablishAsync(new NetworkStream(m._routerPair.Client, ownsSocket: false), key, isRouter: true, Guard());
            var agent = ControlLink.EstablishAsync(new NetworkStream(m._agentPair.Server, ownsSocket: false), key, isRouter: false, Guard());
            var routerHello = await ReadRawFrame(m.RawRouter);
            await m.RawAgent.WriteAsync(routerHello);
            var agentHello = await ReadRawFrame(m.RawAgent);
            await m.RawRouter.WriteAsync(agentHello);
            m.Router = await router;
            m.Agent = await agent;
            return m;
        }

        public async ValueTask DisposeAsync()
        {
            await Router.DisposeAsync();
            await Agent.DisposeAsync();
            _routerPair.Dispose();
            _agentPair.Dispose();
        }
    }

    /// <summary>Reads one whole frame (header, payload, tag) as raw bytes.</summary>
    private static async Task<byte[]> ReadRawFrame(Stream s)
    {
        var header = new byte[HeaderLength];
        await s.ReadExactlyAsync(header, Guard());
        Assert.True(header.AsSpan(0, 4).SequenceEqual("BATN"u8), "frame does not start with the magic");
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(24));
        var frame = new byte[HeaderLength + length + TagLength];
        header.CopyTo(frame, 0);
        await s.ReadExactlyAsync(frame.AsMemory(HeaderLength), Guard());
        return frame;
    }

    /// <summary>A frame laid out as ControlLink.cs documents it; the tag is whatever the caller gives.</summary>
    private static byte[] ForgeFrame(byte version, ControlMessageType type, byte flags, ulong seq, ulong connectionId, byte[] payload, byte[]? tag = null)
    {
        var f = new byte[HeaderLength + payload.Length + TagLength];
        "BATN"u8.CopyTo(f);
        f[4] = version;
        f[5] = (byte)type;
        f[6] = flags;
        BinaryPrimitives.WriteUInt64BigEndian(f.AsSpan(8), seq);
        BinaryPrimitives.WriteUInt64BigEndian(f.AsSpan(16), connectionId);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(24), (uint)payload.Length);
        payload.CopyTo(f, HeaderLength);
        tag?.CopyTo(f, HeaderLength + payload.Length);
        return f;
    }

    [Fact]
    public async Task Messages_round_trip_with_type_connection_id_and_payload_both_ways()
    {
        var key = NewKey();
        var (pair, router, agent) = await Connect(key, key);
        using var _ = pair;
        await using var r = router;
        await using var a = agent;

        var snapshot = RandomNumberGenerator.GetBytes(300);
        await router.SendRawAsync(ControlMessageType.HandoffRequest, 0xDEAD_BEEF_0000_0042, snapshot, Guard());
        var m = await agent.ReceiveAsync(Guard());
        Assert.NotNull(m);
        Assert.Equal(ControlMessageType.HandoffRequest, m.Value.Type);
        Assert.Equal(0xDEAD_BEEF_0000_0042UL, m.Value.ConnectionId);
        Assert.Equal(snapshot, m.Value.Payload);

        await agent.SendRawAsync(ControlMessageType.Ready, 0xDEAD_BEEF_0000_0042, ReadOnlyMemory<byte>.Empty, Guard());
        m = await router.ReceiveAsync(Guard());
        Assert.NotNull(m);
        Assert.Equal(ControlMessageType.Ready, m.Value.Type);
        Assert.Equal(0xDEAD_BEEF_0000_0042UL, m.Value.ConnectionId);
        Assert.Empty(m.Value.Payload);

        // Later messages keep working in both directions (sequence numbers advance on each side).
        for (ulong i = 1; i <= 5; i++)
        {
            await router.SendRawAsync(ControlMessageType.Go, i, BitConverter.GetBytes(i), Guard());
            await agent.SendRawAsync(ControlMessageType.ReturnRequest, i + 100, Encoding.ASCII.GetBytes($"r{i}"), Guard());
        }
        for (ulong i = 1; i <= 5; i++)
        {
            var toAgent = await agent.ReceiveAsync(Guard());
            Assert.Equal((ControlMessageType.Go, i), (toAgent!.Value.Type, toAgent.Value.ConnectionId));
            Assert.Equal(BitConverter.GetBytes(i), toAgent.Value.Payload);
            var toRouter = await router.ReceiveAsync(Guard());
            Assert.Equal((ControlMessageType.ReturnRequest, i + 100), (toRouter!.Value.Type, toRouter.Value.ConnectionId));
            Assert.Equal($"r{i}", Encoding.ASCII.GetString(toRouter.Value.Payload));
        }
    }

    private static TcpSnapshot SampleSnapshot(string unread) => new()
    {
        Local = new IPEndPoint(IPAddress.Parse("10.0.0.100"), 80),
        Remote = new IPEndPoint(IPAddress.Parse("10.0.0.2"), 40_000),
        SendSeq = 1, ReceiveSeq = 2, SendQueue = [1, 2, 3], SendUnsent = 1, ReceiveQueue = Encoding.ASCII.GetBytes(unread),
        Mss = 1448, Timestamps = true, Sack = true, WindowScaling = true, SendWindowScale = 7, ReceiveWindowScale = 7,
        Timestamp = 99, Window = new TcpRepairWindow(1, 2, 3, 4, 5),
    };

    private static byte[] Wire(TcpSnapshot s)
    {
        var b = new byte[SnapshotLayout.Length(s)];
        SnapshotLayout.Write(s, b);
        return b;
    }

    [Fact]
    public async Task Every_typed_message_crosses_the_link_and_reads_back_as_sent()
    {
        var key = NewKey();
        var (pair, router, agent) = await Connect(key, key);
        using var _ = pair;
        await using var r = router;
        await using var a = agent;
        async Task<T> Cross<T>(ControlLink from, ControlLink to, T message) where T : IControlMessage<T>
        {
            await from.SendAsync(message, 77, Guard());
            var m = (await to.ReceiveAsync(Guard()))!.Value;
            Assert.Equal((T.Type, 77UL), (m.Type, m.ConnectionId));
            return m.Read<T>();
        }

        var welcome = await Cross(agent, router, new Welcome("be-ü1", PhysicalAddress.Parse("02-BA-70-01-00-0B")));
        Assert.Equal(("be-ü1", PhysicalAddress.Parse("02-BA-70-01-00-0B")), (welcome.Name, welcome.Mac));
        Assert.Equal(new ApplicationHealth(false, "origin ü refused"), await Cross(agent, router, new ApplicationHealth(false, "origin ü refused")));
        Assert.Equal(new ApplicationHealth(true, ""), await Cross(agent, router, new ApplicationHealth(true, "")));
        var handoff = SampleSnapshot("GET / HTTP/1.1\r\n\r\n");
        Assert.Equal(Wire(handoff), Wire((await Cross(router, agent, new HandoffRequest(handoff))).Snapshot));
        await Cross(agent, router, new Ready());
        Assert.Equal("no room", (await Cross(agent, router, new Refused("no room"))).Reason);
        Assert.Equal(TimeSpan.FromMicroseconds(1234), (await Cross(router, agent, new Go(TimeSpan.FromMicroseconds(1234)))).HandoffTime);
        await Cross(agent, router, new ReturnRequest());
        Assert.Equal("GET /next HTTP/1.1\r\n\r\n"u8.ToArray(), (await Cross(agent, router, new NextRequest("GET /next HTTP/1.1\r\n\r\n"u8.ToArray()))).Head.ToArray());
        await Cross(router, agent, new Stay());
        await Cross(router, agent, new Freeze());
        var returned = SampleSnapshot("");
        Assert.Equal(Wire(returned), Wire((await Cross(agent, router, new Returned(returned))).Snapshot));
        await Cross(router, agent, new ReturnFailed());
        await Cross(agent, router, new Closed());
    }

    [Fact]
    public async Task Reading_a_frame_as_another_type_or_a_payload_of_another_shape_is_a_protocol_error()
    {
        var key = NewKey();
        var (pair, router, agent) = await Connect(key, key);
        using var _ = pair;
        await using var r = router;
        await using var a = agent;

        await router.SendAsync(new Go(TimeSpan.FromMicroseconds(5)), 1, Guard());
        var go = (await agent.ReceiveAsync(Guard()))!.Value;
        Assert.Throws<ControlProtocolException>(() => go.Read<Stay>());

        await agent.SendRawAsync(ControlMessageType.Welcome, 0, Encoding.ASCII.GetBytes("be1"), Guard());
        var welcome = (await router.ReceiveAsync(Guard()))!.Value;
        Assert.Throws<ControlProtocolException>(() => welcome.Read<Welcome>());

        await router.SendRawAsync(ControlMessageType.HandoffRequest, 2, new byte[] { 1, 2, 3 }, Guard());
        var handoff = (await agent.ReceiveAsync(Guard()))!.Value;
        Assert.False(HandoffRequest.TryRead(handoff.Payload, out var notASnapshot));
        Assert.Null(notASnapshot.Snapshot);
    }

    [Fact]
    public async Task Large_payload_round_trips_intact()
    {
        var key = NewKey();
        var (pair, router, agent) = await Connect(key, key);
        using var _ = pair;
        await using var r = router;
        await using var a = agent;

        var big = RandomNumberGenerator.GetBytes(3 << 20);
        var send = router.SendRawAsync(ControlMessageType.HandoffRequest, 7, big, Guard()).AsTask();
        var m = await agent.ReceiveAsync(Guard());
        await send;
        Assert.Equal(big, m!.Value.Payload);
    }

    [Fact]
    public async Task Concurrent_senders_do_not_interleave_frames()
    {
        var key = NewKey();
        var (pair, router, agent) = await Connect(key, key);
        using var _ = pair;
        await using var r = router;
        await using var a = agent;

        const int tasks = 4, each = 25;
        var senders = Enumerable.Range(0, tasks).Select(t => Task.Run(async () =>
        {
            for (int i = 0; i < each; i++)
            {
                ulong id = (ulong)(t * 1000 + i);
                await agent.SendRawAsync(ControlMessageType.Closed, id, new byte[1000 + i], Guard());
            }
        })).ToArray();

        var received = new List<ulong>();
        for (int i = 0; i < tasks * each; i++)
        {
            var m = await router.ReceiveAsync(Guard());
            Assert.NotNull(m);
            Assert.Equal(1000 + (int)(m.Value.ConnectionId % 1000), m.Value.Payload.Length);
            received.Add(m.Value.ConnectionId);
        }
        await Task.WhenAll(senders);
        var expected = Enumerable.Range(0, tasks).SelectMany(t => Enumerable.Range(0, each).Select(i => (ulong)(t * 1000 + i)));
        Assert.Equal(expected.OrderBy(x => x), received.OrderBy(x => x));
    }

    [Fact]
    public async Task Blocking_and_async_senders_share_the_link_without_interleaving_or_breaking_the_sequence()
    {
        // The agent's link thread answers with Send (blocking), while its connections send with
        // SendAsync: both take one write lock and number frames in the order they are written.
        var key = NewKey();
        var (pair, router, agent) = await Connect(key, key);
        using var _ = pair;
        await using var r = router;
        await using var a = agent;

        const int each = 50;
        var blocking = new Thread(() =>
        {
            for (int i = 0; i < each; i++) agent.Send(new Refused(new string('x', 10 + i)), (ulong)i);
        });
        blocking.Start();
        var async = Task.Run(async () =>
        {
            for (int i = 0; i < each; i++) await agent.SendAsync(new NextRequest(new byte[2000 + i]), (ulong)(1000 + i), Guard());
        });

        var refused = new List<int>();
        var next = new List<int>();
        for (int i = 0; i < 2 * each; i++)
        {
            var m = (await router.ReceiveAsync(Guard()))!.Value;
            if (m.Type == ControlMessageType.Refused) refused.Add(m.Read<Refused>().Reason.Length - 10);
            else next.Add(m.Read<NextRequest>().Head.Length - 2000);
        }
        Assert.True(blocking.Join(LoopbackPair.HangGuard));
        await async;
        Assert.Equal(Enumerable.Range(0, each), refused); // each sender's frames in its own order
        Assert.Equal(Enumerable.Range(0, each), next);
    }

    [Fact]
    public async Task Peer_closing_the_link_is_a_null_message()
    {
        var key = NewKey();
        var (pair, router, agent) = await Connect(key, key);
        using var _ = pair;
        await using var a = agent;
        await router.DisposeAsync();
        pair.Client.Shutdown(SocketShutdown.Both);
        Assert.Null(await agent.ReceiveAsync(Guard()));
    }

    [Fact]
    public async Task Peer_with_a_different_cluster_key_gets_its_first_authenticated_message_refused()
    {
        var (pair, router, agent) = await Connect(NewKey(), NewKey());
        using var _ = pair;
        await using var r = router;
        await using var a = agent;

        // Hello is unauthenticated and succeeds; the first real message must not.
        await router.SendRawAsync(ControlMessageType.HandoffRequest, 42, RandomNumberGenerator.GetBytes(64), Guard());
        ControlMessage? accepted = null;
        var e = await Assert.ThrowsAsync<ControlProtocolException>(async () => accepted = await agent.ReceiveAsync(Guard()));
        Assert.Null(accepted);
        Assert.Contains("authentication", e.Message);
        Assert.Contains("Handoff", e.Message);
    }

    [Fact]
    public async Task Router_refuses_a_welcome_from_an_agent_with_a_different_cluster_key()
    {
        var (pair, router, agent) = await Connect(NewKey(), NewKey());
        using var _ = pair;
        await using var r = router;
        await using var a = agent;

        await agent.SendRawAsync(ControlMessageType.Welcome, 0, Encoding.ASCII.GetBytes("be1"), Guard());
        await Assert.ThrowsAsync<ControlProtocolException>(async () => await router.ReceiveAsync(Guard()));
    }

    [Theory]
    [InlineData(5)]      // type
    [InlineData(7)]      // reserved byte
    [InlineData(15)]     // sequence, low byte
    [InlineData(23)]     // connection id, low byte
    [InlineData(28)]     // first payload byte
    [InlineData(-1)]     // last byte of the tag
    public async Task Frame_with_one_tampered_byte_is_refused(int offset)
    {
        await using var m = await Mitm.Create(NewKey());
        await m.Router.SendRawAsync(ControlMessageType.HandoffRequest, 9, Encoding.ASCII.GetBytes("snapshot bytes"), Guard());
        var frame = await ReadRawFrame(m.RawRouter);
        int at = offset >= 0 ? offset : frame.Length + offset;
        frame[at] ^= 0x01;
        await m.RawAgent.WriteAsync(frame, Guard());

        ControlMessage? accepted = null;
        await Assert.ThrowsAsync<ControlProtocolException>(async () => accepted = await m.Agent.ReceiveAsync(Guard()));
        Assert.Null(accepted);
    }

    [Fact]
    public async Task Untampered_frame_through_the_middle_is_accepted()
    {
        // The control case for the tampering tests: relaying unchanged bytes works.
        await using var m = await Mitm.Create(NewKey());
        await m.Router.SendRawAsync(ControlMessageType.HandoffRequest, 9, Encoding.ASCII.GetBytes("snapshot bytes"), Guard());
        await m.RawAgent.WriteAsync(await ReadRawFrame(m.RawRouter), Guard());
        var msg = await m.Agent.ReceiveAsync(Guard());
        Assert.Equal("snapshot bytes", Encoding.ASCII.GetString(msg!.Value.Payload));
    }

    [Fact]
    public async Task Frames_arriving_byte_by_byte_or_several_in_one_burst_are_read_whole_and_in_order()
    {
        // The link reads whatever has arrived into one buffer: a frame may span reads, and one read
        // may hold several frames and the start of the next.
        await using var m = await Mitm.Create(NewKey());
        var frames = new List<byte[]>();
        for (int i = 0; i < 4; i++)
        {
            await m.Router.SendRawAsync(ControlMessageType.Freeze, (ulong)(10 + i), Enumerable.Range(0, 100 * i).Select(b => (byte)(b + i)).ToArray(), Guard());
            frames.Add(await ReadRawFrame(m.RawRouter));
        }
        foreach (var b in frames[0]) await m.RawAgent.WriteAsync(new[] { b }, Guard());
        var burst = frames[1].Concat(frames[2]).Concat(frames[3].Take(30)).ToArray();
        await m.RawAgent.WriteAsync(burst, Guard());
        for (int i = 0; i < 3; i++)
        {
            var got = (await m.Agent.ReceiveAsync(Guard()))!.Value;
            Assert.Equal((ulong)(10 + i), got.ConnectionId);
            Assert.Equal(Enumerable.Range(0, 100 * i).Select(b => (byte)(b + i)).ToArray(), got.Payload);
        }
        var last = m.Agent.ReceiveAsync(Guard()).AsTask();
        await Task.Delay(50);
        Assert.False(last.IsCompleted, "a frame was returned before all of it arrived");
        await m.RawAgent.WriteAsync(frames[3].AsMemory(30), Guard());
        var fourth = (await last)!.Value;
        Assert.Equal(13UL, fourth.ConnectionId);
        Assert.Equal(300, fourth.Payload.Length);
    }

    [Fact]
    public async Task Replayed_frame_is_refused()
    {
        await using var m = await Mitm.Create(NewKey());
        await m.Router.SendRawAsync(ControlMessageType.Go, 5, new byte[] { 1, 2, 3 }, Guard());
        var frame = await ReadRawFrame(m.RawRouter);

        await m.RawAgent.WriteAsync(frame, Guard());
        var first = await m.Agent.ReceiveAsync(Guard());
        Assert.Equal(ControlMessageType.Go, first!.Value.Type);

        await m.RawAgent.WriteAsync(frame, Guard()); // the same bytes again
        var e = await Assert.ThrowsAsync<ControlProtocolException>(async () => await m.Agent.ReceiveAsync(Guard()));
        Assert.Contains("sequence", e.Message);
    }

    [Fact]
    public async Task Old_frame_replayed_after_newer_ones_is_refused()
    {
        await using var m = await Mitm.Create(NewKey());
        await m.Router.SendRawAsync(ControlMessageType.HandoffRequest, 1, new byte[] { 1 }, Guard());
        var f1 = await ReadRawFrame(m.RawRouter);
        await m.Router.SendRawAsync(ControlMessageType.Go, 1, new byte[] { 2 }, Guard());
        var f2 = await ReadRawFrame(m.RawRouter);

        await m.RawAgent.WriteAsync(f1, Guard());
        await m.RawAgent.WriteAsync(f2, Guard());
        Assert.Equal(ControlMessageType.HandoffRequest, (await m.Agent.ReceiveAsync(Guard()))!.Value.Type);
        Assert.Equal(ControlMessageType.Go, (await m.Agent.ReceiveAsync(Guard()))!.Value.Type);

        await m.RawAgent.WriteAsync(f1, Guard());
        await Assert.ThrowsAsync<ControlProtocolException>(async () => await m.Agent.ReceiveAsync(Guard()));
    }

    [Fact]
    public async Task Dropped_frame_is_noticed_at_the_next_one()
    {
        await using var m = await Mitm.Create(NewKey());
        await m.Router.SendRawAsync(ControlMessageType.HandoffRequest, 1, new byte[] { 1 }, Guard());
        _ = await ReadRawFrame(m.RawRouter); // never delivered
        await m.Router.SendRawAsync(ControlMessageType.Go, 1, new byte[] { 2 }, Guard());
        await m.RawAgent.WriteAsync(await ReadRawFrame(m.RawRouter), Guard());
        await Assert.ThrowsAsync<ControlProtocolException>(async () => await m.Agent.ReceiveAsync(Guard()));
    }

    [Fact]
    public async Task Router_refuses_its_own_frame_reflected_back()
    {
        await using var m = await Mitm.Create(NewKey());
        await m.Router.SendRawAsync(ControlMessageType.HandoffRequest, 77, new byte[] { 9, 9 }, Guard());
        var frame = await ReadRawFrame(m.RawRouter);
        Assert.Equal(1, frame[6] & 1); // sent with the router direction bit

        await m.RawRouter.WriteAsync(frame, Guard()); // straight back to the router
        var e = await Assert.ThrowsAsync<ControlProtocolException>(async () => await m.Router.ReceiveAsync(Guard()));
        Assert.Contains("reflected", e.Message);
    }

    [Fact]
    public async Task Agent_refuses_its_own_frame_reflected_back()
    {
        await using var m = await Mitm.Create(NewKey());
        await m.Agent.SendRawAsync(ControlMessageType.Ready, 77, ReadOnlyMemory<byte>.Empty, Guard());
        var frame = await ReadRawFrame(m.RawAgent);
        Assert.Equal(0, frame[6] & 1);

        await m.RawAgent.WriteAsync(frame, Guard());
        var e = await Assert.ThrowsAsync<ControlProtocolException>(async () => await m.Agent.ReceiveAsync(Guard()));
        Assert.Contains("reflected", e.Message);
    }

    [Fact]
    public async Task Forged_frame_without_a_tag_is_refused()
    {
        await using var m = await Mitm.Create(NewKey());
        // A well-formed frame from "the router" with sequence 1, but an all-zero tag (as Hello carries).
        var forged = ForgeFrame(ControlLink.Version, ControlMessageType.HandoffRequest, flags: 1, seq: 1, connectionId: 3, payload: new byte[40]);
        await m.RawAgent.WriteAsync(forged, Guard());
        await Assert.ThrowsAsync<ControlProtocolException>(async () => await m.Agent.ReceiveAsync(Guard()));
    }

    [Fact]
    public async Task Frame_with_bad_magic_is_refused()
    {
        await using var m = await Mitm.Create(NewKey());
        var forged = ForgeFrame(ControlLink.Version, ControlMessageType.Go, flags: 1, seq: 1, connectionId: 3, payload: []);
        forged[0] = (byte)'X';
        await m.RawAgent.WriteAsync(forged, Guard());
        var e = await Assert.ThrowsAsync<ControlProtocolException>(async () => await m.Agent.ReceiveAsync(Guard()));
        Assert.Contains("magic", e.Message);
    }

    [Fact]
    public async Task Frame_announcing_a_payload_over_the_limit_is_refused()
    {
        await using var m = await Mitm.Create(NewKey());
        var forged = ForgeFrame(ControlLink.Version, ControlMessageType.HandoffRequest, flags: 1, seq: 1, connectionId: 3, payload: []);
        BinaryPrimitives.WriteUInt32BigEndian(forged.AsSpan(24), ControlLink.MaxPayload + 1u);
        await m.RawAgent.WriteAsync(forged.AsMemory(0, HeaderLength), Guard());
        await Assert.ThrowsAsync<ControlProtocolException>(async () => await m.Agent.ReceiveAsync(Guard()));
    }

    [Fact]
    public async Task Hello_with_another_protocol_version_is_refused_naming_both_versions()
    {
        using var pair = LoopbackPair.Create();
        var raw = new NetworkStream(pair.Server, ownsSocket: false);
        var establish = ControlLink.EstablishAsync(new NetworkStream(pair.Client, ownsSocket: false), NewKey(), isRouter: true, Guard());
        _ = await ReadRawFrame(raw); // the router's Hello

        var payload = new byte[33];
        byte other = (byte)(ControlLink.Version + 1); // a peer one version ahead
        payload[0] = other;
        RandomNumberGenerator.Fill(payload.AsSpan(1));
        await raw.WriteAsync(ForgeFrame(ControlLink.Version, ControlMessageType.Hello, 0, 0, 0, payload), Guard());

        var e = await Assert.ThrowsAsync<ControlProtocolException>(() => establish);
        Assert.Contains($"version {other}", e.Message);
        Assert.Contains($"version {ControlLink.Version}", e.Message);
    }

    [Fact]
    public async Task First_frame_that_is_not_a_hello_is_refused()
    {
        using var pair = LoopbackPair.Create();
        var raw = new NetworkStream(pair.Server, ownsSocket: false);
        var establish = ControlLink.EstablishAsync(new NetworkStream(pair.Client, ownsSocket: false), NewKey(), isRouter: false, Guard());
        await raw.WriteAsync(ForgeFrame(ControlLink.Version, ControlMessageType.HandoffRequest, 1, 0, 0, new byte[33]), Guard());
        await Assert.ThrowsAsync<ControlProtocolException>(() => establish);
    }

    [Fact]
    public async Task Peer_closing_during_hello_is_refused()
    {
        using var pair = LoopbackPair.Create();
        var establish = ControlLink.EstablishAsync(new NetworkStream(pair.Client, ownsSocket: false), NewKey(), isRouter: true, Guard());
        pair.Server.Shutdown(SocketShutdown.Send);
        await Assert.ThrowsAsync<ControlProtocolException>(() => establish);
    }
}
