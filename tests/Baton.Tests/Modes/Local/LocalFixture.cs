using System.Net;
using System.Net.Sockets;
using System.Text;
using Baton.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Baton.Application;
using Baton.Modes;
using Baton.Modes.Local.Router;
using Baton.Modes.Local.Worker;

namespace Baton.Tests.Modes.Local;

/// <summary>
/// A router-side registry on a real Unix socket with in-process workers (each a real
/// <see cref="WorkerHost"/> over its own Unix connection), and real TCP loopback clients.
/// </summary>
internal sealed class LocalFixture : IAsyncDisposable
{
    private readonly List<WorkerHost> _hosts = [];
    private readonly List<Task> _runs = [];
    private readonly List<Socket> _sockets = [];
    private readonly Socket _listener;

    public LocalFixture(uint? allowedUid = null, uint? allowedGid = null)
    {
        SocketPath = Path.Combine(Path.GetTempPath(), $"baton-{Guid.NewGuid():N}.sock");
        Registry = new WorkerRegistry(SocketPath, NullLogger.Instance, allowedUid, allowedGid);
        Registry.Start();
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
    }

    public string SocketPath { get; }
    public IReadOnlyList<WorkerHost> Hosts => _hosts;
    public WorkerRegistry Registry { get; }
    public LocalTransfer Transfer { get; } = new();

    public WorkerHost StartWorker(string name, IBatonApplication? app = null)
    {
        var host = new WorkerHost(new WorkerOptions { Name = name, SocketPath = SocketPath, Application = app ?? new BuiltInApplication() }, NullLoggerFactory.Instance);
        _hosts.Add(host);
        _runs.Add(host.RunAsync(CancellationToken.None));
        return host;
    }

    public async Task<WorkerLink> WorkerAsync(string name, IBatonApplication? app = null)
    {
        var host = StartWorker(name, app);
        await host.Registered.WaitAsync(LoopbackPair.HangGuard);
        return await Registry.WaitForAsync(name, CancellationToken.None).WaitAsync(LoopbackPair.HangGuard);
    }

    /// <summary>A client connected to the "router": (client, the router's accepted socket).</summary>
    public (Socket Client, Socket Accepted) Connect()
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.Connect(_listener.LocalEndPoint!);
        var accepted = _listener.Accept();
        accepted.NoDelay = true;
        client.ReceiveTimeout = client.SendTimeout = (int)LoopbackPair.HangGuard.TotalMilliseconds;
        _sockets.Add(client);
        return (client, accepted);
    }

    /// <summary>What the router does before a transfer: read once what has arrived (at least <paramref name="atLeast"/> bytes).</summary>
    public static async Task<byte[]> RouterReadsAsync(Socket accepted, int atLeast, int max = 4096)
    {
        var buffer = new byte[max];
        int got = 0;
        using var cts = new CancellationTokenSource(LoopbackPair.HangGuard);
        while (got < atLeast)
            got += await accepted.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, cts.Token);
        return buffer[..got];
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var h in _hosts) await h.DisposeAsync();
        foreach (var r in _runs)
        {
            try { await r.WaitAsync(LoopbackPair.HangGuard); }
            catch (Exception e) when (e is not TimeoutException) { }
        }
        await Registry.DisposeAsync();
        _listener.Dispose();
        foreach (var s in _sockets) s.Dispose();
    }

    public static byte[] Get(string path, bool close = false) =>
        Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: test\r\n{(close ? "Connection: close\r\n" : "")}\r\n");
}

/// <summary>Reads HTTP/1.1 responses (Content-Length framed) from a client socket, blocking.</summary>
internal sealed class ResponseReader(Socket socket)
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start, _end;

    public (string Head, byte[] Body) Read()
    {
        int headEnd;
        while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0) Fill();
        string head = Encoding.ASCII.GetString(_buffer, _start, headEnd + 4);
        _start += headEnd + 4;
        long length = 0;
        foreach (var line in head.Split("\r\n"))
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                length = long.Parse(line["Content-Length:".Length..].Trim());
        var body = new byte[length];
        int got = 0;
        while (got < length)
        {
            if (_start == _end) Fill();
            int n = Math.Min(_end - _start, (int)length - got);
            Buffer.BlockCopy(_buffer, _start, body, got, n);
            _start += n;
            got += n;
        }
        return (head, body);
    }

    /// <summary>True when the server closed the connection (FIN or reset) and nothing else is buffered.</summary>
    public bool SeesEnd()
    {
        if (_end > _start) return false;
        try { return socket.Receive(_buffer) == 0; }
        catch (SocketException) { return true; }
    }

    private void Fill()
    {
        if (_start == _end) _start = _end = 0;
        if (_end == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
        int n = socket.Receive(_buffer, _end, _buffer.Length - _end, SocketFlags.None);
        if (n == 0) throw new IOException("server closed the connection");
        _end += n;
    }
}

/// <summary>An application that holds the transaction until cancelled.</summary>
internal sealed class HoldingApplication : IBatonApplication
{
    public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task ServeAsync(BatonTransaction transaction, CancellationToken cancellationToken)
    {
        Entered.TrySetResult();
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
}

internal static class OutcomeExtensions
{
    public static LocalSocket ReturnedSocket(this TransferOutcome o) =>
        Assert.IsType<LocalSocket>(Assert.IsType<TransferOutcome.Returned>(o).Socket);
}
