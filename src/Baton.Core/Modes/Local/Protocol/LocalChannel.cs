using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Baton.Interop;

namespace Baton.Modes.Local.Protocol;

/// <summary>Message types on the router–worker Unix socket.</summary>
public enum LocalMessageType : byte
{
    /// <summary><see cref="Protocol.Register"/>.</summary>
    Register = 1,
    /// <summary><see cref="Protocol.Registered"/>.</summary>
    Registered = 2,
    /// <summary><see cref="RegistrationRefused"/>.</summary>
    Refused = 3,
    /// <summary><see cref="Protocol.Pass"/>, with the client socket's descriptor.</summary>
    Pass = 4,
    /// <summary><see cref="Protocol.Return"/>, with the descriptor.</summary>
    Return = 5,
    /// <summary><see cref="Protocol.Closed"/>.</summary>
    Closed = 6,
}

/// <summary>One received message; <see cref="Fd"/> is the passed descriptor (owned by the receiver) or -1.</summary>
internal sealed record LocalMessage(LocalMessageType Type, ulong ConnectionId, byte[] Payload, int Fd)
{
    /// <summary>The payload as <typeparamref name="T"/>; a protocol error when the frame is another type or the payload another shape.</summary>
    public T Read<T>() where T : ILocalMessage<T> =>
        Type == T.Type && T.TryRead(Payload, out var message) ? message
            : throw new ControlProtocolException($"malformed {T.Type} ({Type}, {Payload.Length} payload bytes)");
}

/// <summary>
/// Framing over a connected Unix stream socket: [1: type][8: connection id][4: length][payload],
/// big-endian, with a Pass or Return message's fd as SCM_RIGHTS data on its first byte. Blocking
/// calls only: each side reads on a dedicated thread, and .NET's async engine never sees this
/// socket. Sends are serialized by a lock.
/// </summary>
internal sealed class LocalChannel : IDisposable
{
    public const int HeaderLength = 13;
    public const int MaxPayload = 64 << 20;
    private const int ControlSpace = 256;

    private readonly Socket _socket;
    private readonly Lock _sendLock = new();
    private readonly Queue<int> _fds = new();
    private byte[] _buffer = new byte[64 * 1024];
    private int _start, _end;
    private int _disposed;

    public LocalChannel(Socket socket)
    {
        _socket = socket;
        _socket.Blocking = true;
    }

    public Socket Socket => _socket;

    public static bool CarriesFd(LocalMessageType t) => t is LocalMessageType.Pass or LocalMessageType.Return;

