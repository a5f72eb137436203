using System.Net.Sockets;

namespace Baton.Http;

/// <summary>
/// <c>Expect: 100-continue</c> (RFC 9110 §10.1.1): the client holds its body back until the server
/// says "100 Continue" (curl waits a second, then sends anyway). Whoever reads the body says it, on
/// the first read, and only if no body byte has arrived yet. A server that answers without reading
/// the body never says it, and closes the connection after its answer instead of waiting for a body
/// that may or may not come.
/// </summary>
public static class ExpectContinue
{
    private static readonly byte[] Continue = "HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray();

    /// <summary>Whether <paramref name="head"/>'s client waits for 100 Continue before sending its body.</summary>
    public static bool IsExpected(RequestHead head) =>
        head.VersionMinor >= 1 && (head.Chunked || head.ContentLength > 0)
        && head["Expect"] is { } e && e.Trim().Equals("100-continue", StringComparison.OrdinalIgnoreCase);

    /// <summary>Wraps <paramref name="body"/> so that its first read sends 100 Continue on <paramref name="socket"/> when the client is still waiting.</summary>
    internal static Stream OnFirstRead(Stream body, HttpInput input, Socket socket) => new ContinueStream(body, input, socket);

    private sealed class ContinueStream(Stream inner, HttpInput input, Socket socket) : BodyStream
    {
        private bool _said;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            if (!_said)
            {
                _said = true;
                if (input.Unread.IsEmpty) await socket.SendAsync(Continue, SocketFlags.None, ct).ConfigureAwait(false);
            }
            return await inner.ReadAsync(buffer, ct).ConfigureAwait(false);
        }
    }
}
