using System.Net.Sockets;
using Baton.Http;
using Baton.Tests.Support;

namespace Baton.Tests.Http.Conformance;

/// <summary>
/// Replays a request vector through <see cref="HttpInput"/> (the code the router runs) over a loopback TCP
/// connection, so the socket path agrees with the pure <see cref="RequestFramer"/>.
/// </summary>
internal static class HttpInputReplay
{
    public static async Task<FramingOutcome> Run(byte[] raw, int maxMessages, bool atEofIsRefusal)
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server) { RequireHost = false }; // framing only, as RequestFramer in Framing
        pair.ClientSends(raw);
        pair.Client.Shutdown(SocketShutdown.Send);
        using var cts = new CancellationTokenSource(LoopbackPair.HangGuard);
        var messages = new List<VectorMessage>();
        var reused = new RequestHead(); // one head for the connection, refilled per request, as the router keeps it
        while (messages.Count < maxMessages)
        {
            var r = await input.ReadHeadAsync(reused, RequestHeadParser.DefaultHeadLimit, Timeout.InfiniteTimeSpan, cts.Token);
            if (r.Status == HeadReadStatus.Closed) break;
            if (r.Status == HeadReadStatus.Invalid)
            {
                if (r.ErrorReason == "connection closed inside a request head" && !atEofIsRefusal) break; // the vector just ends: incomplete, not refused
                return new(messages, true, $"{r.ErrorStatus} {r.ErrorReason}", []);
            }
            if (r.Status != HeadReadStatus.Head) return new(messages, true, r.Status.ToString(), []);
            var head = r.Head!;
            var msg = new VectorMessage { HeadersComplete = true };
            msg.Method.Write(System.Text.Encoding.ASCII.GetBytes(head.Method));
            msg.Url.Write(System.Text.Encoding.ASCII.GetBytes(head.Target));
            messages.Add(msg);
            try
            {
                using var body = input.OpenBody(head);
                await body.CopyToAsync(msg.Body, cts.Token);
            }
            catch (Exception e) when (e is InvalidDataException or BadRequestBodyException) { return new(messages, true, e.Message, []); }
            catch (IOException e) when (atEofIsRefusal) { return new(messages, true, e.Message, []); }
            catch (IOException) { break; } // the vector ends inside the body: incomplete, not refused
            msg.Complete = true;
            if (!head.KeepAlive && !input.Unread.IsEmpty && messages.Count < maxMessages)
                return new(messages, true, "data after a request that closes the connection", []);
        }
        return new(messages, false, null, []);
    }
}
