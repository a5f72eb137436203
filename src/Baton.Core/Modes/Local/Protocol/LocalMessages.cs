using System.Buffers.Binary;
using System.Text;

namespace Baton.Modes.Local.Protocol;

/// <summary>
/// One router–worker message's payload: its type and its layout, written and read side by side
/// (the frame around it, and the descriptor a <see cref="Pass"/> or <see cref="Return"/> carries,
/// are <see cref="LocalChannel"/>'s). <see cref="TryRead"/> is false on a payload of the wrong shape.
/// </summary>
public interface ILocalMessage<TSelf> where TSelf : ILocalMessage<TSelf>
{
    /// <summary>The frame type this payload travels under.</summary>
    static abstract LocalMessageType Type { get; }

    /// <summary>Bytes <see cref="Write"/> needs.</summary>
    int Length { get; }

    /// <summary>Writes the payload into exactly <see cref="Length"/> bytes.</summary>
    void Write(Span<byte> payload);

    /// <summary>Reads a payload <see cref="Write"/> wrote; false when it has another shape.</summary>
    static abstract bool TryRead(ReadOnlyMemory<byte> payload, out TSelf message);
}

/// <summary>Worker → router, first: the worker's name (UTF-8).</summary>
public readonly record struct Register(string Name) : ILocalMessage<Register>
{
    public static LocalMessageType Type => LocalMessageType.Register;
    int ILocalMessage<Register>.Length => Encoding.UTF8.GetByteCount(Name);
    void ILocalMessage<Register>.Write(Span<byte> payload) => Encoding.UTF8.GetBytes(Name, payload);

    public static bool TryRead(ReadOnlyMemory<byte> payload, out Register message)
    {
        message = new Register(Encoding.UTF8.GetString(payload.Span));
        return true;
    }
}

/// <summary>Router → worker: the registration is accepted.</summary>
public readonly record struct Registered : ILocalMessage<Registered>
{
    public static LocalMessageType Type => LocalMessageType.Registered;
    int ILocalMessage<Registered>.Length => 0;
    void ILocalMessage<Registered>.Write(Span<byte> payload) { }

    public static bool TryRead(ReadOnlyMemory<byte> payload, out Registered message)
    {
        message = default;
        return true;
    }
}

/// <summary>Router → worker: the registration is refused, and why (UTF-8).</summary>
public readonly record struct RegistrationRefused(string Reason) : ILocalMessage<RegistrationRefused>
{
    public static LocalMessageType Type => LocalMessageType.Refused;
    int ILocalMessage<RegistrationRefused>.Length => Encoding.UTF8.GetByteCount(Reason);
    void ILocalMessage<RegistrationRefused>.Write(Span<byte> payload) => Encoding.UTF8.GetBytes(Reason, payload);

    public static bool TryRead(ReadOnlyMemory<byte> payload, out RegistrationRefused message)
    {
        message = new RegistrationRefused(Encoding.UTF8.GetString(payload.Span));
        return true;
    }
}

/// <summary>
/// Router → worker, with the client socket's descriptor: the router's <see cref="System.Diagnostics.Stopwatch"/>
/// timestamp when it passed the socket (8, big-endian; one clock on one host), then the bytes the
/// router read from the socket and the worker must see first.
/// </summary>
public readonly record struct Pass(long RouterTimestamp, ReadOnlyMemory<byte> Unread) : ILocalMessage<Pass>
{
    public static LocalMessageType Type => LocalMessageType.Pass;
    int ILocalMessage<Pass>.Length => 8 + Unread.Length;

    void ILocalMessage<Pass>.Write(Span<byte> payload)
    {
        BinaryPrimitives.WriteInt64BigEndian(payload, RouterTimestamp);
        Unread.Span.CopyTo(payload[8..]);
    }

    public static bool TryRead(ReadOnlyMemory<byte> payload, out Pass message)
    {
        message = payload.Length >= 8 ? new Pass(BinaryPrimitives.ReadInt64BigEndian(payload.Span), payload[8..]) : default;
        return payload.Length >= 8;
    }
}

/// <summary>
/// Worker → router, with the socket's descriptor: the worker's timestamp when it gave the socket back
/// (8), how long after the router's <see cref="Pass.RouterTimestamp"/> it held the socket (8, ticks),
/// then the bytes it read and did not consume.
/// </summary>
public readonly record struct Return(long WorkerTimestamp, long PassTicks, ReadOnlyMemory<byte> Unread) : ILocalMessage<Return>
{
    public static LocalMessageType Type => LocalMessageType.Return;
    int ILocalMessage<Return>.Length => 16 + Unread.Length;

    void ILocalMessage<Return>.Write(Span<byte> payload)
    {
        BinaryPrimitives.WriteInt64BigEndian(payload, WorkerTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(payload[8..], PassTicks);
        Unread.Span.CopyTo(payload[16..]);
    }

    public static bool TryRead(ReadOnlyMemory<byte> payload, out Return message)
    {
        var p = payload.Span;
        message = p.Length >= 16 ? new Return(BinaryPrimitives.ReadInt64BigEndian(p), BinaryPrimitives.ReadInt64BigEndian(p[8..]), payload[16..]) : default;
        return p.Length >= 16;
    }
}

/// <summary>Worker → router, no descriptor: the worker closed the connection.</summary>
public readonly record struct Closed : ILocalMessage<Closed>
{
    public static LocalMessageType Type => LocalMessageType.Closed;
    int ILocalMessage<Closed>.Length => 0;
    void ILocalMessage<Closed>.Write(Span<byte> payload) { }

    public static bool TryRead(ReadOnlyMemory<byte> payload, out Closed message)
    {
        message = default;
        return true;
    }
}
