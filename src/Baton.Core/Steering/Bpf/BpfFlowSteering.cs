using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using Baton.Interop;
using Baton.Steering.Hold;

namespace Baton.Steering.Bpf;

/// <summary>
/// Flow steering with an eBPF program at tc clsact ingress of the router's interface
/// (<c>steer.bpf.c</c>): a hash map keyed by (client address, client port) says block or forward
/// to a back-end's MAC, and a change is one map update, not an nftables transaction
/// (0.8 µs against 90–110 µs here, DESIGN.md §5). Only TCP to the service is looked at.
/// Start replaces a filter a crashed run left at Baton's handle and priority; stop removes only
/// that filter. The maps live as long as the filter and are not pinned: nothing is left in bpffs.
/// With a hold queue, <see cref="Hold"/> redirects a frozen connection's frames to it instead of
/// dropping them, and forward or clear replays them (<see cref="HoldCapture"/>).
/// </summary>
public sealed class BpfFlowSteering : IFlowSteering
{
    private readonly object _gate = new();
    private readonly SteerProgram _program;
    private readonly TcIngressFilter _filter;
    // steer_xdp at the driver's hook ahead of the filter, when asked for and the driver takes it.
    private readonly XdpForward? _xdp;
    private readonly int _ifindex;
    private readonly byte[] _routerMac;
    private readonly Dictionary<string, byte[]> _backends = new(StringComparer.Ordinal);
    // What the map holds, so Count needs no syscall and a repeated change none either.
    private readonly Dictionary<IPEndPoint, Entry> _entries = new();
    private readonly HoldCapture? _hold;
    // The program again at ingress of the hold device, where replays to the router's stack come in.
    private readonly TcIngressFilter? _holdFilter;
    // The program at the hold queue's end, where a hold is released (steer.bpf.c, `release`).
    private readonly TcIngressFilter? _releaseFilter;
    private readonly ReleaseSlots? _slots;
    // Releases waiting for their last frames to leave the hold path before steering goes straight.
    private readonly Dictionary<IPEndPoint, long> _releasing = new();
    private readonly Timer _releaseTimer;
    // The last hold's generation (FlowMap.Set, steer.bpf.c): never 0, which unmarked frames carry.
    private uint _generation;
    // Opening a release: compare-and-swap tries before it opens regardless. Each try that loses
    // to a frame replays that frame first; a client that never pauses between frames could keep
    // it losing, and then at worst the frames since the last replay are overtaken.
    private const int OpenTries = 10_000;
    // Going straight: how long Forward and Clear wait for the hold path to empty (normally µs)
    // before a timer takes over, and how long the timer waits before it goes straight anyway (a
    // frame lost on the hold path would keep the count above 0).
    private static readonly TimeSpan DirectSpin = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan DirectGiveUp = TimeSpan.FromMilliseconds(100);
    private bool _disposed;

