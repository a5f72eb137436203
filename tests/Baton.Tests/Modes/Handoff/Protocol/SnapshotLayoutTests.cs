using System.Net;
using System.Text;
using Baton.Modes.Handoff.Protocol;
using Baton.Modes.Handoff.Repair;

namespace Baton.Tests.Modes.Handoff.Protocol;

public class SnapshotLayoutTests
{
    private static TcpSnapshot Sample(byte[]? send = null, int unsent = 3, byte[]? receive = null) => new()
    {
        Local = new IPEndPoint(IPAddress.Parse("10.0.0.1"), 80),
        Remote = new IPEndPoint(IPAddress.Parse("192.168.7.200"), 54321),
        SendSeq = 0xFFFF_FFF0,
        ReceiveSeq = 123_456_789,
        SendQueue = send ?? Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\n..."),
        SendUnsent = unsent,
        ReceiveQueue = receive ?? Encoding.ASCII.GetBytes("GET /next HTTP/1.1\r\nHost: a\r\n\r\n"),
        Mss = 1448,
        Timestamps = true,
        Sack = false,
        WindowScaling = true,
        SendWindowScale = 7,
        ReceiveWindowScale = 9,
        Timestamp = 0x8000_0001,
        Window = new TcpRepairWindow(0x11111111, 0x22222222, 0x33333333, 0x44444444, 0xFEDCBA98),
    };

    private static byte[] Encode(TcpSnapshot s)
    {
        var b = new byte[SnapshotLayout.Length(s)];
        SnapshotLayout.Write(s, b);
        return b;
    }

    // TryRead's false as an exception, so that each case below also shows it throws nothing else.
    private static TcpSnapshot Decode(ReadOnlySpan<byte> bytes) =>
        SnapshotLayout.TryRead(bytes, out var s) ? s! : throw new FormatException("not a snapshot");

    private static void AssertSame(TcpSnapshot expected, TcpSnapshot actual)
    {
        Assert.Equal(expected.Local, actual.Local);
        Assert.Equal(expected.Remote, actual.Remote);
        Assert.Equal(expected.SendSeq, actual.SendSeq);
        Assert.Equal(expected.ReceiveSeq, actual.ReceiveSeq);
        Assert.Equal(expected.SendQueue, actual.SendQueue);
        Assert.Equal(expected.SendUnsent, actual.SendUnsent);
        Assert.Equal(expected.ReceiveQueue, actual.ReceiveQueue);
        Assert.Equal(expected.Mss, actual.Mss);
        Assert.Equal(expected.Timestamps, actual.Timestamps);
        Assert.Equal(expected.Sack, actual.Sack);
        Assert.Equal(expected.WindowScaling, actual.WindowScaling);
        Assert.Equal(expected.SendWindowScale, actual.SendWindowScale);
        Assert.Equal(expected.ReceiveWindowScale, actual.ReceiveWindowScale);
        Assert.Equal(expected.Timestamp, actual.Timestamp);
        Assert.Equal(expected.Window, actual.Window);
    }

    [Fact]
    public void Encode_decode_round_trips_every_field_and_both_queues()
    {
        var s = Sample();
        var bytes = Encode(s);
        Assert.Equal(SnapshotLayout.Length(s), bytes.Length);
        AssertSame(s, Decode(bytes));
    }

    [Theory]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    [InlineData(false, false, false)]
    [InlineData(true, true, true)]
    public void Each_option_flag_round_trips_on_its_own(bool ts, bool sack, bool wscale)
    {
        var s = Sample() with { Timestamps = ts, Sack = sack, WindowScaling = wscale };
        AssertSame(s, Decode(Encode(s)));
    }

    [Fact]
    public void Empty_queues_round_trip()
    {
        var s = Sample(send: [], unsent: 0, receive: []);
        var d = Decode(Encode(s));
        AssertSame(s, d);
        Assert.Empty(d.SendQueue);
        Assert.Empty(d.ReceiveQueue);
    }

    [Fact]
    public void Large_queues_round_trip()
    {
        var rnd = new Random(1234);
        var send = new byte[300_000];
        var recv = new byte[700_000];
        rnd.NextBytes(send);
        rnd.NextBytes(recv);
        var s = Sample(send, unsent: 100_000, receive: recv);
        AssertSame(s, Decode(Encode(s)));
    }

    [Fact]
    public void Encoding_into_a_larger_buffer_writes_a_prefix_that_decodes()
    {
        var s = Sample();
        var big = new byte[SnapshotLayout.Length(s) + 50];
        SnapshotLayout.Write(s, big);
        AssertSame(s, Decode(big.AsSpan(0, SnapshotLayout.Length(s))));
    }

