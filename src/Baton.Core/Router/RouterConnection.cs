using System.Diagnostics;
using System.Net.Sockets;
using Baton.Http;
using Baton.Metrics;
using Baton.Routing;
using Baton.Routing.LoadBalancing;
using Baton.Application;
using Baton.Modes;

namespace Baton.Router;

/// <summary>
/// One client connection at the router: read a request head, route it, serve it here or move the
/// connection to the chosen destination, take it back, repeat until the client leaves. A request
/// that reaches a destination before the connection is back is routed here too (<see cref="Route"/>).
/// </summary>
internal sealed class RouterConnection(RouterHost host, Socket? socket) : INextRequestRouter
{
    private static readonly BuiltInApplication LocalApplication = new();

    // A destination picked for the next request while the connection was still away (it did not
    // stay there): used for that request once it is back, so the policy picks once per request.
    private Decision? _decided;
    // The load the connection puts on the destination it is at now (a stay replaces it).
    private DestinationLease? _held;
    private System.Net.IPEndPoint? _client;
    private ConnectionTrack _track = null!;
    // The next request's head as an agent reported it, refilled each time (Route): no allocation.
    private readonly RequestHead _next = new();

    private sealed record Decision(Cluster Cluster, ITransferTarget Target, DestinationLease Lease);

