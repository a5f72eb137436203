using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;

namespace Baton.Modes.Handoff.Protocol;

/// <summary>One control message as received: type, the connection it is about, and its payload.</summary>
public readonly record struct ControlMessage(ControlMessageType Type, ulong ConnectionId, byte[] Payload)
{
    /// <summary>The payload as <typeparamref name="T"/>; a protocol error when the frame is another type or the payload another shape.</summary>
    public T Read<T>() where T : IControlMessage<T> =>
        Type == T.Type && T.TryRead(Payload, out var message) ? message
            : throw new ControlProtocolException($"malformed {T.Type} ({Type}, {Payload.Length} payload bytes)");
}

/// <summary>
/// A framed, versioned, authenticated message link between the router and one agent, over one
/// persistent TCP connection.
/// <para>
/// Frame: magic "BATN", version, type, flags (bit 0: sent by the router), reserved, sequence
/// (u64), connection id (u64), payload length (u32), payload, then HMAC-SHA256 over all of that
/// with the link's session key. Sequence numbers start at 1 in each direction and must grow by one,
/// so a frame cannot be replayed, dropped or reordered; the direction bit stops reflection. The
/// session key comes from the cluster key and both sides' Hello nonces, so a peer without the
/// cluster key gets no frame accepted after Hello.
/// </para>
/// </summary>
public sealed class ControlLink : IAsyncDisposable
{
    /// <summary>Protocol version carried in every frame.</summary>
    public const byte Version = 3; // 2: ApplicationHealth (2026-12-04); 3: Held, connections kept across a router restart (2026-12-08)

    /// <summary>Largest payload accepted: a snapshot carries both socket queues (a few MiB at most).</summary>
    public const int MaxPayload = 64 << 20;

    private const int HeaderLength = 28;
    private const int TagLength = 32;
    private const byte FromRouter = 1;

    private readonly Stream _stream;
    // Reads whatever has arrived into its own buffer: one receive call per burst of frames, where
    // reading header and payload straight from the socket took two or more per frame.
    private readonly PipeReader _reader;
    private readonly bool _isRouter;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private volatile bool _closed;
    // Keyed once per link: a one-shot HMAC sets up its key for every frame.
    private IncrementalHash? _sendMac, _receiveMac;
    private ulong _sendSeq;
    private ulong _receiveSeq;

    /// <summary>
    /// Whether bytes after the last message received are buffered already (all or part of the next
    /// frame): a caller that waits on the socket itself before receiving must not wait then.
    /// </summary>
    public bool HasBufferedInput { get; private set; }

