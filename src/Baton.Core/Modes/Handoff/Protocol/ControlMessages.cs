using System.Buffers.Binary;
using System.Net.NetworkInformation;
using System.Text;
using Baton.Modes.Handoff.Repair;

namespace Baton.Modes.Handoff.Protocol;

/// <summary>
/// One control message's payload: its type and its layout, written and read side by side so that
/// the router and the agent share one definition of each (the frame around it is
/// <see cref="ControlLink"/>'s). <see cref="TryRead"/> is false on a payload of the wrong shape.
/// </summary>
public interface IControlMessage<TSelf> where TSelf : IControlMessage<TSelf>
{
    /// <summary>The frame type this payload travels under.</summary>
    static abstract ControlMessageType Type { get; }

    /// <summary>Bytes <see cref="Write"/> needs.</summary>
    int Length { get; }

    /// <summary>Writes the payload into exactly <see cref="Length"/> bytes.</summary>
    void Write(Span<byte> payload);

    /// <summary>Reads a payload <see cref="Write"/> wrote; false when it has another shape.</summary>
    static abstract bool TryRead(ReadOnlyMemory<byte> payload, out TSelf message);
}

/// <summary>Both ways, first and unauthenticated: the protocol version and a fresh nonce.</summary>
public readonly record struct Hello(byte Version, ReadOnlyMemory<byte> Nonce) : IControlMessage<Hello>
{
    /// <summary>Bytes of the nonce each side contributes to the session key.</summary>
    public const int NonceLength = 32;

    public static ControlMessageType Type => ControlMessageType.Hello;
    int IControlMessage<Hello>.Length => 1 + NonceLength;

    void IControlMessage<Hello>.Write(Span<byte> payload)
    {
        payload[0] = Version;
        Nonce.Span.CopyTo(payload[1..]);
    }

    public static bool TryRead(ReadOnlyMemory<byte> payload, out Hello message)
    {
        message = payload.Length == 1 + NonceLength ? new Hello(payload.Span[0], payload[1..]) : default;
        return payload.Length == 1 + NonceLength;
    }
}

/// <summary>A → R, first authenticated message: the agent's name (UTF-8, at most 255 bytes) and MAC address.</summary>
public readonly record struct Welcome(string Name, PhysicalAddress Mac) : IControlMessage<Welcome>
{
    public static ControlMessageType Type => ControlMessageType.Welcome;
    int IControlMessage<Welcome>.Length => 1 + Encoding.UTF8.GetByteCount(Name) + 6;

    void IControlMessage<Welcome>.Write(Span<byte> payload)
    {
        int nameLength = Encoding.UTF8.GetBytes(Name, payload[1..]);
        payload[0] = checked((byte)nameLength);
        Mac.GetAddressBytes().CopyTo(payload[(1 + nameLength)..]);
    }

    public static bool TryRead(ReadOnlyMemory<byte> payload, out Welcome message)
    {
        message = default;
        var p = payload.Span;
        if (p.Length < 1 || p.Length != 1 + p[0] + 6) return false;
        message = new Welcome(Encoding.UTF8.GetString(p.Slice(1, p[0])), new PhysicalAddress(p.Slice(1 + p[0], 6).ToArray()));
        return true;
    }
}

/// <summary>R → A: restore this connection in repair mode, silent, and answer <see cref="Ready"/> or <see cref="Refused"/>.</summary>
public readonly record struct HandoffRequest(TcpSnapshot Snapshot) : IControlMessage<HandoffRequest>
{
    public static ControlMessageType Type => ControlMessageType.HandoffRequest;
    int IControlMessage<HandoffRequest>.Length => SnapshotLayout.Length(Snapshot);
    void IControlMessage<HandoffRequest>.Write(Span<byte> payload) => SnapshotLayout.Write(Snapshot, payload);

    public static bool TryRead(ReadOnlyMemory<byte> payload, out HandoffRequest message)
    {
        bool ok = SnapshotLayout.TryRead(payload.Span, out var snapshot);
        message = new HandoffRequest(snapshot!);
        return ok;
    }
}

/// <summary>A → R: restored and waiting; steer the packets here.</summary>
public readonly record struct Ready : IControlMessage<Ready>
{
    public static ControlMessageType Type => ControlMessageType.Ready;
    int IControlMessage<Ready>.Length => 0;
    void IControlMessage<Ready>.Write(Span<byte> payload) { }
    public static bool TryRead(ReadOnlyMemory<byte> payload, out Ready message) => Empty.TryRead(payload, out message);
}

