using System.Net.Sockets;
using System.Runtime.InteropServices;
using Baton.Interop;
using Baton.Modes;
using Baton.Modes.Local.Protocol;

namespace Baton.Tests.Modes.Local.Protocol;

/// <summary>The router–worker messages over a real connected Unix socket pair, descriptors included.</summary>
public sealed class LocalChannelTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"baton-{Guid.NewGuid():N}.sock");
    private readonly Socket _listener;
    private readonly LocalChannel _router, _worker;

    public LocalChannelTests()
    {
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(_path));
        _listener.Listen(1);
        var worker = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        worker.Connect(new UnixDomainSocketEndPoint(_path));
        _router = new LocalChannel(_listener.Accept());
        _worker = new LocalChannel(worker);
    }

    public void Dispose()
    {
        _router.Dispose();
        _worker.Dispose();
        _listener.Dispose();
        File.Delete(_path);
    }

    private static T Cross<T>(LocalChannel from, LocalChannel to, T message, SafeHandle? fd = null) where T : ILocalMessage<T>
    {
        from.Send(message, 42, fd);
        var m = to.Receive()!;
        Assert.Equal((T.Type, 42UL), (m.Type, m.ConnectionId));
        Assert.Equal(fd is not null, m.Fd >= 0);
        if (m.Fd >= 0) Libc.Close(m.Fd);
        return m.Read<T>();
    }

    [Fact]
    public void Every_message_crosses_the_channel_and_reads_back_as_sent()
    {
        Assert.Equal("worker-ü1", Cross(_worker, _router, new Register("worker-ü1")).Name);
        Cross(_router, _worker, new Registered());
        Assert.Equal("a worker named w1 is already registered", Cross(_router, _worker, new RegistrationRefused("a worker named w1 is already registered")).Reason);

        using var passed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var pass = Cross(_router, _worker, new Pass(123_456_789, "GET / HTTP/1.1\r\n\r\n"u8.ToArray()), passed.SafeHandle);
        Assert.Equal(123_456_789, pass.RouterTimestamp);
        Assert.Equal("GET / HTTP/1.1\r\n\r\n"u8.ToArray(), pass.Unread.ToArray());

        var back = Cross(_worker, _router, new Return(987_654_321, 5_000, "GET /next"u8.ToArray()), passed.SafeHandle);
        Assert.Equal((987_654_321L, 5_000L), (back.WorkerTimestamp, back.PassTicks));
        Assert.Equal("GET /next"u8.ToArray(), back.Unread.ToArray());

        Cross(_worker, _router, new Closed());
    }

    [Fact]
    public void A_Return_too_short_for_its_timestamps_does_not_read_and_another_type_is_a_protocol_error()
    {
        Assert.False(Return.TryRead(new byte[15], out _));
        Assert.False(Pass.TryRead(new byte[7], out _));
        _router.Send(new Registered(), 1);
        var m = _worker.Receive()!;
        Assert.Throws<ControlProtocolException>(() => m.Read<RegistrationRefused>());
    }
}