    /// <summary>
    /// Sends one message about connection <paramref name="id"/>, with <paramref name="fd"/> attached
    /// (a <see cref="Pass"/> or <see cref="Return"/>). Throws <see cref="NativeCallException"/> or
    /// <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Send<T>(T message, ulong id, SafeHandle? fd = null) where T : ILocalMessage<T>
    {
        int length = message.Length;
        if (length > MaxPayload) throw new ArgumentException($"payload of {length} bytes is too large", nameof(message));
        var frame = new byte[HeaderLength + length];
        frame[0] = (byte)T.Type;
        BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(1), id);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(9), length);
        message.Write(frame.AsSpan(HeaderLength));
        SendFrame(frame, fd);
    }

    private unsafe void SendFrame(byte[] message, SafeHandle? fd)
    {
        lock (_sendLock)
        {
            using var sock = new FdLease(_socket.SafeHandle);
            using var passedLease = fd is null ? default : new FdLease(fd);
            int passed = fd is null ? -1 : passedLease.Fd;
            int sent = 0;
            byte* control = stackalloc byte[24]; // CMSG_SPACE(sizeof(int))
            fixed (byte* p = message)
            {
                while (sent < message.Length)
                {
                    var iov = new IoVec { Base = p + sent, Length = (nuint)(message.Length - sent) };
                    var hdr = new MsgHdr { Iov = &iov, IovLength = 1 };
                    if (passed >= 0 && sent == 0)
                    {
                        var c = (CmsgHdr*)control;
                        c->Length = (nuint)(sizeof(CmsgHdr) + sizeof(int));
                        c->Level = Libc.SOL_SOCKET;
                        c->Type = Libc.SCM_RIGHTS;
                        *(int*)(control + sizeof(CmsgHdr)) = passed;
                        hdr.Control = control;
                        hdr.ControlLength = 24;
                    }
                    nint n = Libc.SendMsg(sock.Fd, &hdr, Libc.MSG_NOSIGNAL);
                    if (n < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == Libc.EINTR) continue;
                        throw new NativeCallException("sendmsg", errno);
                    }
                    sent += (int)n;
                }
            }
        }
    }

    /// <summary>
    /// Blocks for the next message; null when the peer closed (or <see cref="Shutdown"/> was called).
    /// Throws <see cref="ControlProtocolException"/> on a malformed stream.
    /// </summary>
    public LocalMessage? Receive()
    {
        while (true)
        {
            int have = _end - _start;
            if (have >= HeaderLength)
            {
                int length = BinaryPrimitives.ReadInt32BigEndian(_buffer.AsSpan(_start + 9));
                if (length < 0 || length > MaxPayload) throw new ControlProtocolException($"message of {length} bytes on the local link");
                if (have >= HeaderLength + length)
                {
                    var type = (LocalMessageType)_buffer[_start];
                    ulong id = BinaryPrimitives.ReadUInt64BigEndian(_buffer.AsSpan(_start + 1));
                    var payload = _buffer.AsSpan(_start + HeaderLength, length).ToArray();
                    _start += HeaderLength + length;
                    int fd = -1;
                    if (CarriesFd(type))
                    {
                        if (!_fds.TryDequeue(out fd)) throw new ControlProtocolException($"{type} message without a file descriptor");
                    }
                    return new LocalMessage(type, id, payload, fd);
                }
                EnsureSpace(HeaderLength + length);
            }
            else EnsureSpace(HeaderLength);
            if (Fill() == 0) return null;
        }
    }

    private void EnsureSpace(int messageLength)
    {
        if (_start == _end) _start = _end = 0;
        if (_buffer.Length - _start >= messageLength && _end < _buffer.Length) return;
        int have = _end - _start;
        if (_buffer.Length < messageLength || _buffer.Length - have < 4096)
        {
            var bigger = new byte[Math.Max(messageLength, _buffer.Length * 2)];
            Buffer.BlockCopy(_buffer, _start, bigger, 0, have);
            _buffer = bigger;
        }
        else Buffer.BlockCopy(_buffer, _start, _buffer, 0, have);
        _start = 0;
        _end = have;
    }

    private unsafe int Fill()
    {
        byte* control = stackalloc byte[ControlSpace];
        try
        {
            // Held through the blocking recvmsg: Shutdown wakes it before Dispose closes the socket.
            using var sock = new FdLease(_socket.SafeHandle);
            fixed (byte* p = _buffer)
            {
                while (true)
                {
                    var iov = new IoVec { Base = p + _end, Length = (nuint)(_buffer.Length - _end) };
                    var hdr = new MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = ControlSpace };
                    nint n = Libc.RecvMsg(sock.Fd, &hdr, Libc.MSG_CMSG_CLOEXEC);
                    if (n < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == Libc.EINTR) continue;
                        throw new NativeCallException("recvmsg", errno);
                    }
                    TakeFds(control, (int)hdr.ControlLength);
                    if ((hdr.Flags & Libc.MSG_CTRUNC) != 0) throw new ControlProtocolException("file descriptors lost: control data truncated");
                    _end += (int)n;
                    return (int)n;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
    }

    private unsafe void TakeFds(byte* control, int length)
    {
        int offset = 0;
        while (offset + sizeof(CmsgHdr) <= length)
        {
            var c = (CmsgHdr*)(control + offset);
            int len = (int)c->Length;
            if (len < sizeof(CmsgHdr) || offset + len > length) break;
            if (c->Level == Libc.SOL_SOCKET && c->Type == Libc.SCM_RIGHTS)
            {
                int count = (len - sizeof(CmsgHdr)) / sizeof(int);
                for (int i = 0; i < count; i++) _fds.Enqueue(((int*)(control + offset + sizeof(CmsgHdr)))[i]);
            }
            offset += (len + 7) & ~7;
        }
    }

    /// <summary>Wakes a blocked <see cref="Receive"/> (it returns null) and fails later sends.</summary>
    public void Shutdown()
    {
        try { _socket.Shutdown(SocketShutdown.Both); }
        catch (Exception e) when (Faults.IsConnectionLost(e)) { }
    }

    /// <summary>Closes the socket and any received descriptors no message claimed. Call after the reader stopped.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Shutdown();
        _socket.Dispose();
        while (_fds.TryDequeue(out int fd)) Libc.Close(fd);
    }
}
