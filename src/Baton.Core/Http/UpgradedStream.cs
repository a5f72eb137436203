using System.Net.Sockets;

namespace Baton.Http;

/// <summary>
/// A connection after 101 Switching Protocols, as a two-way byte stream: reads return the bytes
/// that followed the request head in the input buffer first, then the socket's (straight into the
/// caller's buffer); writes go to the socket. Reads return 0 when the peer closes its side.
/// </summary>
internal sealed class UpgradedStream(HttpInput input, Socket socket) : BodyStream
{
    public override bool CanWrite => true;

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => input.ReadAsync(buffer, ct);

    public override void Write(byte[] buffer, int offset, int count) => socket.Send(buffer.AsSpan(offset, count));

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        while (!buffer.IsEmpty)
        {
            int n = await socket.SendAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
            buffer = buffer[n..];
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();
}