    /// <summary>
    /// Loads the program, points it at <paramref name="service"/> (the VIP and port) and attaches it
    /// at ingress of <paramref name="device"/> in the calling thread's network namespace. With
    /// <paramref name="holdQueue"/> it also makes the hold queue (its veth pair and packet sockets);
    /// when that fails steering still works, holds drop as blocks do, and <see cref="HoldUnavailable"/> says why.
    /// With <paramref name="xdp"/> forwarded frames leave from the driver's XDP hook; when the driver
    /// or another program there refuses it, tc does it all and <see cref="XdpUnavailable"/> says why.
    /// </summary>
    /// <exception cref="SteeringException">libbpf is missing, the kernel refused the program, or the device does not exist.</exception>
    /// <remarks>
    /// With <paramref name="adopt"/>, a previous run's steering that it left in place
    /// (<see cref="Leave"/>) is taken over: its connections away at back-ends stay forwarded, without
    /// a moment in between, and are listed in <see cref="Adopted"/>; when it cannot be taken over,
    /// <see cref="AdoptUnavailable"/> says why and steering starts empty.
    /// </remarks>
    public BpfFlowSteering(string device, IPEndPoint service, PhysicalAddress routerMac, HoldLimits? holdQueue = null, bool xdp = false, bool adopt = false)
    {
        _routerMac = MacBytes(routerMac);
        _ifindex = IfIndex(device);
        int? previous = adopt ? PreviousConns() : null;
        try
        {
            _program = SteerProgram.Load(previous);
        }
        finally
        {
            if (previous is { } fd) Libc.Close(fd);
        }
        try
        {
            // Configured before it is attached: the program never runs without its service.
            FlowMap.SetService(_program.ServiceFd, service);
            // Taken over before the new program replaces the old one on the hook, in one step: both
            // read the same map, so a frame of a forwarded connection is forwarded by one or the other.
            if (previous is not null) Adopted = AdoptEntries();
            _filter = TcIngressFilter.Attach(_ifindex, _program.ProgramFd);
        }
        catch
        {
            _program.Dispose();
            throw;
        }
        if (!xdp) XdpForward.RemoveStale(_ifindex);
        else
        {
            try { _xdp = XdpForward.Attach(_ifindex, _program.XdpProgramFd); }
            catch (SteeringException e) { XdpUnavailable = e.Message; }
        }
        _releaseTimer = new Timer(_ => FinishReleases());
        if (holdQueue is null) HoldDevice.RemoveStale();
        else
        {
            try
            {
                _hold = HoldCapture.Start(_ifindex, holdQueue);
                _slots = new ReleaseSlots(_program.SlotsFd, FlowMap.Capacity);
                // Replays to the router's stack meet the program too, so one processed late (after the
                // connection was held again, or forwarded) goes where that connection's frames go now.
                _holdFilter = TcIngressFilter.Attach(_hold.DeviceIfIndex, _program.ProgramFd);
                _releaseFilter = TcIngressFilter.Attach(_hold.QueueIfIndex, _program.ReleaseProgramFd);
                FlowMap.SetService(_program.ServiceFd, service, _hold.DeviceIfIndex);
            }
            catch (SteeringException e)
            {
                _holdFilter?.Dispose();
                _holdFilter = null;
                _releaseFilter?.Dispose();
                _releaseFilter = null;
                _slots?.Dispose();
                _slots = null;
                _hold?.Dispose();
                _hold = null;
                HoldUnavailable = e.Message;
            }
        }
    }

    /// <summary>The connections a previous run left forwarded to back-ends, with the back-end's MAC, now steered by this one.</summary>
    public IReadOnlyList<(IPEndPoint Client, PhysicalAddress Backend)> Adopted { get; } = [];

    /// <summary>Why a previous run's steering could not be taken over; null when there was none, or it was.</summary>
    public string? AdoptUnavailable { get; private set; }

    // The conns map of the program a previous run left on the hook, when it is Baton's and of this layout.
    private int? PreviousConns()
    {
        if (TcIngressFilter.Query(_ifindex) is not { } progId || progId == 0) return null;
        if (AttachedMaps.ProgramName(progId) != "steer")
        {
            AdoptUnavailable = $"the filter at Baton's handle runs program {progId}, which is not Baton's steer";
            return null;
        }
        var (fd, why) = AttachedMaps.OpenConns(progId);
        AdoptUnavailable = why;
        return fd >= 0 ? fd : null;
    }

    // What a previous run left: connections forwarded to a back-end (or on their way there) go on
    // being forwarded, as Forward entries of unknown owner until the back-end's agent connects
    // (AddBackend matches them by MAC). Blocked ones stay blocked (AdoptedBlocked): the previous
    // run parked those it held itself, for this one to restore and clear. Held ones were in
    // transit, their hold queue and its slots are gone: removed, so the client hears from this
    // host that the connection is lost.
    private List<(IPEndPoint, PhysicalAddress)> AdoptEntries()
    {
        var adopted = new List<(IPEndPoint, PhysicalAddress)>();
        var blocked = new List<IPEndPoint>();
        foreach (var e in FlowMap.Read(_program.ConnsFd))
        {
            bool toBackend = e.Action == FlowAction.Forward || (e.Action == FlowAction.Release && e.IfIndex == _ifindex);
            if (e.Action == FlowAction.Block)
            {
                FlowMap.Set(_program.ConnsFd, e.Client, FlowAction.Block, _ifindex, default, _routerMac);
                _entries[e.Client] = new Entry(FlowAction.Block, null);
                blocked.Add(e.Client);
                continue;
            }
            if (!toBackend)
            {
                FlowMap.Delete(_program.ConnsFd, e.Client);
                continue;
            }
            var mac = e.BackendMac.GetAddressBytes();
            FlowMap.Set(_program.ConnsFd, e.Client, FlowAction.Forward, _ifindex, mac, _routerMac);
            _entries[e.Client] = new Entry(FlowAction.Forward, null, To: new Target(_ifindex, mac));
            adopted.Add((e.Client, e.BackendMac));
        }
        AdoptedBlocked = blocked;
        return adopted;
    }

