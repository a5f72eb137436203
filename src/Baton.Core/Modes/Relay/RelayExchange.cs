using System.Net.Sockets;
using Baton.Http;

namespace Baton.Modes.Relay;

/// <summary>
/// One request relayed to the origin and its response relayed back. It tracks what the failure
/// rules depend on: whether the client has seen a response byte, whether the request body has been
/// read, whether the origin has answered anything.
/// </summary>
/// <remarks>
/// Interim responses (100 Continue, 103 Early Hints) are forwarded to HTTP/1.1 clients, so a client
/// that sent <c>Expect: 100-continue</c> gets the origin's own answer to it, and swallowed for
/// HTTP/1.0 clients, which cannot receive them. A 101 to a request that asked to upgrade turns the
/// exchange into a tunnel (<see cref="Tunnel"/>) that ends with the connection; to any other request
/// it is refused (502).
/// </remarks>
/// <param name="requestBody">The request body when its holder has opened it already (a forwarding agent's transaction); else it is opened from the connection's input.</param>
internal sealed class RelayExchange(RelayTarget target, ClientConnection connection, RequestHead head, Stream? requestBody = null)
{
    private readonly RelayOptions _o = target.Options;
    private CancellationTokenSource _abort = null!;
    private Task<PumpResult>? _requestBody;
    private PumpResult? _clientBodyFailure;
    private bool _clientWritten;   // a response byte (interim included) went to the client
    private bool _bodyTouched;     // the request body was read from the client, at least in part
    private bool _responseStarted; // the origin sent a byte for this request
    private long _responseBytes;   // the final response's head and body as sent to the client

    public async Task<TransactionOutcome> RunAsync(CancellationToken ct)
    {
        using var request = new HeadWriter();
        UpstreamRequest.Write(request, head, connection.Client.Address, target.Authority);
        int connectFailures = 0;
        bool freshOnly = false;
        while (true)
        {
            var up = freshOnly ? null : target.Pool.TryRent();
            if (up is null)
            {
                try
                {
                    up = await target.Pool.ConnectAsync(connection.Client, connection.Socket.LocalEndPoint, ct).ConfigureAwait(false);
                    target.Health.ConnectSucceeded();
                }
                catch (Exception e) when (e is SocketException or TimeoutException)
                {
                    // Nothing was sent: a connect failure is always safe to retry.
                    target.ConnectFailed(e);
                    if (++connectFailures < _o.ConnectAttempts)
                    {
                        target.Retrying(head, e.Message);
                        continue;
                    }
                    return new TransactionOutcome.NotServed(e is TimeoutException ? 504 : 502, $"origin {target.Origin.Description} unreachable: {e.Message}", "origin unreachable");
                }
            }
            var outcome = await ExchangeAsync(up, request.Written, ct).ConfigureAwait(false);
            if (outcome is not null) return outcome;
            freshOnly = true; // a pooled connection was dead: the retry must not meet another stale one
        }
    }