    [Fact]
    public void Encoding_into_a_too_small_buffer_is_refused()
    {
        var s = Sample();
        Assert.Throws<ArgumentException>(() => SnapshotLayout.Write(s, new byte[SnapshotLayout.Length(s) - 1]));
    }

    [Fact]
    public void Ipv6_endpoints_cannot_be_encoded()
    {
        var s = Sample() with { Remote = new IPEndPoint(IPAddress.IPv6Loopback, 5000) };
        Assert.Throws<ArgumentException>(() => SnapshotLayout.Write(s, new byte[SnapshotLayout.Length(s)]));
    }

    [Fact]
    public void WithUnreadPrefix_puts_the_prefix_in_front_and_keeps_the_receive_sequence()
    {
        var s = Sample(receive: Encoding.ASCII.GetBytes("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"));
        var prefix = Encoding.ASCII.GetBytes("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
        var p = s.WithUnreadPrefix(prefix);

        Assert.Equal("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n", Encoding.ASCII.GetString(p.ReceiveQueue));
        Assert.Equal(s.ReceiveSeq, p.ReceiveSeq);
        Assert.Equal(s.SendSeq, p.SendSeq);
        Assert.Equal(s.SendQueue, p.SendQueue);
        Assert.Equal(SnapshotLayout.Length(s) + prefix.Length, SnapshotLayout.Length(p));
        // The original is unchanged.
        Assert.Equal("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n", Encoding.ASCII.GetString(s.ReceiveQueue));
        // And the prefixed snapshot survives the wire.
        AssertSame(p, Decode(Encode(p)));
    }

    [Fact]
    public void WithUnreadPrefix_on_an_empty_queue_makes_the_prefix_the_queue()
    {
        var s = Sample(receive: []);
        var p = s.WithUnreadPrefix("abc"u8);
        Assert.Equal("abc"u8.ToArray(), p.ReceiveQueue);
        Assert.Equal(s.ReceiveSeq, p.ReceiveSeq);
    }

    [Fact]
    public void WithUnreadPrefix_of_nothing_changes_nothing()
    {
        var s = Sample();
        var p = s.WithUnreadPrefix(ReadOnlySpan<byte>.Empty);
        Assert.Equal(s.ReceiveQueue, p.ReceiveQueue);
        Assert.Equal(s.ReceiveSeq, p.ReceiveSeq);
    }

    [Fact]
    public void Decode_of_empty_input_is_a_format_error() =>
        Assert.Throws<FormatException>(() => Decode([]));

    [Fact]
    public void Decode_of_every_truncation_is_a_format_error()
    {
        var bytes = Encode(Sample());
        for (int len = 0; len < bytes.Length; len++)
        {
            int l = len;
            Assert.Throws<FormatException>(() => Decode(bytes.AsSpan(0, l)));
        }
    }

    [Fact]
    public void Decode_with_trailing_bytes_is_a_format_error()
    {
        var bytes = Encode(Sample());
        var longer = new byte[bytes.Length + 1];
        bytes.CopyTo(longer, 0);
        Assert.Throws<FormatException>(() => Decode(longer));
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0xFF)]
    [InlineData(0x7F)]
    public void Decode_of_garbage_is_a_format_error(byte fill)
    {
        var garbage = new byte[200];
        Array.Fill(garbage, fill);
        Assert.Throws<FormatException>(() => Decode(garbage));
    }

    [Fact]
    public void Decode_of_random_bytes_never_throws_anything_but_a_format_error()
    {
        var rnd = new Random(42);
        for (int i = 0; i < 2000; i++)
        {
            var garbage = new byte[rnd.Next(0, 160)];
            rnd.NextBytes(garbage);
            try { Decode(garbage); }
            catch (FormatException) { }
        }
    }

    [Fact]
    public void Decode_refuses_more_unsent_bytes_than_the_send_queue_holds()
    {
        var s = Sample(send: new byte[4], unsent: 4);
        var bytes = Encode(s);
        // SendUnsent lives right after the two endpoints, two sequence numbers and the send queue length.
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(6 + 6 + 4 + 4 + 4), 5);
        Assert.Throws<FormatException>(() => Decode(bytes));
    }

    [Fact]
    public void Decode_refuses_a_negative_queue_length()
    {
        var bytes = Encode(Sample());
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(6 + 6 + 4 + 4), -1);
        Assert.Throws<FormatException>(() => Decode(bytes));
    }
}
