using System.Globalization;
using System.Text;

namespace Baton.Lab;

/// <summary>
/// Checks "one owner on the wire" for every connection of a run: each host's transmitted segments
/// to the client (captured as they leave its interface, so stamped when sent) must fall in an
/// interval when that host held a copy of the connection (from its
/// <see cref="Modes.Handoff.Repair.OwnershipTrace"/>: restored → dumped or dropped), and the TSvals the client
/// receives on a connection must never step back.
/// </summary>
/// <remarks>
/// The router owns each connection from its SYN-ACK until its first dump; an agent from its Go
/// (live) until its dump. A copy dumped and then live again (restored after a failed return)
/// counts from its live again. A segment stamped after the dump's last call was sent by a copy
/// that should be silent: that is the stray this check exists for.
/// </remarks>
public sealed class WireOwnership
{
    /// <summary>A segment sent by a host that did not own the connection then.</summary>
    public sealed record Stray(string Host, CapturedSegment Segment, string Since);

    /// <summary>
    /// A segment whose TSval is older than one the client already received on that connection,
    /// from another host, or by more than the one tick the client's PAWS check tolerates.
    /// </summary>
    public sealed record StepBack(CapturedSegment Segment, CapturedSegment Newest, string From, string NewestFrom);

    private readonly List<Stray> _strays = [];
    private readonly List<StepBack> _stepBacks = [];
    private readonly Dictionary<string, string> _hostOfMac;
    private long _checked;

    private WireOwnership(IReadOnlyDictionary<string, string> macs) =>
        _hostOfMac = macs.ToDictionary(kv => kv.Value, kv => kv.Key, StringComparer.OrdinalIgnoreCase);

    /// <summary>Segments that a host sent while it did not own their connection.</summary>
    public IReadOnlyList<Stray> Strays => _strays;

    /// <summary>Segments the client received with a TSval older than one it had already seen.</summary>
    public IReadOnlyList<StepBack> StepBacks => _stepBacks;

    /// <summary>Segments checked against the ownership intervals.</summary>
    public long Checked => _checked;

    /// <summary>Segments the client received (checked for TSval order).</summary>
    public long Received { get; private set; }

    /// <summary>
    /// Checks the hosts' transmitted segments (<paramref name="sent"/>, by host name, each host's
    /// trace lines in <paramref name="traces"/>; <paramref name="initialOwner"/> owns every
    /// connection from its SYN-ACK) and the client's received ones.
    /// </summary>
    public static WireOwnership Check(IReadOnlyDictionary<string, string> macs, string initialOwner,
        IReadOnlyDictionary<string, IReadOnlyList<CapturedSegment>> sent, IReadOnlyDictionary<string, IEnumerable<string>> traces,
        IReadOnlyList<CapturedSegment> received)
    {
        var w = new WireOwnership(macs);
        foreach (var (host, segments) in sent)
            w.CheckHost(host, host == initialOwner, segments, ParseTrace(traces.TryGetValue(host, out var t) ? t : []));
        w.CheckTimestamps(received);
        return w;
    }

    /// <summary>
    /// An ownership trace's events (<see cref="Modes.Handoff.Repair.OwnershipTrace"/> lines) by the
    /// client's port, each port's in time order: wall-clock ticks, and whether the copy went live
    /// (H) or was let go (R).
    /// </summary>
    public static Dictionary<int, List<(long Ticks, bool Live)>> ParseTrace(IEnumerable<string> lines)
    {
        var byPort = new Dictionary<int, List<(long, bool)>>();
        foreach (var line in lines)
        {
            var parts = line.Split(',');
            if (parts.Length != 3 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long ticks)) continue;
            int colon = parts[1].LastIndexOf(':');
            if (colon < 0 || !int.TryParse(parts[1].AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port)) continue;
            if (!byPort.TryGetValue(port, out var list)) byPort[port] = list = [];
            list.Add((ticks, parts[2] == "H"));
        }
        foreach (var list in byPort.Values) list.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return byPort;
    }

    private void CheckHost(string host, bool initiallyLive, IReadOnlyList<CapturedSegment> segments, Dictionary<int, List<(long Ticks, bool Live)>> trace)
    {
        // The initial owner's copy of a connection is live from its SYN-ACK (a port's earlier
        // connection may have ended dumped): each SYN-ACK is a live event.
        if (initiallyLive)
        {
            foreach (var s in segments.Where(s => s.IsSynAck))
            {
                if (!trace.TryGetValue(s.Destination.Port, out var list)) trace[s.Destination.Port] = list = [];
                list.Add((s.Ticks, true));
            }
            foreach (var list in trace.Values) list.Sort((a, b) => a.Ticks.CompareTo(b.Ticks));
        }
        foreach (var s in segments)
        {
            _checked++;
            bool live = initiallyLive;
            long since = 0;
            if (trace.TryGetValue(s.Destination.Port, out var events))
            {
                int i = LastAtOrBefore(events, s.Ticks);
                if (i >= 0) (since, live) = events[i];
            }
            if (!live)
                _strays.Add(new Stray(host, s, since == 0 ? "never held it" : $"released it {TimeSpan.FromTicks(s.Ticks - since).TotalMilliseconds:F3} ms before"));
        }
    }

    private static int LastAtOrBefore(List<(long Ticks, bool Live)> events, long ticks)
    {
        int lo = 0, hi = events.Count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            if (events[mid].Ticks <= ticks) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        return found;
    }

    private void CheckTimestamps(IReadOnlyList<CapturedSegment> received)
    {
        var newest = new Dictionary<int, CapturedSegment>();
        foreach (var s in received)
        {
            Received++;
            int port = s.Destination.Port;
            if (s.IsSynAck) { newest.Remove(port); }
            if (s.TsVal is not { } ts) continue;
            // One host's own segments one tick apart may reach the client out of order (two CPUs
            // transmitting for one socket), and the client's kernel accepts that (PAWS window 1):
            // a step back counts when another host sent the newer value, or when it is over 1.
            if (newest.TryGetValue(port, out var n) && (int)(ts - n.TsVal!.Value) is var back && back < 0
                && (back < -1 || n.SourceMac != s.SourceMac))
            {
                _stepBacks.Add(new StepBack(s, n, HostOf(s.SourceMac), HostOf(n.SourceMac)));
                continue;
            }
            newest[port] = s;
        }
    }

    private string HostOf(string mac) => _hostOfMac.TryGetValue(mac, out var h) ? h : mac;

    /// <summary>A few lines for a failed assertion or a report: counts and the first cases of each kind.</summary>
    public string Describe(int examples = 8)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{_checked} sent segments checked, {_strays.Count} from a host that did not own the connection; ");
        sb.Append(CultureInfo.InvariantCulture, $"{Received} received, {_stepBacks.Count} with a TSval older than one already received");
        foreach (var s in _strays.Take(examples))
            sb.Append(CultureInfo.InvariantCulture, $"\n  stray from {s.Host} ({s.Since}): {s.Segment}");
        foreach (var b in _stepBacks.Take(examples))
            sb.Append(CultureInfo.InvariantCulture, $"\n  step back: {b.From} sent TSval {b.Segment.TsVal} after {b.NewestFrom}'s {b.Newest.TsVal}: {b.Segment}");
        return sb.ToString();
    }
}
