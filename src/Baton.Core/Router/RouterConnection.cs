using System.Net.Sockets;
using Baton.Agent;
using Baton.Http;
using Baton.Metrics;
using Baton.Routing;
using Baton.Transfer;
using Microsoft.Extensions.Logging;

namespace Baton.Router;

/// <summary>
/// One client connection at the router: read a request head, route it, serve it here or move the
/// connection to the chosen destination, take it back, repeat until the client leaves.
/// </summary>
internal sealed class RouterConnection(RouterHost host, Socket socket)
{
    private static readonly BuiltInApplication LocalApplication = new();

    public async Task RunAsync(CancellationToken ct)
    {
        var o = host.Options;
        var s = socket;
        var input = new HttpInput(s);
        try
        {
            while (true)
            {
                var r = await input.ReadHeadAsync(o.HeadLimit, o.IdleTimeout, ct).ConfigureAwait(false);
                switch (r.Status)
                {
                    case HeadReadStatus.Closed:
                    case HeadReadStatus.IdleTimeout:
                        await GracefulClose.CloseAsync(s).ConfigureAwait(false);
                        return;
                    case HeadReadStatus.Invalid:
                        BatonMetrics.Requests.Add(1, new KeyValuePair<string, object?>("outcome", r.ErrorStatus.ToString()));
                        RouterLog.RequestRefused(host.Log, s.RemoteEndPoint, r.ErrorStatus, r.ErrorReason);
                        await SimpleResponse.SendErrorAndCloseAsync(s, r.ErrorStatus, r.ErrorReason!, o.Name).ConfigureAwait(false);
                        return;
                }
                var head = r.Head!;
                var match = host.Routes.Match(head);
                if (match is null)
                {
                    Count(null, "404");
                    if (!await AnswerAsync(s, input, head, 404, $"no route for {head.Host}{head.Path}").ConfigureAwait(false)) return;
                    continue;
                }
                var cluster = match.Value.Cluster;
                if (cluster.Transfer == TransferMode.Router)
                {
                    Count(cluster.Id, "router");
                    if (!await ServeHereAsync(s, input, head, ct).ConfigureAwait(false)) return;
                    continue;
                }
                var pick = host.PickDestination(cluster, head, (System.Net.IPEndPoint)s.RemoteEndPoint!);
                if (pick is not { Link: var agent, Lease: var lease })
                {
                    Count(cluster.Id, "503");
                    if (!await AnswerAsync(s, input, head, 503, $"no healthy destination in cluster '{cluster.Id}'").ConfigureAwait(false)) return;
                    continue;
                }

                input.PutBack(head.Length); // the request travels whole, in the moved socket's receive queue
                var unread = input.Unread.ToArray();
                TransferOutcome outcome;
                using (lease) // the destination's load counts this connection while it is away there
                    outcome = await host.Handoff.TransferAsync(s, unread, agent, ct).ConfigureAwait(false);
                Count(cluster.Id, outcome is TransferOutcome.NotMoved ? "502" : "handoff");
                switch (outcome)
                {
                    case TransferOutcome.Returned back:
                        input.Dispose();
                        s = back.Socket;
                        input = new HttpInput(s);
                        break;
                    case TransferOutcome.Ended:
                        input.Dispose();
                        return;
                    case TransferOutcome.NotMoved notMoved:
                        await SimpleResponse.SendErrorAndCloseAsync(s, 502, $"destination {agent.Name} failed: {notMoved.Reason}", o.Name).ConfigureAwait(false);
                        return;
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            RouterLog.ConnectionEnded(host.Log, e.Message);
            s.Dispose();
        }
        finally
        {
            input.Dispose();
        }
    }

    private static void Count(string? cluster, string outcome) =>
        BatonMetrics.Requests.Add(1, new("cluster", cluster), new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>Serves a request with the router's built-in application; false when the connection ended.</summary>
    private async Task<bool> ServeHereAsync(Socket s, HttpInput input, RequestHead head, CancellationToken ct)
    {
        var body = input.OpenBody(head);
        bool keep = head.KeepAlive;
        var tx = new BatonTransaction(head, body, s, host.Options.Name, TimeSpan.Zero, async keepAlive =>
        {
            await body.CopyToAsync(Stream.Null, ct).ConfigureAwait(false);
            keep &= keepAlive;
        });
        await LocalApplication.ServeAsync(tx, ct).ConfigureAwait(false);
        await tx.CompleteAsync().ConfigureAwait(false);
        if (!keep) await GracefulClose.CloseAsync(s).ConfigureAwait(false);
        return keep;
    }

    /// <summary>Answers an error the router decides itself, keeping the connection when the request allows it.</summary>
    private async Task<bool> AnswerAsync(Socket s, HttpInput input, RequestHead head, int status, string detail)
    {
        bool keep = head.KeepAlive;
        try
        {
            await input.OpenBody(head).CopyToAsync(Stream.Null).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            keep = false;
        }
        var bytes = keep
            ? SimpleResponse.Build(status, $"{status} {SimpleResponse.Reason(status)}: {detail}\n", true, ("Baton-Host", host.Options.Name))
            : SimpleResponse.Error(status, detail, host.Options.Name);
        await s.SendAsync(bytes, SocketFlags.None).ConfigureAwait(false);
        if (!keep) await GracefulClose.CloseAsync(s).ConfigureAwait(false);
        return keep;
    }
}