/// <summary>A → R: could not restore (the reason, UTF-8); the router keeps the connection.</summary>
public readonly record struct Refused(string Reason) : IControlMessage<Refused>
{
    public static ControlMessageType Type => ControlMessageType.Refused;
    int IControlMessage<Refused>.Length => Encoding.UTF8.GetByteCount(Reason);
    void IControlMessage<Refused>.Write(Span<byte> payload) => Encoding.UTF8.GetBytes(Reason, payload);

    public static bool TryRead(ReadOnlyMemory<byte> payload, out Refused message)
    {
        message = new Refused(Encoding.UTF8.GetString(payload.Span));
        return true;
    }
}

/// <summary>
/// R → A: the packets are steered to you: go live and serve. Carries the router's hand-off time
/// (µs, signed 64-bit), which the agent reports with the transaction; a payload without it reads as zero.
/// </summary>
public readonly record struct Go(TimeSpan HandoffTime) : IControlMessage<Go>
{
    public static ControlMessageType Type => ControlMessageType.Go;
    int IControlMessage<Go>.Length => 8;
    void IControlMessage<Go>.Write(Span<byte> payload) => BinaryPrimitives.WriteInt64BigEndian(payload, (long)HandoffTime.TotalMicroseconds);

    public static bool TryRead(ReadOnlyMemory<byte> payload, out Go message)
    {
        message = new Go(TimeSpan.FromMicroseconds(payload.Length >= 8 ? BinaryPrimitives.ReadInt64BigEndian(payload.Span) : 0));
        return true;
    }
}

/// <summary>A → R: the transaction is complete and nothing is unsent; take the connection back.</summary>
public readonly record struct ReturnRequest : IControlMessage<ReturnRequest>
{
    public static ControlMessageType Type => ControlMessageType.ReturnRequest;
    int IControlMessage<ReturnRequest>.Length => 0;
    void IControlMessage<ReturnRequest>.Write(Span<byte> payload) { }
    public static bool TryRead(ReadOnlyMemory<byte> payload, out ReturnRequest message) => Empty.TryRead(payload, out message);
}

/// <summary>
/// A → R: as <see cref="ReturnRequest"/>, with the head of the client's next request, which is
/// already at A. R routes it: <see cref="Stay"/> when it goes to A again, otherwise <see cref="Freeze"/>.
/// </summary>
public readonly record struct NextRequest(ReadOnlyMemory<byte> Head) : IControlMessage<NextRequest>
{
    public static ControlMessageType Type => ControlMessageType.NextRequest;
    int IControlMessage<NextRequest>.Length => Head.Length;
    void IControlMessage<NextRequest>.Write(Span<byte> payload) => Head.Span.CopyTo(payload);

    public static bool TryRead(ReadOnlyMemory<byte> payload, out NextRequest message)
    {
        message = new NextRequest(payload); // the received frame's own buffer: no copy per request
        return true;
    }
}

/// <summary>
/// A → R, about the link (connection id 0), after <see cref="Welcome"/> and at each change: whether
/// the agent's application can serve (false: the origin it forwards to does not answer), with why,
/// for the router's log (UTF-8). The router picks no destination whose application cannot serve.
/// </summary>
public readonly record struct ApplicationHealth(bool CanServe, string Reason) : IControlMessage<ApplicationHealth>
{
    public static ControlMessageType Type => ControlMessageType.ApplicationHealth;
    int IControlMessage<ApplicationHealth>.Length => 1 + Encoding.UTF8.GetByteCount(Reason);

    void IControlMessage<ApplicationHealth>.Write(Span<byte> payload)
    {
        payload[0] = CanServe ? (byte)1 : (byte)0;
        Encoding.UTF8.GetBytes(Reason, payload[1..]);
    }

    public static bool TryRead(ReadOnlyMemory<byte> payload, out ApplicationHealth message)
    {
        bool ok = payload.Length >= 1 && payload.Span[0] <= 1;
        message = ok ? new ApplicationHealth(payload.Span[0] == 1, Encoding.UTF8.GetString(payload.Span[1..])) : default;
        return ok;
    }
}

