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
        using var conn = new ClientConnection(socket);
        // One head for the connection's life, refilled per request: parsing and routing then allocate nothing
        // (issue 3). Everything below uses it only until the next read; a keeper would take head.Detach().
        var reused = new RequestHead();
        try
        {
            while (true)
            {
                var r = await conn.Input.ReadHeadAsync(reused, o.HeadLimit, o.IdleTimeout, ct).ConfigureAwait(false);
                switch (r.Status)
                {
                    case HeadReadStatus.Closed:
                    case HeadReadStatus.IdleTimeout:
                        await GracefulClose.CloseAsync(conn.Socket).ConfigureAwait(false);
                        return;
                    case HeadReadStatus.Invalid:
                        BatonMetrics.Requests.Add(1, new KeyValuePair<string, object?>("outcome", r.ErrorStatus.ToString()));
                        RouterLog.RequestRefused(host.Log, conn.Client, r.ErrorStatus, r.ErrorReason);
                        await SimpleResponse.SendErrorAndCloseAsync(conn.Socket, r.ErrorStatus, r.ErrorReason!, o.Name).ConfigureAwait(false);
                        return;
                }
                var head = r.Head!;
                var match = host.Routes.Match(head);
                if (match is null)
                {
                    Count(null, "404");
                    if (!await AnswerAsync(conn, head, 404, $"no route for {head.Host}{head.Path}").ConfigureAwait(false)) return;
                    continue;
                }
                var cluster = match.Value.Cluster;
                if (cluster.Transfer == TransferMode.Router)
                {
                    Count(cluster.Id, "router");
                    if (!await ServeHereAsync(conn, head, ct).ConfigureAwait(false)) return;
                    continue;
                }
                var pick = host.PickDestination(cluster, head, conn.Client);
                if (pick is not { Target: var target, Lease: var lease })
                {
                    Count(cluster.Id, "503");
                    if (!await AnswerAsync(conn, head, 503, $"no healthy destination in cluster '{cluster.Id}'").ConfigureAwait(false)) return;
                    continue;
                }

                TransactionOutcome outcome;
                using (lease) // the destination's load counts this transaction while it runs there
                    outcome = await target.ServeAsync(conn, head, ct).ConfigureAwait(false);
                host.Report(cluster, target.Name, served: outcome is not TransactionOutcome.NotServed { Status: >= 500 });
                switch (outcome)
                {
                    case TransactionOutcome.Back:
                        Count(cluster.Id, ModeLabel(cluster.Transfer));
                        break;
                    case TransactionOutcome.Ended:
                        Count(cluster.Id, ModeLabel(cluster.Transfer));
                        return;
                    case TransactionOutcome.NotServed notServed:
                        Count(cluster.Id, notServed.Status.ToString());
                        RouterLog.DestinationFailed(host.Log, conn.Client, target.Name, notServed.Reason);
                        if (!await AnswerAsync(conn, head, notServed.Status, notServed.Reason).ConfigureAwait(false)) return;
                        break;
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            RouterLog.ConnectionEnded(host.Log, e.Message);
        }
    }

    private static string ModeLabel(TransferMode mode) => mode switch
    {
        TransferMode.Handoff => "handoff",
        TransferMode.Local => "local",
        TransferMode.Relay => "relay",
        _ => "router",
    };

    private static void Count(string? cluster, string outcome) =>
        BatonMetrics.Requests.Add(1, new("cluster", cluster), new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>Serves a request with the router's built-in application; false when the connection ended.</summary>
    private async Task<bool> ServeHereAsync(ClientConnection conn, RequestHead head, CancellationToken ct)
    {
        var s = conn.Socket;
        var body = conn.Input.OpenBody(head, continueOn: s);
        bool keep = head.KeepAlive;
        var tx = new BatonTransaction(head, conn.Input, body, s, host.Options.Name, TimeSpan.Zero, async keepAlive =>
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
    private async Task<bool> AnswerAsync(ClientConnection conn, RequestHead head, int status, string detail)
    {
        var s = conn.Socket;
        bool keep = head.KeepAlive;
        if (ExpectContinue.IsExpected(head) && conn.Input.Unread.IsEmpty)
        {
            // The client holds its body until told to continue: answer now and close rather than
            // wait for a body that may or may not come (RFC 9110 §10.1.1).
            keep = false;
        }
        else
        {
            try
            {
                await conn.Input.OpenBody(head).CopyToAsync(Stream.Null).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                keep = false;
            }
        }
        var bytes = keep
            ? SimpleResponse.Build(status, $"{status} {SimpleResponse.Reason(status)}: {detail}\n", true, ("Baton-Host", host.Options.Name))
            : SimpleResponse.Error(status, detail, host.Options.Name);
        await s.SendAsync(bytes, SocketFlags.None).ConfigureAwait(false);
        if (!keep) await GracefulClose.CloseAsync(s).ConfigureAwait(false);
        return keep;
    }
}
