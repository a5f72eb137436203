using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Baton.Metrics;
using Baton.Router;

namespace Baton.Operations.Live;

/// <summary>
/// What the live view shows, gathered only while someone looks: the first read starts a
/// <see cref="MeterListener"/> on the <c>Baton</c> meter and a watch on the router's moves, and
/// <see cref="IdleAfter"/> without a read stops both, so a router nobody watches pays nothing.
/// Counts are cumulative from that start; the page shows their rates.
/// </summary>
internal sealed class LiveFeed : IDisposable
{
    /// <summary>How long the feed keeps gathering after the last read.</summary>
    public static readonly TimeSpan IdleAfter = TimeSpan.FromSeconds(30);

    private const int MovesKept = 1024;
    private const int MovesPerRead = 300;

    private readonly IRouterControl _router;
    private readonly object _gate = new();
    private readonly ConnectionMove[] _moves = new ConnectionMove[MovesKept];
    private readonly Timer _idle;
    private long _moveCount;
    private Session? _session;
    private DateTime _lastRead;

    public LiveFeed(IRouterControl router)
    {
        _router = router;
        _idle = new Timer(_ => StopIfIdle(), null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
    }

    /// <summary>The state now, with the moves after <paramref name="since"/> (a cursor from an earlier read; 0 at first).</summary>
    public LiveSnapshot Read(long since)
    {
        Session session;
        lock (_gate)
        {
            _lastRead = DateTime.UtcNow;
            session = _session ??= new Session(this);
        }
        var moves = new List<ConnectionMove>();
        long cursor;
        lock (_moves)
        {
            cursor = _moveCount;
            long first = Math.Max(Math.Max(since, cursor - MovesKept), cursor - MovesPerRead);
            for (long i = first; i < cursor; i++) moves.Add(_moves[i % MovesKept]);
        }
        var destinations = _router.Destinations().Select(d =>
        {
            var c = session.Of(d.Name);
            return new LiveDestination(d.Cluster, d.Name, d.Transfer, d.Health, d.Available, d.Draining, d.Active, d.Connections,
                Volatile.Read(ref c.Requests), Volatile.Read(ref c.Transactions), c.TransactionSeconds);
        }).ToList();
        return new LiveSnapshot(DateTime.UtcNow, session.Started, cursor, _router.ConnectionCount, session.Totals(), destinations, moves);
    }

    private void Moved(ConnectionMove move)
    {
        lock (_moves) _moves[_moveCount++ % MovesKept] = move;
    }

    private void StopIfIdle()
    {
        lock (_gate)
        {
            if (_session is null || DateTime.UtcNow - _lastRead < IdleAfter) return;
            _session.Dispose();
            _session = null;
        }
    }

    public void Dispose()
    {
        _idle.Dispose();
        lock (_gate) _session?.Dispose();
    }

    /// <summary>Per destination, from the measurements tagged with it.</summary>
    private sealed class DestinationCounts
    {
        public long Requests;
        public long Transactions;
        private long _microseconds;

        public double TransactionSeconds => Volatile.Read(ref _microseconds) / 1e6;

        public void Transaction(double seconds)
        {
            Interlocked.Increment(ref Transactions);
            Interlocked.Add(ref _microseconds, (long)(seconds * 1e6));
        }
    }

    /// <summary>One period of gathering: a meter listener and a move watch, and what they counted.</summary>
    private sealed class Session : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly IDisposable _watch;
        private readonly ConcurrentDictionary<string, DestinationCounts> _destinations = new();
        private long _requests, _handoffs, _passes, _stays, _returns, _failures;

        public DateTime Started { get; } = DateTime.UtcNow;

        public Session(LiveFeed feed)
        {
            _watch = feed._router.Moves.Watch(feed.Moved);
            _listener.InstrumentPublished = (i, l) =>
            {
                if (i.Meter.Name == BatonMetrics.MeterName) l.EnableMeasurementEvents(i);
            };
            _listener.SetMeasurementEventCallback<long>((i, value, tags, _) => OnCount(i.Name, value, tags));
            _listener.SetMeasurementEventCallback<double>((i, value, tags, _) => OnValue(i.Name, value, tags));
            _listener.Start();
        }

        public DestinationCounts Of(string destination) => _destinations.GetOrAdd(destination, _ => new DestinationCounts());

        public LiveTotals Totals() => new(Volatile.Read(ref _requests), Volatile.Read(ref _handoffs), Volatile.Read(ref _passes),
            Volatile.Read(ref _stays), Volatile.Read(ref _returns), Volatile.Read(ref _failures));

        private void OnCount(string name, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            switch (name)
            {
                case "baton.router.requests":
                    Interlocked.Add(ref _requests, value);
                    if (Destination(tags) is { } d) Interlocked.Add(ref Of(d).Requests, value);
                    break;
                case "baton.handoff.passes": Interlocked.Add(ref _passes, value); break;
                case "baton.handoff.stays": Interlocked.Add(ref _stays, value); break;
                case "baton.handoff.failures" or "baton.return.failures": Interlocked.Add(ref _failures, value); break;
            }
        }

        private void OnValue(string name, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            switch (name)
            {
                // One per hand-off and per pass (the router times both).
                case "baton.handoff.duration": Interlocked.Increment(ref _handoffs); break;
                case "baton.return.duration": Interlocked.Increment(ref _returns); break;
                case "baton.router.transaction.duration":
                    if (Destination(tags) is { } d) Of(d).Transaction(value);
                    break;
            }
        }

        private static string? Destination(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var t in tags)
                if (t.Key == "destination") return t.Value as string;
            return null;
        }

        public void Dispose()
        {
            _watch.Dispose();
            _listener.Dispose();
        }
    }
}

/// <summary>The body of GET /api/live: the cluster now, and the moves since the reader's cursor.</summary>
/// <param name="Since">When the counts started (the feed's start after an idle period).</param>
/// <param name="Cursor">Give it back as <c>?since=</c> to get only newer moves.</param>
public sealed record LiveSnapshot(DateTime At, DateTime Since, long Cursor, int Connections, LiveTotals Totals,
    IReadOnlyList<LiveDestination> Destinations, IReadOnlyList<ConnectionMove> Moves);

/// <summary>Counts since <see cref="LiveSnapshot.Since"/>: requests routed, hand-offs (passes included), passes, stays, returns, failed moves.</summary>
public sealed record LiveTotals(long Requests, long Handoffs, long Passes, long Stays, long Returns, long Failures);

/// <summary>One destination of one cluster now, with its counts since <see cref="LiveSnapshot.Since"/> (shared by its clusters).</summary>
public sealed record LiveDestination(string Cluster, string Name, string Transfer, string Health, bool Available, bool Draining, int Active,
    int Connections, long Requests, long Transactions, double TransactionSeconds);
