using System.Net.Sockets;
using Baton.Http;

namespace Baton.Application;

/// <summary>
/// One request on a connection this host owns for the moment: the parsed head, the body, the
/// connection to write the response to, and the completion notice that gives it back.
/// </summary>
public sealed class BatonTransaction
{
    private readonly Func<bool, Task> _complete;
    private readonly HttpInput _input;
    private readonly ResponseStream _response;
    private Task? _completion;
    private bool _upgraded;

    internal BatonTransaction(RequestHead request, HttpInput input, Stream requestBody, Socket socket, string hostName, TimeSpan handoffTime, Func<bool, Task> complete)
    {
        _input = input;
        Request = request;
        RequestBody = requestBody;
        Socket = socket;
        _response = new ResponseStream(socket);
        HostName = hostName;
        HandoffTime = handoffTime;
        _complete = complete;
    }

    /// <summary>
    /// The request head, already parsed. It may be the connection's reused head (the router serving a request
    /// itself refills it with the next one): read it until <see cref="CompleteAsync"/>, and keep
    /// <see cref="RequestHead.Detach"/>'s copy, or the strings read from it, beyond that.
    /// </summary>
    public RequestHead Request { get; }

    /// <summary>The request body (Content-Length or chunked, decoded); empty when there is none.</summary>
    public Stream RequestBody { get; }

    /// <summary>Where the response goes: straight to the client, not through the router.</summary>
    public Stream Response => _response;

    /// <summary>Whether any response byte has been written (a 400 for a bad body can no longer be sent).</summary>
    public bool ResponseStarted => _response.Started;

    /// <summary>The connection as relay's exchange reads and writes it: this socket and this input.</summary>
    internal Modes.ClientConnection Connection => _connection ??= new Modes.ClientConnection(Socket, _input);

    private Modes.ClientConnection? _connection;

    /// <summary>The client connection itself, for applications that want socket-level access.</summary>
    public Socket Socket { get; }

    /// <summary>The name of the host serving this transaction.</summary>
    public string HostName { get; }

    /// <summary>The router's time to hand the connection here (zero when served where it was accepted).</summary>
    public TimeSpan HandoffTime { get; }

    /// <summary>The protocol the client asks to switch to (its Upgrade field, e.g. "websocket"), or null.</summary>
    public string? UpgradeRequested => HttpUpgrade.Requested(Request);

    /// <summary>
    /// After the application has written its 101 Switching Protocols response: the connection in the
    /// new protocol, both ways (bytes the client sent right after the request come first). An
    /// upgraded connection is never given back; <see cref="CompleteAsync"/> closes it.
    /// </summary>
    public Stream AcceptUpgrade()
    {
        if (UpgradeRequested is null) throw new InvalidOperationException("the request did not ask for an upgrade");
        _upgraded = true;
        return _input.OpenUpgraded();
    }

    /// <summary>Whether <see cref="CompleteAsync"/> has been called.</summary>
    public bool IsCompleted => _completion is not null;

    /// <summary>
    /// Declares the transaction complete: the response is fully written. Baton waits until the kernel
    /// has sent every byte (never returns a connection with unsent data), then gives the connection
    /// back to the router, or closes it when <paramref name="keepAlive"/> is false or the request asked
    /// for close. Calling it again returns the same task.
    /// </summary>
    public Task CompleteAsync(bool keepAlive = true) => _completion ??= _complete(keepAlive && !_upgraded);
}
