using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Baton.Application;

namespace Baton.Lab;

/// <summary>What <see cref="MixedLoad"/> sends.</summary>
public sealed record MixedLoadOptions
{
    /// <summary>Keep-alive connections at once.</summary>
    public int Connections { get; init; } = 16;

    /// <summary>Requests in all, spread over the connections.</summary>
    public int Requests { get; init; } = 1000;

    /// <summary>Largest <c>/bytes/N</c> response; sizes are log-uniform from 0, so most are small and some are large.</summary>
    public long MaxResponse { get; init; } = 2 << 20;

    /// <summary>Largest POST body (echoed back); log-uniform from 0 as well.</summary>
    public int MaxUpload { get; init; } = 900_000;

    /// <summary>Share of requests that upload (POST, echoed).</summary>
    public double UploadShare { get; init; } = 0.2;

    /// <summary>Share of requests to <see cref="RouterPath"/> (served by the router itself, when it can).</summary>
    public double RouterShare { get; init; } = 0.1;

    /// <summary>Path prefixes the other requests go to, one picked at random per request (e.g. /be1, /be2).</summary>
    public IReadOnlyList<string> Prefixes { get; init; } = ["/be1", "/be2", "/be3"];

    /// <summary>The prefix of router-served requests.</summary>
    public string RouterPath { get; init; } = "/router";

