using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Baton.Http;

namespace Baton.Tests.Modes.Relay;

/// <summary>A request as the origin received it.</summary>
internal sealed record OriginRequest(int Connection, int IndexOnConnection, RequestHead Head, byte[] Body)
{
    public string? this[string name] => Head[name];
}

/// <summary>What the origin does with one request.</summary>
internal sealed record OriginReply(byte[] Bytes, bool CloseAfter = false, bool CloseWithoutReply = false)
{
    public static OriginReply Close() => new([], CloseWithoutReply: true);
}

/// <summary>
/// A raw-socket origin on 127.0.0.1 whose every answer is scripted: it parses each request with
/// Baton's strict request parser (so anything the relay sends must be valid HTTP/1.1), records it
/// and writes exactly the bytes the test chose, so framing corner cases can be produced at will.
/// </summary>
internal sealed class ScriptedOrigin : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<OriginRequest, OriginReply> _reply;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Socket> _sockets = [];
    private readonly Task _accepting;
    private int _connections;

    public ScriptedOrigin(Func<OriginRequest, OriginReply> reply)
    {
        _reply = reply;
        _listener.Start();
        _accepting = AcceptLoopAsync();
    }

    public Uri Url => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public ConcurrentQueue<OriginRequest> Requests { get; } = new();

    /// <summary>Failures inside the origin (a request it could not parse); tests assert there are none.</summary>
    public ConcurrentQueue<string> Errors { get; } = new();

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var s = await _listener.AcceptSocketAsync(_stop.Token);
                _sockets.Add(s);
                _ = ServeAsync(s, Interlocked.Increment(ref _connections));
            }
        }
        // InvalidOperationException: the listener was stopped between one accept and the next.
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or InvalidOperationException) { }
    }

    private async Task ServeAsync(Socket s, int connection)
    {
        using var input = new HttpInput(s);
        try
        {
            for (int i = 1; ; i++)
            {
                var r = await input.ReadHeadAsync(RequestHeadParser.DefaultHeadLimit, Timeout.InfiniteTimeSpan, _stop.Token);
                if (r.Status != HeadReadStatus.Head)
                {
                    if (r.Status == HeadReadStatus.Invalid) Errors.Enqueue($"invalid request: {r.ErrorReason}");
                    break;
                }
                // As real servers do: a client that waits for 100 Continue gets it before the body is read.
                if (string.Equals(r.Head!["Expect"], "100-continue", StringComparison.OrdinalIgnoreCase))
                    await s.SendAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray(), SocketFlags.None, _stop.Token);
                var body = new MemoryStream();
                await input.OpenBody(r.Head!).CopyToAsync(body, _stop.Token);
                var request = new OriginRequest(connection, i, r.Head!, body.ToArray());
                Requests.Enqueue(request);
                var reply = _reply(request);
                if (reply.CloseWithoutReply) break;
                await s.SendAsync(reply.Bytes, SocketFlags.None, _stop.Token);
                if (reply.CloseAfter)
                {
                    s.Shutdown(SocketShutdown.Send);
                    break;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or IOException) { }
        catch (Exception e)
        {
            Errors.Enqueue(e.ToString());
        }
        finally
        {
            s.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        foreach (var s in _sockets) s.Dispose();
        _stop.Dispose();
    }
}
