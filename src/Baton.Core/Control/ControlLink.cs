using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Baton.Control;

/// <summary>One control message as received: type, the connection it is about, and its payload.</summary>
public readonly record struct ControlMessage(ControlMessageType Type, ulong ConnectionId, byte[] Payload);

/// <summary>The link is not (or no longer) trustworthy: bad tag, bad sequence, bad version.</summary>
public sealed class ControlProtocolException(string message) : Exception(message);

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
    public const byte Version = 1;

    /// <summary>Largest payload accepted: a snapshot carries both socket queues (a few MiB at most).</summary>
    public const int MaxPayload = 64 << 20;

    private const int HeaderLength = 28;
    private const int TagLength = 32;
    private const int NonceLength = 32;
    private const byte FromRouter = 1;

    private readonly Stream _stream;
    private readonly bool _isRouter;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly byte[] _header = new byte[HeaderLength];
    private byte[] _sessionKey = [];
    private ulong _sendSeq;
    private ulong _receiveSeq;

    private ControlLink(Stream stream, bool isRouter)
    {
        _stream = stream;
        _isRouter = isRouter;
    }

    /// <summary>Runs the Hello exchange on <paramref name="stream"/> and returns the authenticated link.</summary>
    public static async Task<ControlLink> EstablishAsync(Stream stream, ClusterKey key, bool isRouter, CancellationToken ct)
    {
        var link = new ControlLink(stream, isRouter);
        var nonce = RandomNumberGenerator.GetBytes(NonceLength);
        var hello = new byte[1 + NonceLength];
        hello[0] = Version;
        nonce.CopyTo(hello, 1);
        await link.WriteFrameAsync(ControlMessageType.Hello, 0, hello, authenticate: false, ct).ConfigureAwait(false);
        var peer = await link.ReadFrameAsync(authenticate: false, ct).ConfigureAwait(false)
            ?? throw new ControlProtocolException("peer closed the control link during Hello");
        if (peer.Type != ControlMessageType.Hello || peer.Payload.Length != 1 + NonceLength)
            throw new ControlProtocolException($"expected Hello, got {peer.Type}");
        if (peer.Payload[0] != Version)
            throw new ControlProtocolException($"peer speaks control protocol version {peer.Payload[0]}, this is version {Version}");
        var peerNonce = peer.Payload.AsSpan(1);
        link._sessionKey = isRouter ? key.DeriveSessionKey(nonce, peerNonce) : key.DeriveSessionKey(peerNonce, nonce);
        return link;
    }

    /// <summary>Sends one authenticated message. Safe to call from several tasks.</summary>
    public ValueTask SendAsync(ControlMessageType type, ulong connectionId, ReadOnlyMemory<byte> payload, CancellationToken ct = default) =>
        WriteFrameAsync(type, connectionId, payload, authenticate: true, ct);

    /// <summary>
    /// Receives the next message, or null when the peer closed the link cleanly. Throws
    /// <see cref="ControlProtocolException"/> on anything unauthenticated; the link is then unusable.
    /// Call from one task at a time.
    /// </summary>
    public async ValueTask<ControlMessage?> ReceiveAsync(CancellationToken ct = default) =>
        await ReadFrameAsync(authenticate: true, ct).ConfigureAwait(false);

    private async ValueTask WriteFrameAsync(ControlMessageType type, ulong connectionId, ReadOnlyMemory<byte> payload, bool authenticate, CancellationToken ct)
    {
        if (payload.Length > MaxPayload) throw new ArgumentException("control payload too large");
        int total = HeaderLength + payload.Length + TagLength;
        byte[] frame = ArrayPool<byte>.Shared.Rent(total);
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var f = frame.AsSpan(0, total);
            "BATN"u8.CopyTo(f);
            f[4] = Version;
            f[5] = (byte)type;
            f[6] = _isRouter ? FromRouter : (byte)0;
            f[7] = 0;
            BinaryPrimitives.WriteUInt64BigEndian(f[8..], authenticate ? ++_sendSeq : 0);
            BinaryPrimitives.WriteUInt64BigEndian(f[16..], connectionId);
            BinaryPrimitives.WriteUInt32BigEndian(f[24..], (uint)payload.Length);
            payload.Span.CopyTo(f[HeaderLength..]);
            var tag = f[(HeaderLength + payload.Length)..];
            if (authenticate) HMACSHA256.HashData(_sessionKey, f[..(HeaderLength + payload.Length)], tag);
            else tag.Clear();
            await _stream.WriteAsync(frame.AsMemory(0, total), ct).ConfigureAwait(false);
            await _stream.FlushAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    private async ValueTask<ControlMessage?> ReadFrameAsync(bool authenticate, CancellationToken ct)
    {
        var h = _header;
        int got = await _stream.ReadAtLeastAsync(h, HeaderLength, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        if (got == 0) return null;
        if (got < HeaderLength) throw new ControlProtocolException("control link closed in the middle of a frame");
        if (!h.AsSpan(0, 4).SequenceEqual("BATN"u8)) throw new ControlProtocolException("not a Baton control frame (bad magic)");
        if (h[4] != Version) throw new ControlProtocolException($"control frame version {h[4]}, expected {Version}");
        uint length = BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(24));
        if (length > MaxPayload) throw new ControlProtocolException($"control frame of {length} bytes is over the limit");
        var body = new byte[HeaderLength + length + TagLength];
        h.CopyTo(body, 0);
        await _stream.ReadExactlyAsync(body.AsMemory(HeaderLength), ct).ConfigureAwait(false);
        var type = (ControlMessageType)h[5];
        ulong seq = BinaryPrimitives.ReadUInt64BigEndian(h.AsSpan(8));
        if (authenticate)
        {
            Span<byte> expected = stackalloc byte[TagLength];
            HMACSHA256.HashData(_sessionKey, body.AsSpan(0, HeaderLength + (int)length), expected);
            if (!CryptographicOperations.FixedTimeEquals(expected, body.AsSpan(HeaderLength + (int)length)))
                throw new ControlProtocolException($"control frame ({type}) failed authentication: the peer does not hold the cluster key");
            if ((h[6] & FromRouter) == (_isRouter ? FromRouter : 0))
                throw new ControlProtocolException("control frame came back in the wrong direction (reflected)");
            if (seq != _receiveSeq + 1)
                throw new ControlProtocolException($"control frame sequence {seq}, expected {_receiveSeq + 1} (replayed or lost)");
            _receiveSeq = seq;
        }
        return new ControlMessage(type, BinaryPrimitives.ReadUInt64BigEndian(h.AsSpan(16)),
            body.AsSpan(HeaderLength, (int)length).ToArray());
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        _writeLock.Dispose();
    }
}