    public async Task RunAsync(CancellationToken ct)
    {
        using var conn = new ClientConnection(socket!) { NextRequests = host.Options.SameTargetShortcut ? this : null };
        _client = conn.Client;
        _track = new ConnectionTrack(conn.Client, host.Moves);
        using var registered = host.Track(_track);
        await ServeAsync(conn, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// A connection an earlier run of the router moved to <paramref name="target"/>, found there
    /// after a restart: it is away until <paramref name="away"/> brings it back (then it is served
    /// here as any other) or ends.
    /// </summary>
    public async Task RunAdoptedAsync(ITransferTarget target, Task<TransferOutcome> away, System.Net.IPEndPoint client, CancellationToken ct)
    {
        _client = client;
        _track = new ConnectionTrack(client, host.Moves);
        using var registered = host.Track(_track);
        _track.Routed(null, target.Name, "adopted");
        // Its load is the destination's while it is there, as after a hand-off from here.
        Volatile.Write(ref _held, host.LoadOf(target.Name)?.Acquire());
        TransferOutcome outcome;
        try
        {
            outcome = await away.ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Exchange(ref _held, null)?.Dispose();
            _track.Back();
        }
        if (outcome is not TransferOutcome.Returned back)
        {
            Interlocked.Exchange(ref _decided, null)?.Lease.Dispose();
            return;
        }
        using var conn = new ClientConnection(back.Socket) { NextRequests = host.Options.SameTargetShortcut ? this : null };
        await ServeAsync(conn, ct).ConfigureAwait(false);
    }

    // Reads, routes and serves requests on the connection until it ends.
    private async Task ServeAsync(ClientConnection conn, CancellationToken ct)
    {
        var o = host.Options;
        // One head for the connection's life, refilled per request: parsing and routing then allocate nothing
        // (issue 3). Everything below uses it only until the next read; a keeper would take head.Detach().
        var reused = new RequestHead();
        try
        {
            while (true)
            {
                HeadReadResult r;
                try
                {
                    r = await conn.Input.ReadHeadAsync(reused, o.HeadLimit, o.IdleTimeout, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    // The router stops between two requests: a restart keeps the connection for the next run.
                    if (host.TryPark(conn)) return;
                    throw;
                }
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
                // A restart's stop came as the request did: it goes with the connection to the next run.
                if (ct.IsCancellationRequested && ParkWith(conn, head.Length))
                {
                    Interlocked.Exchange(ref _decided, null)?.Lease.Dispose();
                    return;
                }
                Cluster cluster;
                ITransferTarget target;
                DestinationLease lease;
                if (Interlocked.Exchange(ref _decided, null) is { } decided)
                {
                    (cluster, target, lease) = (decided.Cluster, decided.Target, decided.Lease);
                }
                else
                {
                    var match = host.Routes.Match(head);
                    if (match is null)
                    {
                        Count(null, null, "404");
                        _track.Routed(null, null, "404");
                        if (!await AnswerAsync(conn, head, 404, $"no route for {head.Host}{head.Path}").ConfigureAwait(false)) return;
                        continue;
                    }
                    cluster = match.Value.Cluster;
                    if (cluster.Transfer.ServedByTheRouter)
                    {
                        Count(cluster.Id, null, "router");
                        _track.Routed(cluster.Id, null, "router");
                        if (!await ServeHereAsync(conn, head, ct).ConfigureAwait(false)) return;
                        continue;
                    }
                    var pick = host.PickDestination(cluster, head, conn.Client);
                    if (pick is null)
                    {
                        Count(cluster.Id, null, "503");
                        _track.Routed(cluster.Id, null, "503");
                        if (!await AnswerAsync(conn, head, 503, $"no healthy destination in cluster '{cluster.Id}'").ConfigureAwait(false)) return;
                        continue;
                    }
                    (target, lease) = pick.Value;
                }

                TransactionOutcome outcome;
                List<string>? tried = null;
                long started = Stopwatch.GetTimestamp();
                while (true)
                {
                    // The destination's load counts this transaction (and any that stay there) while it runs.
                    Volatile.Write(ref _held, lease);
                    _track.Routed(cluster.Id, target.Name, cluster.Transfer.Name);
                    try
                    {
                        outcome = await target.ServeAsync(conn, head, ct).ConfigureAwait(false);
                    }
                    finally
                    {
                        _track.Back();
                        lease.Dispose();
                        Interlocked.Exchange(ref _held, null)?.Dispose();
                    }
                    host.Report(cluster, target.Name, served: outcome is not TransactionOutcome.NotServed { Status: >= 500 });
                    // A request no application saw (its destination never took the connection: an
                    // agent killed, or not ready in time) goes to another destination of the
                    // cluster, each tried once; only when none is left does the client get the error.
                    if (outcome is not TransactionOutcome.NotServed { Untouched: true } untouched) break;
                    (tried ??= []).Add(target.Name);
                    if (host.PickDestination(cluster, head, conn.Client, tried) is not { } retry) break;
                    RouterLog.Retried(host.Log, conn.Client, target.Name, retry.Target.Name, untouched.Reason);
                    BatonMetrics.Retries.Add(1, new KeyValuePair<string, object?>("cluster", cluster.Id));
                    (target, lease) = retry;
                }
                switch (outcome)
                {
                    case TransactionOutcome.Back:
                        Served(cluster, target.Name, started);
                        break;
                    case TransactionOutcome.Ended:
                        Served(cluster, target.Name, started);
                        return;
                    case TransactionOutcome.NotServed { Untouched: true } when ct.IsCancellationRequested && ParkWith(conn, head.Length):
                        return; // not handed off because the router is stopping for a restart: the next run serves it
                    case TransactionOutcome.NotServed notServed:
                        Count(cluster.Id, target.Name, notServed.Status.ToString());
                        _track.Routed(cluster.Id, null, notServed.Status.ToString());
                        RouterLog.DestinationFailed(host.Log, conn.Client, target.Name, notServed.Reason);
                        // The reason is in the log; the client gets no internal detail.
                        if (!await AnswerAsync(conn, head, notServed.Status, notServed.ClientText(target.Name)).ConfigureAwait(false)) return;
                        break;
                }
            }
        }
        catch (Exception e) when (Faults.IsConnectionEnded(e))
        {
            RouterLog.ConnectionEnded(host.Log, e.Message);
        }
        finally
        {
            // A decision for a request that never came back to be served.
            Interlocked.Exchange(ref _decided, null)?.Lease.Dispose();
        }
    }

    /// <inheritdoc />
    public NextHop Route(ITransferTarget current, ReadOnlySpan<byte> bytes)
    {
        // What the loop above would do with this request once the connection is back: requests the
        // router answers itself (invalid or oversized, 404, its own routes, 503) come back for that.
        var parsed = RequestHeadParser.Parse(bytes, _next, host.Options.HeadLimit);
        if (parsed.Status != ParseStatus.Complete || _next.Length != bytes.Length) return NextHop.Return;
        var head = _next;
        if (host.Routes.Match(head) is not { Cluster: var cluster } || cluster.Transfer.ServedByTheRouter)
            return NextHop.Return;
        // As if the connection were back: its load leaves its destination before the policy picks.
        Interlocked.Exchange(ref _held, null)?.Dispose();
        if (host.PickDestination(cluster, head, _client!) is not { } pick)
            return NextHop.Return;
        var via = pick.Target.ServedBy(head);
        if (ReferenceEquals(via, current))
        {
            Volatile.Write(ref _held, pick.Lease); // the stayed transaction's load, released when the connection is back
            Count(cluster.Id, current.Name, cluster.Transfer.Name);
            _track.Routed(cluster.Id, current.Name, "stay");
            host.Report(cluster, current.Name, served: true);
            return NextHop.Stay;
        }
        Interlocked.Exchange(ref _decided, new Decision(cluster, pick.Target, pick.Lease))?.Lease.Dispose();
        return NextHop.Elsewhere(pick.Target, via);
    }

    /// <inheritdoc />
    public void PassedTo(ITransferTarget target)
    {
        var d = Interlocked.Exchange(ref _decided, null);
        if (d is null || !ReferenceEquals(d.Target, target))
            throw new InvalidOperationException($"passed to {target.Name}, but the decision was {d?.Target.Name ?? "none"}");
        // Its load is now the destination's, released when the connection is back (as after a stay).
        Interlocked.Exchange(ref _held, d.Lease)?.Dispose();
        Count(d.Cluster.Id, target.Name, d.Cluster.Transfer.Name);
        _track.Routed(d.Cluster.Id, target.Name, "pass");
        host.Report(d.Cluster, target.Name, served: true);
    }

    // Parks the connection with its request, whose head was just read, still unread in front.
    private bool ParkWith(ClientConnection conn, int headLength)
    {
        conn.Input.PutBack(headLength);
        if (host.TryPark(conn)) return true;
        conn.Input.Consume(headLength);
        return false;
    }

    private static void Count(string? cluster, string? destination, string outcome) =>
        BatonMetrics.Requests.Add(1, new("cluster", cluster), new("destination", destination), new KeyValuePair<string, object?>("outcome", outcome));

    // A transaction a destination served: counted, and timed from the decision to the connection back.
    private static void Served(Cluster cluster, string destination, long started)
    {
        Count(cluster.Id, destination, cluster.Transfer.Name);
        if (BatonMetrics.TransactionDuration.Enabled)
            BatonMetrics.TransactionDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds,
                new("cluster", cluster.Id), new("destination", destination), new KeyValuePair<string, object?>("transfer", cluster.Transfer.Name));
    }

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
        try
        {
            await LocalApplication.ServeAsync(tx, ct).ConfigureAwait(false);
            await tx.CompleteAsync().ConfigureAwait(false);
        }
        catch (BadRequestBodyException e) when (!tx.ResponseStarted)
        {
            // The client's body framing is broken: a 400, then the close.
            RouterLog.BadRequestBody(host.Log, conn.Client, e.Message);
            await s.SendAsync(SimpleResponse.Error(400, BadRequestBodyException.ClientText, host.Options.Name), SocketFlags.None).ConfigureAwait(false);
            await GracefulClose.CloseAsync(s).ConfigureAwait(false);
            return false;
        }
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
            catch (Exception e) when (Faults.IsMalformedOrLost(e))
            {
                keep = false;
            }
        }
        var bytes = keep
            ? SimpleResponse.Build(status, $"{status} {SimpleResponse.Reason(status)}: {detail}\n", true, head.VersionMinor == 0, ("Baton-Host", host.Options.Name))
            : SimpleResponse.Error(status, detail, host.Options.Name);
        await s.SendAsync(bytes, SocketFlags.None).ConfigureAwait(false);
        if (!keep) await GracefulClose.CloseAsync(s).ConfigureAwait(false);
        return keep;
    }
}
