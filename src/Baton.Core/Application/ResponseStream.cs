using System.Net.Sockets;

namespace Baton.Application;

/// <summary>
/// A transaction's response, written straight to the client's socket, that knows whether anything
/// was written yet: until then a request that turns out bad can still be answered with an error.
/// </summary>
internal sealed class ResponseStream(Socket socket) : NetworkStream(socket, ownsSocket: false)
{
    public bool Started { get; private set; }

    public override void Write(byte[] buffer, int offset, int count)
    {
        Started |= count > 0;
        base.Write(buffer, offset, count);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Started |= !buffer.IsEmpty;
        base.Write(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct)
    {
        Started |= count > 0;
        return base.WriteAsync(buffer, offset, count, ct);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        Started |= !buffer.IsEmpty;
        return base.WriteAsync(buffer, ct);
    }
}