    private ControlLink(Stream stream, bool isRouter)
    {
        _stream = stream;
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 << 10, minimumReadSize: 4 << 10, leaveOpen: true));
        _isRouter = isRouter;
    }

    /// <summary>Runs the Hello exchange on <paramref name="stream"/> and returns the authenticated link.</summary>
    public static async Task<ControlLink> EstablishAsync(Stream stream, ClusterKey key, bool isRouter, CancellationToken ct)
    {
        var link = new ControlLink(stream, isRouter);
        var nonce = RandomNumberGenerator.GetBytes(Hello.NonceLength);
        await link.WriteFrameAsync(Hello.Type, new Hello(Version, nonce), 0, authenticate: false, ct).ConfigureAwait(false);
        var peer = await link.ReadHelloAsync(ct).ConfigureAwait(false)
            ?? throw new ControlProtocolException("peer closed the control link during Hello");
        if (peer.Type != ControlMessageType.Hello || !Hello.TryRead(peer.Payload, out var hello))
            throw new ControlProtocolException($"expected Hello, got {peer.Type}");
        if (hello.Version != Version)
            throw new ControlProtocolException($"peer speaks control protocol version {hello.Version}, this is version {Version}");
        var peerNonce = hello.Nonce.Span;
        var sessionKey = isRouter ? key.DeriveSessionKey(nonce, peerNonce) : key.DeriveSessionKey(peerNonce, nonce);
        link._sendMac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, sessionKey);
        link._receiveMac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, sessionKey);
        return link;
    }

    /// <summary>Sends one authenticated message about connection <paramref name="connectionId"/>. Safe to call from several tasks.</summary>
    public ValueTask SendAsync<T>(T message, ulong connectionId, CancellationToken ct = default) where T : IControlMessage<T> =>
        WriteFrameAsync(T.Type, message, connectionId, authenticate: true, ct);

    /// <summary>
    /// Sends one authenticated frame with a payload as given, whatever its shape: for tests of how
    /// a peer meets a payload that is not the type's layout. Everything else sends typed messages.
    /// </summary>
    internal ValueTask SendRawAsync(ControlMessageType type, ulong connectionId, ReadOnlyMemory<byte> payload, CancellationToken ct = default) =>
        WriteFrameAsync(type, new RawPayload(payload), connectionId, authenticate: true, ct);

    /// <summary>
    /// Receives the next message, or null when the peer closed the link cleanly. Throws
    /// <see cref="ControlProtocolException"/> on anything unauthenticated; the link is then unusable.
    /// Call from one task at a time.
    /// </summary>
    public async ValueTask<ControlMessage?> ReceiveAsync(CancellationToken ct = default) =>
        await ReadFrameAsync(ct).ConfigureAwait(false);

    /// <summary>
    /// Sends as <see cref="SendAsync{T}"/> does, blocking the calling thread: for a link's own
    /// receive thread (<see cref="LinkReceiveThread"/>), which must not block on an async call.
    /// </summary>
    public void Send<T>(T message, ulong connectionId) where T : IControlMessage<T>
    {
        byte[] frame = Payload(message, out int total);
        try
        {
            _writeLock.Wait();
            try
            {
                Seal(T.Type, frame.AsSpan(0, total), connectionId, authenticate: true);
                _stream.Write(frame, 0, total);
                _stream.Flush();
            }
            catch (ObjectDisposedException) when (_closed)
            {
                throw new IOException("control link closed");
            }
            finally
            {
                _writeLock.Release();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    private async ValueTask WriteFrameAsync<T>(ControlMessageType type, T message, ulong connectionId, bool authenticate, CancellationToken ct) where T : IControlMessage<T>
    {
        byte[] frame = Payload(message, out int total);
        try
        {
            await _writeLock.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                Seal(type, frame.AsSpan(0, total), connectionId, authenticate);
                await _stream.WriteAsync(frame.AsMemory(0, total), ct).ConfigureAwait(false);
                await _stream.FlushAsync(ct).ConfigureAwait(false);
            }
            catch (ObjectDisposedException) when (_closed)
            {
                throw new IOException("control link closed");
            }
            finally
            {
                _writeLock.Release();
            }
        }
        finally
        {
            // Also when the wait for the lock was cancelled (the frame was not returned then, before).
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    // A pooled frame with the payload written straight into it (a snapshot is not copied twice), before the lock.
    private static byte[] Payload<T>(T message, out int total) where T : IControlMessage<T>
    {
        int length = message.Length;
        if (length > MaxPayload) throw new ArgumentException("control payload too large");
        total = HeaderLength + length + TagLength;
        byte[] frame = ArrayPool<byte>.Shared.Rent(total);
        message.Write(frame.AsSpan(HeaderLength, length));
        return frame;
    }

    // The header and the tag, under the write lock: the sequence number counts frames in the order they are written.
    private void Seal(ControlMessageType type, Span<byte> f, ulong connectionId, bool authenticate)
    {
        // Closed meanwhile (the peer went, or the host stops): an IOException, as a failed
        // write, not the disposed MAC's or stream's ObjectDisposedException.
        if (_closed) throw new IOException("control link closed");
        int length = f.Length - HeaderLength - TagLength;
        "BATN"u8.CopyTo(f);
        f[4] = Version;
        f[5] = (byte)type;
        f[6] = _isRouter ? FromRouter : (byte)0;
        f[7] = 0;
        BinaryPrimitives.WriteUInt64BigEndian(f[8..], authenticate ? ++_sendSeq : 0);
        BinaryPrimitives.WriteUInt64BigEndian(f[16..], connectionId);
        BinaryPrimitives.WriteUInt32BigEndian(f[24..], (uint)length);
        var tag = f[(HeaderLength + length)..];
        if (authenticate)
        {
            _sendMac!.AppendData(f[..(HeaderLength + length)]);
            _sendMac.GetHashAndReset(tag);
        }
        else tag.Clear();
    }

    /// <summary>
    /// The peer's Hello, read straight from the stream and no further: nothing after it is taken
    /// into the reader's buffer before the link is established (a test reads what follows raw).
    /// </summary>
    private async ValueTask<ControlMessage?> ReadHelloAsync(CancellationToken ct)
    {
        const int MaxHello = 1 + Hello.NonceLength;
        var header = new byte[HeaderLength];
        int got = await _stream.ReadAtLeastAsync(header, HeaderLength, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        if (got == 0) return null;
        if (got < HeaderLength) throw new ControlProtocolException("control link closed in the middle of a frame");
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(24));
        if (length > MaxHello) throw new ControlProtocolException($"expected Hello, got a frame of {length} bytes");
        var frame = new byte[HeaderLength + length + TagLength];
        header.CopyTo(frame, 0);
        await _stream.ReadExactlyAsync(frame.AsMemory(HeaderLength), ct).ConfigureAwait(false);
        var sequence = new ReadOnlySequence<byte>(frame);
        return TryTakeFrame(ref sequence, authenticate: false);
    }

    private async ValueTask<ControlMessage?> ReadFrameAsync(CancellationToken ct)
    {
        while (true)
        {
            var read = await _reader.ReadAsync(ct).ConfigureAwait(false);
            var buffer = read.Buffer;
            ControlMessage? message;
            try
            {
                message = TryTakeFrame(ref buffer, authenticate: true);
            }
            catch
            {
                _reader.AdvanceTo(buffer.Start);
                throw;
            }
            if (message is not null)
            {
                HasBufferedInput = !buffer.IsEmpty;
                _reader.AdvanceTo(buffer.Start);
                return message;
            }
            if (read.IsCompleted)
            {
                bool clean = buffer.IsEmpty;
                _reader.AdvanceTo(buffer.End);
                if (clean) return null;
                throw new ControlProtocolException("control link closed in the middle of a frame");
            }
            _reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>
    /// The first frame in <paramref name="buffer"/>, checked, and the buffer moved past it; null
    /// while it has not arrived whole. A bad header throws as soon as the header is in.
    /// </summary>
    private ControlMessage? TryTakeFrame(ref ReadOnlySequence<byte> buffer, bool authenticate)
    {
        if (buffer.Length < HeaderLength) return null;
        Span<byte> h = stackalloc byte[HeaderLength];
        buffer.Slice(0, HeaderLength).CopyTo(h);
        if (!h[..4].SequenceEqual("BATN"u8)) throw new ControlProtocolException("not a Baton control frame (bad magic)");
        if (h[4] != Version) throw new ControlProtocolException($"control frame version {h[4]}, expected {Version}");
        uint length = BinaryPrimitives.ReadUInt32BigEndian(h[24..]);
        if (length > MaxPayload) throw new ControlProtocolException($"control frame of {length} bytes is over the limit");
        long total = HeaderLength + length + TagLength;
        if (buffer.Length < total) return null;

        var type = (ControlMessageType)h[5];
        ulong seq = BinaryPrimitives.ReadUInt64BigEndian(h[8..]);
        var signed = buffer.Slice(0, HeaderLength + length);
        if (authenticate)
        {
            foreach (var segment in signed) _receiveMac!.AppendData(segment.Span);
            Span<byte> expected = stackalloc byte[TagLength];
            _receiveMac!.GetHashAndReset(expected);
            Span<byte> tag = stackalloc byte[TagLength];
            buffer.Slice(signed.End, TagLength).CopyTo(tag);
            if (!CryptographicOperations.FixedTimeEquals(expected, tag))
                throw new ControlProtocolException($"control frame ({type}) failed authentication: the peer does not hold the cluster key");
            if ((h[6] & FromRouter) == (_isRouter ? FromRouter : 0))
                throw new ControlProtocolException("control frame came back in the wrong direction (reflected)");
            if (seq != _receiveSeq + 1)
                throw new ControlProtocolException($"control frame sequence {seq}, expected {_receiveSeq + 1} (replayed or lost)");
            _receiveSeq = seq;
        }
        byte[] payload = length == 0 ? [] : signed.Slice(HeaderLength).ToArray();
        buffer = buffer.Slice(total);
        return new ControlMessage(type, BinaryPrimitives.ReadUInt64BigEndian(h[16..]), payload);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // The stream, not the reader: a receive may be pending on another task, and closing the
        // stream fails it with an IOException its loop expects; completing the reader under it
        // would not be safe (a PipeReader is single-consumer). Its pooled buffer goes to the GC.
        _closed = true;
        await _stream.DisposeAsync().ConfigureAwait(false);
        // A write in progress fails on the closed stream; the MAC it uses goes only after it. The
        // lock itself is not disposed: a sender may still be about to wait on it (a hand-off racing
        // a dead agent's link got "Cannot access a disposed object: SemaphoreSlim" as its 502 reason).
        await _writeLock.WaitAsync().ConfigureAwait(false);
        _sendMac?.Dispose();
        _writeLock.Release();
        // The receive MAC is left to the GC: a receive loop may be checking a frame with it now.
    }
}

/// <summary>A payload sent as given (<see cref="ControlLink.SendRawAsync"/>); its type is per frame, so <see cref="Type"/> is never asked.</summary>
internal readonly record struct RawPayload(ReadOnlyMemory<byte> Payload) : IControlMessage<RawPayload>
{
    public static ControlMessageType Type => throw new NotSupportedException("a raw payload's type is per frame");
    int IControlMessage<RawPayload>.Length => Payload.Length;
    void IControlMessage<RawPayload>.Write(Span<byte> payload) => Payload.Span.CopyTo(payload);
    public static bool TryRead(ReadOnlyMemory<byte> payload, out RawPayload message) => throw new NotSupportedException("a raw payload is only sent");
}
