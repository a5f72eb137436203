using System.Collections.Concurrent;
using System.Globalization;
using System.Net;

namespace Baton.Transfer;

/// <summary>
/// Diagnostics (<c>--ownership-trace FILE</c> on <c>baton router</c> and <c>baton agent</c>): when
/// this process's copy of a client connection went live and when it was dumped, stamped with the
/// wall clock (CLOCK_REALTIME, the clock packet captures use), one line per event:
/// <c>ticks,client,L|D</c> (ticks: <see cref="DateTime.Ticks"/>, UTC). A capture of what each host
/// transmitted, set against these intervals, shows whether a copy that is not the owner sent
/// anything (<c>Baton.Lab.WireOwnership</c>). Off unless started: one static check per event.
/// </summary>
public static class OwnershipTrace
{
    private static readonly ConcurrentQueue<string> Pending = new();
    private static StreamWriter? _writer;
    private static Timer? _flush;
    private static volatile bool _on;

    /// <summary>Writes events to <paramref name="path"/> (flushed every 50 ms and at <see cref="Stop"/>).</summary>
    public static void Start(string path)
    {
        // Appended: a restarted process goes on in the same file.
        _writer = new StreamWriter(path, append: true) { AutoFlush = false };
        _flush = new Timer(static _ => Flush(), null, 50, 50);
        _on = true;
    }

    /// <summary>Flushes what is pending and closes the file.</summary>
    public static void Stop()
    {
        if (!_on) return;
        _on = false;
        _flush?.Dispose();
        Flush();
        lock (Pending)
        {
            _writer?.Dispose();
            _writer = null;
        }
    }

    /// <summary>This copy is about to leave repair mode: from now on it may transmit.</summary>
    internal static void Live(IPEndPoint client)
    {
        if (_on) Pending.Enqueue(Line(client, 'L'));
    }

    /// <summary>This copy is dumped: from now on it must transmit nothing.</summary>
    internal static void Dumped(IPEndPoint client)
    {
        if (_on) Pending.Enqueue(Line(client, 'D'));
    }

    private static string Line(IPEndPoint client, char what) =>
        string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow.Ticks},{client},{what}");

    private static void Flush()
    {
        lock (Pending)
        {
            if (_writer is null) return;
            while (Pending.TryDequeue(out var line)) _writer.WriteLine(line);
            _writer.Flush();
        }
    }
}
