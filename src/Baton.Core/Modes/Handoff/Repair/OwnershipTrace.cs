using System.Collections.Concurrent;
using System.Globalization;
using System.Net;

namespace Baton.Modes.Handoff.Repair;

/// <summary>
/// Diagnostics (<c>--ownership-trace FILE</c> on <c>baton router</c> and <c>baton agent</c>): when
/// this process came to hold a copy of a client connection (a restore: from then on its kernel
/// may answer the client, in repair mode too) and when it let it go (a dump, which closes the copy
/// at once, or a restored copy dropped unused), stamped with the wall clock (CLOCK_REALTIME, the
/// clock packet captures use), one line per event: <c>ticks,client,H|R</c> (ticks:
/// <see cref="DateTime.Ticks"/>, UTC). The router holds every connection from its SYN-ACK. A
/// capture of what each host transmitted, set against these intervals, shows whether a copy that
/// is not the owner sent anything (<c>Baton.Lab.WireOwnership</c>). Off unless started: one static
/// check per event.
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

    /// <summary>A copy of the connection exists here now (restored): from now on it may transmit.</summary>
    internal static void Holds(IPEndPoint client)
    {
        if (_on) Pending.Enqueue(Line(client, 'H'));
    }

    /// <summary>This host's copy is dumped or dropped: from now on it must transmit nothing.</summary>
    internal static void Released(IPEndPoint client)
    {
        if (_on) Pending.Enqueue(Line(client, 'R'));
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