/// <summary>R → A: the connection's packets are held; dump it and answer <see cref="Returned"/>.</summary>
public readonly record struct Freeze : IControlMessage<Freeze>
{
    public static ControlMessageType Type => ControlMessageType.Freeze;
    int IControlMessage<Freeze>.Length => 0;
    void IControlMessage<Freeze>.Write(Span<byte> payload) { }
    public static bool TryRead(ReadOnlyMemory<byte> payload, out Freeze message) => Empty.TryRead(payload, out message);
}

/// <summary>
/// A → R: the dumped connection. A has closed its copy silently and parks the snapshot for a short
/// grace, in case of <see cref="ReturnFailed"/>.
/// </summary>
public readonly record struct Returned(TcpSnapshot Snapshot) : IControlMessage<Returned>
{
    public static ControlMessageType Type => ControlMessageType.Returned;
    int IControlMessage<Returned>.Length => SnapshotLayout.Length(Snapshot);
    void IControlMessage<Returned>.Write(Span<byte> payload) => SnapshotLayout.Write(Snapshot, payload);

    public static bool TryRead(ReadOnlyMemory<byte> payload, out Returned message)
    {
        bool ok = SnapshotLayout.TryRead(payload.Span, out var snapshot);
        message = new Returned(snapshot!);
        return ok;
    }
}

/// <summary>A → R: the connection ends at A (client closed, or Connection: close); A closes it normally.</summary>
public readonly record struct Closed : IControlMessage<Closed>
{
    public static ControlMessageType Type => ControlMessageType.Closed;
    int IControlMessage<Closed>.Length => 0;
    void IControlMessage<Closed>.Write(Span<byte> payload) { }
    public static bool TryRead(ReadOnlyMemory<byte> payload, out Closed message) => Empty.TryRead(payload, out message);
}

/// <summary>
/// R → A: the connection A returned could not be restored at R. A restores it from its parked
/// snapshot and answers <see cref="Ready"/> (or <see cref="Refused"/>: nothing parked); R steers the
/// packets back and A closes the connection gracefully.
/// </summary>
public readonly record struct ReturnFailed : IControlMessage<ReturnFailed>
{
    public static ControlMessageType Type => ControlMessageType.ReturnFailed;
    int IControlMessage<ReturnFailed>.Length => 0;
    void IControlMessage<ReturnFailed>.Write(Span<byte> payload) { }
    public static bool TryRead(ReadOnlyMemory<byte> payload, out ReturnFailed message) => Empty.TryRead(payload, out message);
}

/// <summary>R → A: the next request is routed to you: serve it there, the connection does not come back now.</summary>
public readonly record struct Stay : IControlMessage<Stay>
{
    public static ControlMessageType Type => ControlMessageType.Stay;
    int IControlMessage<Stay>.Length => 0;
    void IControlMessage<Stay>.Write(Span<byte> payload) { }
    public static bool TryRead(ReadOnlyMemory<byte> payload, out Stay message) => Empty.TryRead(payload, out message);
}

/// <summary>
/// A → R, right after <see cref="Welcome"/>: a connection this agent took from an earlier router
/// run and still holds (the frame's connection id is the one that run gave it), from
/// <paramref name="Client"/> (IPv4 address and port, 6 bytes). The router adopts it: its return
/// and its next requests go through this link as if this router had handed it off.
/// </summary>
public readonly record struct Held(System.Net.IPEndPoint Client) : IControlMessage<Held>
{
    public static ControlMessageType Type => ControlMessageType.Held;
    int IControlMessage<Held>.Length => 6;

    void IControlMessage<Held>.Write(Span<byte> payload)
    {
        if (!Client.Address.TryWriteBytes(payload, out int n) || n != 4) throw new ArgumentException($"{Client} is not IPv4");
        BinaryPrimitives.WriteUInt16BigEndian(payload[4..], (ushort)Client.Port);
    }

    public static bool TryRead(ReadOnlyMemory<byte> payload, out Held message)
    {
        message = default;
        if (payload.Length != 6) return false;
        message = new Held(new System.Net.IPEndPoint(new System.Net.IPAddress(payload.Span[..4]), BinaryPrimitives.ReadUInt16BigEndian(payload.Span[4..])));
        return true;
    }
}

/// <summary>The messages whose type says everything: any payload is ignored, as it always was.</summary>
file static class Empty
{
    public static bool TryRead<T>(ReadOnlyMemory<byte> payload, out T message) where T : struct
    {
        message = default;
        return true;
    }
}