    /// <summary>The connections a previous run left blocked (parked at its stop, or frozen in transit), still blocked; clear each.</summary>
    public IReadOnlyList<IPEndPoint> AdoptedBlocked { get; private set; } = [];

    /// <summary>Why the hold queue asked for could not be set up (frozen packets are then dropped); null when it runs or was not asked for.</summary>
    public string? HoldUnavailable { get; }

    /// <summary>Why the XDP hook asked for is not used (tc steers every frame); null when it runs or was not asked for.</summary>
    public string? XdpUnavailable { get; }

    /// <summary>Whether forwarded frames leave from the driver's XDP hook.</summary>
    public bool Xdp => _xdp is not null;

    /// <summary>Whether <see cref="Hold"/> keeps packets (true) or drops them as <see cref="Block"/> does.</summary>
    public bool Holds => _hold is not null;

    /// <inheritdoc />
    public int Count { get { lock (_gate) return _entries.Count; } }

    /// <inheritdoc />
    public void AddBackend(string name, PhysicalAddress mac)
    {
        var bytes = MacBytes(mac);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            bool changed = _backends.TryGetValue(name, out var old) && !old.AsSpan().SequenceEqual(bytes);
            _backends[name] = bytes;
            // Connections a previous run left forwarded to this MAC are this back-end's.
            foreach (var (client, entry) in _entries.Where(e => e.Value is { Backend: null, Action: FlowAction.Forward } f && f.To.Mac.AsSpan().SequenceEqual(bytes)).ToList())
                _entries[client] = entry with { Backend = name };
            // An agent that reconnects with a new MAC: its connections follow it, as the nftables chain does.
            if (changed)
                foreach (var (client, entry) in _entries.Where(e => e.Value.Backend == name).ToList())
                {
                    var to = new Target(_ifindex, bytes);
                    FlowMap.Set(_program.ConnsFd, client, entry.Action, _ifindex, bytes, _routerMac, entry.Generation, entry.Slot ?? 0);
                    _entries[client] = entry with { To = to };
                }
        }
    }

    /// <inheritdoc />
    public void Block(IPEndPoint client)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            bool present = _entries.TryGetValue(client, out var old);
            if (present && old.Action == FlowAction.Block) return;
            FlowMap.Set(_program.ConnsFd, client, FlowAction.Block, _ifindex, default, _routerMac);
            _entries[client] = new Entry(FlowAction.Block, null);
            _releasing.Remove(client);
            if (old.Slot is { } slot) _slots!.Free(slot);
            // Held frames of a connection now blocked would only be replayed late: it ended.
            if (present && old.Action == FlowAction.Hold) _hold?.Drop(client);
        }
    }

    /// <inheritdoc />
    public void Hold(IPEndPoint client)
    {
        if (_hold is null)
        {
            Block(client);
            return;
        }
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _entries.TryGetValue(client, out var old);
            if (old.Action == FlowAction.Hold) return;
            // Open before the redirect: the first frame redirected finds its connection held.
            _hold.Open(client);
            _releasing.Remove(client);
            uint slot = old.Slot ?? _slots!.Allocate();
            _slots!.Reset(slot);
            if (++_generation == 0 || _generation >= 0x8000_0000) _generation = 1; // below MARK_PASS
            // No target yet: ifindex is the hold device's until the release names one. Frames the
            // last release sent on may still be on the hold path: they go to its target.
            FlowMap.Set(_program.ConnsFd, client, FlowAction.Hold, _hold.DeviceIfIndex, default, _routerMac, _generation, slot, old.To);
            _entries[client] = new Entry(FlowAction.Hold, null, _generation, slot, Previous: old.To);
        }
    }

    /// <inheritdoc />
    public void Forward(IPEndPoint client, string backend)
    {
        byte[] mac;
        Entry old;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_backends.TryGetValue(backend, out mac!)) throw new SteeringException($"unknown back-end '{backend}'");
            bool present = _entries.TryGetValue(client, out old);
            if (present && old.Backend == backend) return;
            if (old.Action != FlowAction.Hold)
            {
                // In place: one atomic update, no moment without an entry.
                _releasing.Remove(client);
                FlowMap.Set(_program.ConnsFd, client, FlowAction.Forward, _ifindex, mac, _routerMac, 0, old.Slot ?? 0);
                _entries[client] = new Entry(FlowAction.Forward, backend, 0, old.Slot, new Target(_ifindex, mac));
                return;
            }
        }
        Release(client, old, backend, _ifindex, mac, _routerMac,
            upTo => _hold!.ReplayToBackend(client, upTo, mac, _routerMac));
    }

    /// <inheritdoc />
    public void Clear(IPEndPoint client)
    {
        Entry old;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_entries.TryGetValue(client, out old)) return;
            if (old.Action != FlowAction.Hold)
            {
                Remove(client, old);
                return;
            }
        }
        uint generation = old.Generation;
        Release(client, old, null, _hold!.DeviceIfIndex, _hold.DeviceMac.ToArray(), _routerMac,
            upTo => _hold!.ReplayToHost(client, generation, upTo));
    }

    // Ends a hold without letting a newer frame overtake an older one (steer.bpf.c, `release`):
    // the entry names the target while the connection is still held; the held frames are replayed
    // until OPEN is set in the same step as the count of held frames is found all replayed; then
    // newer frames go the hold path's way too, and once none is on it, straight.
    // One connection's changes come from one hand-off at a time, so only the timer can race this.
    private void Release(IPEndPoint client, Entry held, string? backend, int ifindex, byte[] mac, byte[] routerMac, Func<int, int> replayUpTo)
    {
        uint slot = held.Slot!.Value;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            FlowMap.Set(_program.ConnsFd, client, FlowAction.Hold, ifindex, mac, routerMac, held.Generation, slot, held.Previous);
        }
        int replayed = 0;
        for (int i = 0; ; i++)
        {
            ulong word = _slots!.Read(slot);
            int counted = ReleaseSlots.Held(word);
            if (counted > replayed)
            {
                // The queue end counts a frame after the hold queue's socket has it (taps run
                // before tc), so a drain finds every frame counted. A copy the socket dropped
                // (buffer full, counted as socket-full) would shift the count for the rest of this
                // hold: one frame sent twice, one not at all, which the client resends.
                replayUpTo(counted);
                replayed = counted;
                continue;
            }
            if (_slots.TrySet(slot, word, ReleaseSlots.Open)) break;
            if (i >= OpenTries)
            {
                replayUpTo(ReleaseSlots.Held(_slots.Set(slot, ReleaseSlots.Open)));
                break;
            }
        }
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Its own target as the previous one too: the next hold clears OPEN before its entry
            // replaces this one, and frames this release sent on still go here meanwhile.
            FlowMap.Set(_program.ConnsFd, client, FlowAction.Release, ifindex, mac, routerMac, held.Generation, slot, new Target(ifindex, mac));
            _entries[client] = new Entry(FlowAction.Release, backend, held.Generation, slot, new Target(ifindex, mac));
        }
        _hold!.Close(client);
        long deadline = Stopwatch.GetTimestamp() + (long)(DirectSpin.TotalSeconds * Stopwatch.Frequency);
        var spin = new SpinWait();
        while (!TryGoStraight(client, held.Generation, force: false))
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                lock (_gate)
                {
                    if (_disposed) return;
                    _releasing[client] = Stopwatch.GetTimestamp();
                    _releaseTimer.Change(1, Timeout.Infinite);
                }
                return;
            }
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    // DIRECT once the hold path is empty, then the entry steers straight: forward, or (a return)
    // gone. False while frames are still on the hold path.
    private bool TryGoStraight(IPEndPoint client, uint generation, bool force)
    {
        lock (_gate)
        {
            if (_disposed) return true;
            // Held again, blocked or cleared meanwhile: nothing of this release is left to do.
            if (!_entries.TryGetValue(client, out var e) || e.Action != FlowAction.Release || e.Generation != generation) return true;
            uint slot = e.Slot!.Value;
            ulong word = _slots!.Read(slot);
            if (force) _slots.Set(slot, ReleaseSlots.Direct);
            else if (ReleaseSlots.Inflight(word) != 0 || !_slots.TrySet(slot, word, ReleaseSlots.Direct)) return false;
            _releasing.Remove(client);
            if (e.Backend is null) Remove(client, e);
            else
            {
                FlowMap.Set(_program.ConnsFd, client, FlowAction.Forward, _ifindex, e.To.Mac!, _routerMac, 0, slot);
                _entries[client] = new Entry(FlowAction.Forward, e.Backend, 0, slot, e.To);
            }
            return true;
        }
    }

    private void FinishReleases()
    {
        List<(IPEndPoint Client, uint Generation, bool Force)> due;
        lock (_gate)
        {
            if (_disposed || _releasing.Count == 0) return;
            long now = Stopwatch.GetTimestamp();
            due = _releasing.Select(r => (r.Key, _entries[r.Key].Generation, Stopwatch.GetElapsedTime(r.Value, now) > DirectGiveUp)).ToList();
        }
        foreach (var (client, generation, force) in due) TryGoStraight(client, generation, force);
        lock (_gate)
            if (!_disposed && _releasing.Count > 0) _releaseTimer.Change(1, Timeout.Infinite);
    }

    // Under _gate.
    private void Remove(IPEndPoint client, Entry e)
    {
        _entries.Remove(client);
        _releasing.Remove(client);
        FlowMap.Delete(_program.ConnsFd, client);
        if (e.Slot is { } slot) _slots!.Free(slot);
    }

    /// <summary>
    /// Stops this run but leaves the filter and its map on the device, so that connections away at
    /// back-ends stay forwarded until the next run takes them over (<c>adopt</c>). Releases under
    /// way end now: to a back-end, straight there; to this host, removed. Held and blocked
    /// connections stay so for the next run to remove. The hold queue and the XDP hook go.
    /// </summary>
    public bool Leave()
    {
        lock (_gate)
        {
            if (_disposed) return false;
            _disposed = true;
            _releaseTimer.Dispose();
            foreach (var (client, e) in _entries.Where(e => e.Value.Action == FlowAction.Release))
            {
                if (e.Backend is not null) FlowMap.Set(_program.ConnsFd, client, FlowAction.Forward, _ifindex, e.To.Mac!, _routerMac);
                else FlowMap.Delete(_program.ConnsFd, client);
            }
            _xdp?.Dispose();
            _filter.Leave();
            _holdFilter?.Dispose();
            _releaseFilter?.Dispose();
            _slots?.Dispose();
            _program.Dispose(); // the filter holds the program, and the program its map
            _hold?.Dispose();
            return true;
        }
    }

    /// <summary>Detaches the filter (only Baton's, at its handle and priority) and unloads the program and its maps.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _releaseTimer.Dispose();
            // The XDP program first: without it every frame meets the filter again.
            _xdp?.Dispose();
            _filter.Dispose();
            _holdFilter?.Dispose();
            _releaseFilter?.Dispose();
            // Unmapped before the program's object closes the map.
            _slots?.Dispose();
            _program.Dispose();
            _hold?.Dispose();
        }
    }

    /// <summary>
    /// Removes a filter a crashed run left at Baton's handle and priority on <paramref name="device"/>
    /// (calling thread's namespace), if any: for a router that now steers with nftables.
    /// </summary>
    internal static void RemoveStale(string device)
    {
        try
        {
            if (Libc.IfNameToIndex(device) is var i and > 0)
            {
                XdpForward.RemoveStale((int)i);
                TcIngressFilter.Remove((int)i);
            }
        }
        catch (DllNotFoundException) { } // without libbpf no run can have left one
        HoldDevice.RemoveStale();
    }

    /// <summary>
    /// The entries of the steering map in Baton's filter on <paramref name="device"/> (calling
    /// thread's namespace), read by the program's id from any process; null when no Baton filter is
    /// attached there. For tests and diagnostics: bpftool is not part of a base system.
    /// </summary>
    internal static List<FlowEntry>? ReadAttached(string device) =>
        TcIngressFilter.Query(IfIndex(device)) is { } progId ? AttachedMaps.ReadConns(progId) : null;

    // Backend is the owner's name for Forward and a release to a back-end, null otherwise;
    // Generation is a hold's, 0 otherwise; Slot is the connection's in `slots` once it was held;
    // To is where Forward and Release send frames; Previous, a hold's, is where they went before it.
    private readonly record struct Entry(FlowAction Action, string? Backend, uint Generation = 0, uint? Slot = null, Target To = default, Target Previous = default);

    private static int IfIndex(string device)
    {
        uint i = Libc.IfNameToIndex(device);
        return i > 0 ? (int)i : throw new SteeringException($"no interface named '{device}' in this network namespace");
    }

    private static byte[] MacBytes(PhysicalAddress mac) =>
        mac.GetAddressBytes() is { Length: 6 } b ? b : throw new SteeringException($"'{mac}' is not an Ethernet MAC address");
}