    /// <summary>One attempt on <paramref name="up"/>; null when it may and should be retried on a fresh connection.</summary>
    private async Task<TransactionOutcome?> ExchangeAsync(UpstreamConnection up, ReadOnlyMemory<byte> requestHead, CancellationToken ct)
    {
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _abort = abort;
        _responseStarted = false;
        bool pooled = false;
        try
        {
            await SendAsync(up.Socket, requestHead, _o.ActivityTimeout, abort.Token).ConfigureAwait(false);
            if (UpstreamRequest.HasBody(head))
            {
                _bodyTouched = true;
                _requestBody = PumpRequestBodyAsync(up);
            }
            ResponseHead response;
            using (var headWait = CancellationTokenSource.CreateLinkedTokenSource(abort.Token))
            {
                headWait.CancelAfter(_o.ResponseHeadTimeout);
                while ((response = await ReadHeadAsync(up, headWait.Token).ConfigureAwait(false)).IsInterim)
                {
                    if (response.StatusCode == 101)
                    {
                        if (HttpUpgrade.Requested(head) is null) throw new OriginProtocolException("101 Switching Protocols to a request that asked for no upgrade");
                        return await TunnelAsync(up, response, abort.Token).ConfigureAwait(false);
                    }
                    if (head.VersionMinor == 0) continue;
                    if (!await WriteHeadToClientAsync(response, chunked: false, close: false).ConfigureAwait(false))
                        return await ClientGoneAsync("client closed while an interim response was sent").ConfigureAwait(false);
                }
            }

            bool clientChunked = response.Body == ResponseBody.Chunked && head.VersionMinor >= 1;
            // Only a length or chunks let the client find the end without a close.
            bool close = !head.KeepAlive || response.Body == ResponseBody.UntilClose || (response.Body == ResponseBody.Chunked && !clientChunked);
            if (!await WriteHeadToClientAsync(response, clientChunked, close).ConfigureAwait(false))
                return await ClientGoneAsync("client closed before the response head was sent").ConfigureAwait(false);

            if (response.Body != ResponseBody.None)
            {
                long length = response.Body == ResponseBody.ContentLength ? response.ContentLength : -1;
                // A length or the close: the bytes pass as they are, so they can go socket to socket
                // (splice). Chunks pass as they came to an HTTP/1.1 client, checked on the way, large
                // ones spliced; an HTTP/1.0 client gets them decoded.
                var copied = clientChunked
                    ? await ChunkedPump.CopyAsync(up.Input, up.Socket, connection.Socket, _o.ActivityTimeout, target.Log, abort.Token).ConfigureAwait(false)
                    : response.Body != ResponseBody.Chunked && SplicePump.Suits(length)
                    ? await SplicePump.CopyAsync(up.Input, up.Socket, length, connection.Socket, _o.ActivityTimeout, target.Log, abort.Token).ConfigureAwait(false)
                    : await BodyPump.CopyAsync(response.Body switch
                    {
                        ResponseBody.ContentLength => new ContentLengthBodyStream(up.Input, response.ContentLength),
                        ResponseBody.Chunked => new ChunkedBodyStream(up.Input),
                        _ => new UntilCloseBodyStream(up.Input),
                    }, connection.Socket, clientChunked, _o.ActivityTimeout, abort.Token).ConfigureAwait(false);
                _responseBytes += copied.Bytes;
                switch (copied.End)
                {
                    case PumpEnd.DestinationFailed:
                        return await ClientGoneAsync($"client closed during the response body: {copied.Error}").ConfigureAwait(false);
                    case PumpEnd.SourceFailed:
                        return await FailAsync(502, "origin failed during the response body", $"after {copied.Bytes} bytes: {copied.Error}").ConfigureAwait(false);
                    case PumpEnd.Stopped:
                        return await FailAsync(504, "response body stopped", $"after {copied.Bytes} bytes: {ClientBodyProblem() ?? copied.Error}").ConfigureAwait(false);
                }
            }

            // The response is complete. The client may send its next request only once its body is consumed.
            bool requestComplete = _requestBody is null || (await _requestBody.ConfigureAwait(false)).End == PumpEnd.Completed;
            if (response.KeepAlive && requestComplete && up.Input.Unread.IsEmpty)
            {
                target.Pool.Return(up);
                pooled = true;
            }
            if (close || !requestComplete)
            {
                await GracefulClose.CloseAsync(connection.Socket).ConfigureAwait(false);
                return new TransactionOutcome.Ended();
            }
            return new TransactionOutcome.Back(_responseBytes);
        }
        catch (Exception e) when ((e is IOException or SocketException) && !_responseStarted && !ct.IsCancellationRequested)
        {
            // The origin closed or reset before answering: typically a pooled connection it timed out
            // just as we took it. Safe to send again only if nothing but the head can have reached it
            // and sending it twice does no harm.
            if (up.Reused && !_bodyTouched && !_clientWritten && UpstreamRequest.IsIdempotent(head.Method))
            {
                target.Retrying(head, $"pooled connection closed by the origin: {e.Message}");
                return null;
            }
            return await FailAsync(502, "origin closed the connection before responding", e.Message).ConfigureAwait(false);
        }
        catch (OriginProtocolException e)
        {
            return await FailAsync(502, "invalid response from origin", e.Message).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            return await FailAsync(504, "origin did not answer in time", e.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Only the request body pump aborts on its own: the client broke off or stalled its body.
            return await FailAsync(_clientBodyFailure?.End == PumpEnd.Stopped ? 408 : 400, "the request body did not arrive whole", ClientBodyProblem() ?? "aborted").ConfigureAwait(false);
        }
        catch (Exception e) when (Faults.IsMalformedOrLost(e))
        {
            return await FailAsync(502, "origin connection failed", e.Message).ConfigureAwait(false);
        }
        finally
        {
            if (!pooled) up.Dispose();
            if (_requestBody is not null)
            {
                abort.Cancel(); // a pump still running has lost its reason to
                await _requestBody.ConfigureAwait(false);
                _requestBody = null;
            }
        }
    }

    private async Task<PumpResult> PumpRequestBodyAsync(UpstreamConnection up)
    {
        await Task.Yield(); // the response head is awaited while the body streams
        var body = requestBody ?? connection.Input.OpenBody(head);
        // An upload with a length goes socket to socket as a response body does (its stream counts
        // it read, so the next request is found where it starts). Chunks read from the connection
        // pass as they came (ChunkedPump); a body its holder opened is read, checked and re-chunked.
        var r = body is ContentLengthBodyStream sized && SplicePump.Suits(sized.Remaining)
            ? await SplicePump.CopyAsync(connection.Input, connection.Socket, sized.TakeRemaining(), up.Socket, _o.ActivityTimeout, target.Log, _abort.Token).ConfigureAwait(false)
            : requestBody is null && head.Chunked
            ? await ChunkedPump.CopyAsync(connection.Input, connection.Socket, up.Socket, _o.ActivityTimeout, target.Log, _abort.Token).ConfigureAwait(false)
            : await BodyPump.CopyAsync(body, up.Socket, head.Chunked, _o.ActivityTimeout, _abort.Token).ConfigureAwait(false);
        // A client that breaks off or stalls its body fails the exchange. An origin that stops
        // reading may still be answering (an early 413), so that case waits for its response.
        if (r.End is PumpEnd.SourceFailed or PumpEnd.Stopped && !_abort.IsCancellationRequested)
        {
            _clientBodyFailure = r;
            _abort.Cancel();
        }
        return r;
    }

    private string? ClientBodyProblem() =>
        _clientBodyFailure is { } f ? $"request body from the client failed after {f.Bytes} bytes: {f.Error}" : null;

    /// <summary>Reads the next response head (interim or final) from the origin.</summary>
    private async Task<ResponseHead> ReadHeadAsync(UpstreamConnection up, CancellationToken token)
    {
        var input = up.Input;
        while (true)
        {
            if (!input.Unread.IsEmpty)
            {
                var f = ResponseFramer.Frame(input.Unread, head.Method, atEof: false);
                if (f.Status == FrameStatus.Error) throw new OriginProtocolException(f.ErrorReason ?? "malformed response");
                if (f.HeadLength > 0)
                {
                    var r = ResponseHead.Parse(input.Unread, f, head.Method);
                    input.Consume(f.HeadLength);
                    return r;
                }
            }
            int n;
            try
            {
                n = await input.FillAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_abort.IsCancellationRequested)
            {
                throw new TimeoutException($"origin sent no response head within {_o.ResponseHeadTimeout.TotalSeconds:0.###} s");
            }
            if (n == 0)
                throw _responseStarted ? new OriginProtocolException("origin closed the connection inside a response head")
                    : new IOException("origin closed the connection");
            _responseStarted = true;
        }
    }

    /// <summary>The origin switched protocols: pass its 101 on, then carry bytes both ways until both sides close. Never back to the router.</summary>
    private async Task<TransactionOutcome> TunnelAsync(UpstreamConnection up, ResponseHead response, CancellationToken ct)
    {
        using (var w = new HeadWriter())
        {
            response.WriteSwitchForClient(w);
            _clientWritten = true;
            try
            {
                await SendAsync(connection.Socket, w.Written, _o.ActivityTimeout, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (Faults.IsConnectionLost(e) || e is TimeoutException)
            {
                return await ClientGoneAsync("client closed before the 101 was sent").ConfigureAwait(false);
            }
        }
        target.Upgraded(head);
        await Tunnel.RunAsync(connection.Input, connection.Socket, up.Input, up.Socket, ct).ConfigureAwait(false);
        connection.Socket.Dispose();
        return new TransactionOutcome.Ended();
    }

    private async Task<bool> WriteHeadToClientAsync(ResponseHead response, bool chunked, bool close)
    {
        using var w = new HeadWriter();
        response.WriteForClient(w, chunked, close, http10KeepAlive: head.VersionMinor == 0 && head.KeepAlive && !close);
        _clientWritten = true;
        try
        {
            await SendAsync(connection.Socket, w.Written, _o.ActivityTimeout, _abort.Token).ConfigureAwait(false);
            _responseBytes = w.Written.Length; // interim heads are overwritten by the final one
            return true;
        }
        catch (Exception e) when (Faults.IsConnectionLost(e) || e is TimeoutException)
        {
            return false;
        }
    }

    private static async Task SendAsync(Socket socket, ReadOnlyMemory<byte> data, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            await socket.SendAsync(data, SocketFlags.None, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"peer took no data for {timeout.TotalSeconds:0.###} s");
        }
    }

    /// <summary>
    /// The exchange failed. Before the client saw anything and while its body is untouched, the
    /// router still owns the request and answers it; otherwise the relay answers (or cuts) itself.
    /// </summary>
    /// <remarks><paramref name="said"/> is what the client may read; <paramref name="detail"/> goes to the log only.</remarks>
    private async Task<TransactionOutcome> FailAsync(int status, string said, string? detail = null)
    {
        string reason = detail is null ? said : $"{said}: {detail}";
        if (_clientBodyFailure is null) target.OriginFailed(head, reason);
        else target.ClientEnded(head, reason);
        _abort.Cancel();
        if (_requestBody is not null) await _requestBody.ConfigureAwait(false);
        if (!_clientWritten && !_bodyTouched) return new TransactionOutcome.NotServed(status, reason, said);
        if (!_clientWritten)
        {
            await SimpleResponse.SendErrorAndCloseAsync(connection.Socket, status, said, target.Name).ConfigureAwait(false);
        }
        else
        {
            // Part of a response is out. A reset, not a FIN: a body delimited by the close would
            // otherwise look complete to the client.
            try
            {
                connection.Socket.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (Faults.IsConnectionLost(e)) { }
            connection.Socket.Dispose();
        }
        return new TransactionOutcome.Ended();
    }

    private async Task<TransactionOutcome> ClientGoneAsync(string reason)
    {
        target.ClientEnded(head, reason);
        _abort.Cancel();
        if (_requestBody is not null) await _requestBody.ConfigureAwait(false);
        connection.Socket.Dispose();
        return new TransactionOutcome.Ended();
    }
}
