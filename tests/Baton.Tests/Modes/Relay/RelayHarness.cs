using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Baton.Http;
using Baton.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Baton.Modes;
using Baton.Modes.Relay;

namespace Baton.Tests.Modes.Relay;

/// <summary>
/// A RelayTarget behind a loop that does what the router does with a client connection: read a
/// head, have the target serve it, again while the outcome is Back; a NotServed is answered with
/// the error the router would write.
/// </summary>
internal sealed class RelayHarness : IAsyncDisposable
{
    private readonly TcpListener _front = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly ConcurrentBag<Task> _loops = [];

    public RelayHarness(Uri origin, RelayOptions? options = null)
        : this(OriginConnector.For(origin), options)
    {
    }

    public RelayHarness(OriginConnector origin, RelayOptions? options = null)
    {
        Target = new RelayTarget("origin1", origin, options ?? new RelayOptions(), NullLogger.Instance);
        _front.Start();
        _accepting = AcceptLoopAsync();
    }

    public RelayTarget Target { get; }

    /// <summary>Where clients connect (the harness plays the router there).</summary>
    public IPEndPoint Front => (IPEndPoint)_front.LocalEndpoint;

    /// <summary>Every outcome ServeAsync returned, in order.</summary>
    public ConcurrentQueue<TransactionOutcome> Outcomes { get; } = new();

    /// <summary>Exceptions that escaped ServeAsync (there must be none).</summary>
    public ConcurrentQueue<Exception> Escaped { get; } = new();

    public async Task<TestClient> ConnectAsync()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await s.ConnectAsync(_front.LocalEndpoint);
        return new TestClient(s);
    }

    /// <summary>Waits until <paramref name="count"/> outcomes are in (the last one can trail the client's read).</summary>
    public async Task<TransactionOutcome[]> OutcomesAsync(int count)
    {
        var deadline = DateTime.UtcNow + LoopbackPair.HangGuard;
        while (Outcomes.Count < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"only {Outcomes.Count} of {count} outcomes");
            await Task.Delay(5);
        }
        return [.. Outcomes];
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                var s = await _front.AcceptSocketAsync(_stop.Token);
                s.NoDelay = true;
                _loops.Add(RouterLoopAsync(s));
            }
        }
        // InvalidOperationException: the listener was stopped between one accept and the next.
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or InvalidOperationException) { }
    }

    private async Task RouterLoopAsync(Socket socket)
    {
        using var connection = new ClientConnection(socket);
        try
        {
            while (true)
            {
                var r = await connection.Input.ReadHeadAsync(RequestHeadParser.DefaultHeadLimit, LoopbackPair.HangGuard, _stop.Token);
                if (r.Status != HeadReadStatus.Head)
                {
                    await GracefulClose.CloseAsync(connection.Socket);
                    return;
                }
                var outcome = await Target.ServeAsync(connection, r.Head!, _stop.Token);
                Outcomes.Enqueue(outcome);
                switch (outcome)
                {
                    case TransactionOutcome.Back:
                        continue;
                    case TransactionOutcome.NotServed n:
                        await SimpleResponse.SendErrorAndCloseAsync(connection.Socket, n.Status, n.ClientText("origin"), "router");
                        return;
                    default:
                        return;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
        catch (Exception e)
        {
            Escaped.Enqueue(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _front.Stop();
        await _accepting;
        await Task.WhenAll(_loops).WaitAsync(LoopbackPair.HangGuard);
        await Target.DisposeAsync();
        _stop.Dispose();
    }
}
