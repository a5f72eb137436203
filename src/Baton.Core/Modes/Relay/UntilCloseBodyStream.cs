using Baton.Http;

namespace Baton.Modes.Relay;

/// <summary>A response body delimited by the origin closing the connection: everything to end of stream.</summary>
internal sealed class UntilCloseBodyStream(HttpInput input) : BodyStream
{
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => input.ReadAsync(buffer, ct);
}

/// <summary>The origin broke HTTP/1.1 (malformed head, 101 to a request that asked for no upgrade, framing error).</summary>
internal sealed class OriginProtocolException(string message) : Exception(message);