    /// <summary>Seed of the random mix; the same seed sends the same requests.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>
    /// Think time: each connection waits a random 0..<see cref="Pause"/> after each answer before
    /// its next request. Zero (the default) keeps every connection busy, a closed loop that runs
    /// the host at full CPU.
    /// </summary>
    public TimeSpan Pause { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// When set, connections send no new request after this long (those under way finish and are
    /// checked): a run that ends on its own, unlike a cancellation, which cuts requests short.
    /// </summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>How long one request may take before it counts as failed.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>One request as the client saw it.</summary>
public readonly record struct MixedRequest(int Connection, int LocalPort, string Method, string Path, long Bytes, double Milliseconds, string Host);

/// <summary>What a <see cref="MixedLoad"/> run saw.</summary>
public sealed class MixedLoadResult
{
    internal readonly List<MixedRequest> Done = [];
    internal readonly List<string> Failed = [];

    /// <summary>Every request answered correctly (status 200, every byte as expected).</summary>
    public IReadOnlyList<MixedRequest> Requests => Done;

    /// <summary>Why the others failed, one line each (a failed request ends its connection; a new one continues).</summary>
    public IReadOnlyList<string> Failures => Failed;

    /// <summary>Client ports used, one per connection opened.</summary>
    public List<int> LocalPorts { get; } = [];

    /// <summary>Wall time of the run.</summary>
    public TimeSpan Elapsed { get; internal set; }

    /// <summary>Latency quantile in ms (0..1) over the correct requests.</summary>
    public double Quantile(double q)
    {
        if (Done.Count == 0) return 0;
        var sorted = Done.Select(r => r.Milliseconds).Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    /// <summary>Requests that took at least <paramref name="ms"/>.</summary>
    public int AtLeast(double ms) => Done.Count(r => r.Milliseconds >= ms);

    /// <summary>One line: counts and latency figures.</summary>
    public string Summary() => string.Create(CultureInfo.InvariantCulture,
        $"{Done.Count} ok, {Failed.Count} failed in {Elapsed.TotalSeconds:F1} s; p50 {Quantile(0.5):F2} ms, p99 {Quantile(0.99):F2} ms, " +
        $"p99.9 {Quantile(0.999):F2} ms, max {(Done.Count == 0 ? 0 : Done.Max(r => r.Milliseconds)):F1} ms; ≥ 200 ms: {AtLeast(200)}, ≥ 1 s: {AtLeast(1000)}");
}

/// <summary>
/// Many keep-alive connections at once, each sending a random mix one request at a time: GETs of
/// <c>/bytes/N</c> bodies (checked byte for byte against the built-in application's pattern), POST
/// uploads (checked echoed back whole) and router-served requests. Every answer is verified; a
/// wrong or missing one is a failure with its reason, never a silent retry.
/// </summary>
public static class MixedLoad
{
    /// <summary>Runs the mix over connections made by <paramref name="connect"/>.</summary>
    public static async Task<MixedLoadResult> RunAsync(Func<CancellationToken, Task<Socket>> connect, MixedLoadOptions o, CancellationToken ct = default)
    {
        var result = new MixedLoadResult();
        int next = -1;
        var sw = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, o.Connections).Select(c => Task.Run(async () =>
        {
            var random = new Random(o.Seed * 7919 + c);
            Socket? socket = null;
            Reader? reader = null;
            int port = 0;
            try
            {
                while (Interlocked.Increment(ref next) < o.Requests && !ct.IsCancellationRequested && (o.Duration is not { } d || sw.Elapsed < d))
                {
                    if (socket is null)
                    {
                        try
                        {
                            socket = await connect(ct).ConfigureAwait(false);
                        }
                        catch (SocketException e)
                        {
                            // Counted like a failed request; a pause, so a refusing server is not hammered.
                            lock (result) result.Failed.Add($"connection {c}: connect failed: {e.Message}");
                            await Task.Delay(100, ct).ConfigureAwait(false);
                            continue;
                        }
                        port = ((IPEndPoint)socket.LocalEndPoint!).Port;
                        lock (result) result.LocalPorts.Add(port);
                        reader = new Reader(socket);
                    }
                    var (method, path, upload, expect) = Pick(o, random);
                    try
                    {
                        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                        timeout.CancelAfter(o.RequestTimeout);
                        long start = Stopwatch.GetTimestamp();
                        await SendAsync(socket, method, path, upload, timeout.Token).ConfigureAwait(false);
                        var (host, bytes) = await reader!.ReadVerifiedAsync(upload, expect, timeout.Token).ConfigureAwait(false);
                        var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                        lock (result) result.Done.Add(new MixedRequest(c, port, method, path, bytes, ms, host));
                        if (o.Pause > TimeSpan.Zero) await Task.Delay(o.Pause * random.NextDouble(), ct).ConfigureAwait(false);
                    }
                    catch (Exception e) when (Faults.IsMalformedOrLost(e) || e is OperationCanceledException)
                    {
                        string why = e is OperationCanceledException ? $"no answer within {o.RequestTimeout.TotalSeconds:F0} s" : e.Message;
                        lock (result) result.Failed.Add($"connection {c} (port {port}) {method} {path}: {why}");
                        socket.Dispose();
                        socket = null;
                    }
                }
            }
            finally
            {
                socket?.Dispose();
            }
        }, ct)).ToArray();
        await Task.WhenAll(workers).ConfigureAwait(false);
        result.Elapsed = sw.Elapsed;
        return result;
    }

    private static (string Method, string Path, byte[]? Upload, long Expect) Pick(MixedLoadOptions o, Random random)
    {
        double roll = random.NextDouble();
        if (roll < o.RouterShare) return ("GET", $"{o.RouterPath}/r{random.Next(1000)}", null, -1);
        string prefix = o.Prefixes[random.Next(o.Prefixes.Count)];
        if (roll < o.RouterShare + o.UploadShare)
        {
            var body = new byte[LogUniform(random, o.MaxUpload)];
            random.NextBytes(body);
            return ("POST", $"{prefix}/echo", body, body.Length);
        }
        long n = LogUniform(random, o.MaxResponse);
        return ("GET", $"{prefix}/bytes/{n}", null, n);
    }

    /// <summary>0..max, uniform in log(1 + n): as many 1–10 B bodies as 100 KB–1 MB ones.</summary>
    private static long LogUniform(Random random, long max) => (long)Math.Floor(Math.Exp(random.NextDouble() * Math.Log(max + 1))) - 1;

    private static async Task SendAsync(Socket socket, string method, string path, byte[]? body, CancellationToken ct)
    {
        var head = Encoding.ASCII.GetBytes(body is null
            ? $"{method} {path} HTTP/1.1\r\nHost: baton\r\n\r\n"
            : $"{method} {path} HTTP/1.1\r\nHost: baton\r\nContent-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\n\r\n");
        await socket.SendAsync(head, SocketFlags.None, ct).ConfigureAwait(false);
        int sent = 0;
        while (body is not null && sent < body.Length)
            sent += await socket.SendAsync(body.AsMemory(sent), SocketFlags.None, ct).ConfigureAwait(false);
    }

    // The built-in application's body pattern from any phase, for one buffer's worth: checked with
    // a vectorized compare (a byte-at-a-time check cost the soak's client seconds of CPU).
    private static readonly byte[] Pattern = BuiltInApplication.Pattern((1 << 16) + 26);

    /// <summary>Reads responses from one connection and checks each against what was asked.</summary>
    private sealed class Reader(Socket socket)
    {
        private readonly byte[] _buffer = new byte[1 << 16];
        private int _start, _end;

        /// <summary>
        /// Reads one response: 200, a Content-Length body equal to <paramref name="echo"/> when
        /// given, else <paramref name="expect"/> pattern bytes (any length when negative: a router page).
        /// </summary>
        public async Task<(string Host, long Bytes)> ReadVerifiedAsync(byte[]? echo, long expect, CancellationToken ct)
        {
            int headEnd;
            while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
            {
                if (_end - _start > 16 << 10) throw new InvalidDataException("response head over 16 KiB");
                await FillAsync(ct).ConfigureAwait(false);
            }
            string head = Encoding.ASCII.GetString(_buffer, _start, headEnd);
            _start += headEnd + 4;
            var lines = head.Split("\r\n");
            var status = lines[0].Split(' ');
            if (status.Length < 2 || status[1] != "200") throw new InvalidDataException($"status line '{lines[0]}'");
            long length = -1;
            string host = "";
            foreach (var l in lines.AsSpan(1))
            {
                int c = l.IndexOf(':');
                if (c <= 0) continue;
                var name = l.AsSpan(0, c);
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) length = long.Parse(l.AsSpan(c + 1).Trim(), CultureInfo.InvariantCulture);
                else if (name.Equals("Baton-Host", StringComparison.OrdinalIgnoreCase)) host = l[(c + 1)..].Trim();
            }
            if (length < 0) throw new InvalidDataException("no Content-Length");
            long want = echo?.Length ?? expect;
            if (want >= 0 && length != want) throw new InvalidDataException($"Content-Length {length}, expected {want}");
            long offset = 0;
            while (offset < length)
            {
                if (_start == _end) await FillAsync(ct).ConfigureAwait(false);
                int n = (int)Math.Min(_end - _start, length - offset);
                var got = _buffer.AsSpan(_start, n);
                if (echo is not null)
                {
                    if (!got.SequenceEqual(echo.AsSpan((int)offset, n))) throw new InvalidDataException($"echoed body differs near byte {offset}");
                }
                else if (expect >= 0 && !got.SequenceEqual(Pattern.AsSpan((int)(offset % 26), n)))
                {
                    throw new InvalidDataException($"body differs from the pattern near byte {offset}");
                }
                _start += n;
                offset += n;
            }
            return (host, length);
        }

        private async Task FillAsync(CancellationToken ct)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length) throw new InvalidDataException("response head does not fit the buffer");
            int n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) throw new IOException("connection closed by the server");
            _end += n;
        }
    }
}
