namespace Baton.Lab;

/// <summary>
/// Captures a <see cref="BatonLab"/>'s client traffic for <see cref="WireOwnership"/>: what the
/// router and each back-end transmit from the service address (on their eth0, outgoing) and what
/// the client receives from it. The lab must trace ownership (<see cref="BatonLab.TracesOwnership"/>).
/// With BATON_KEEP_WIRE=DIR set, the captures and traces are copied to DIR for a closer look
/// (<c>tcpdump -e -nn -r DIR/be1.sent.pcap</c>).
/// </summary>
public sealed class WireWatch : IAsyncDisposable
{
    private readonly BatonLab _lab;
    private readonly Dictionary<string, WireCapture> _sent;
    private readonly WireCapture _received;

    private WireWatch(BatonLab lab, Dictionary<string, WireCapture> sent, WireCapture received)
    {
        _lab = lab;
        _sent = sent;
        _received = received;
    }

    /// <summary>Frames the kernel dropped before a capture read them (after <see cref="StopAsync"/>); a check with drops is incomplete.</summary>
    public long Dropped { get; private set; }

    /// <summary>Starts the five captures.</summary>
    public static async Task<WireWatch> StartAsync(BatonLab lab)
    {
        if (!lab.TracesOwnership) throw new InvalidOperationException("the lab does not trace ownership (BatonLab.StartAsync traceOwnership)");
        string filter = $"tcp and src host {lab.Net.Vip} and src port {NetnsCluster.ServicePort}";
        var sent = new Dictionary<string, WireCapture>();
        WireCapture? received = null;
        try
        {
            foreach (var host in lab.Net.Backends.Prepend("router"))
                sent[host] = await WireCapture.StartAsync(lab.Net.Ns(host), "eth0", "out", filter, Path.Combine(lab.Directory, $"{host}.sent.pcap")).ConfigureAwait(false);
            received = await WireCapture.StartAsync(lab.Net.Ns("client"), "eth0", "in", filter, Path.Combine(lab.Directory, "client.received.pcap")).ConfigureAwait(false);
            return new WireWatch(lab, sent, received);
        }
        catch
        {
            foreach (var c in sent.Values) c.Dispose();
            received?.Dispose();
            throw;
        }
    }

    /// <summary>Stops the captures and checks them against the hosts' ownership traces.</summary>
    public async Task<WireOwnership> StopAsync()
    {
        // The traces are flushed every 50 ms: wait for the last events of the run to be written.
        await Task.Delay(200).ConfigureAwait(false);
        var sent = new Dictionary<string, IReadOnlyList<CapturedSegment>>();
        foreach (var (host, c) in _sent) sent[host] = await c.StopAsync().ConfigureAwait(false);
        var received = await _received.StopAsync().ConfigureAwait(false);
        Dropped = _sent.Values.Sum(c => c.Dropped) + _received.Dropped;
        var traces = new Dictionary<string, IEnumerable<string>>();
        foreach (var host in sent.Keys)
            traces[host] = File.Exists(_lab.OwnershipTraceOf(host)) ? File.ReadAllLines(_lab.OwnershipTraceOf(host)) : [];
        if (Environment.GetEnvironmentVariable("BATON_KEEP_WIRE") is { Length: > 0 } keep)
        {
            System.IO.Directory.CreateDirectory(keep);
            foreach (var f in System.IO.Directory.GetFiles(_lab.Directory)) File.Copy(f, Path.Combine(keep, Path.GetFileName(f)), true);
        }
        var macs = _lab.Net.Backends.Prepend("router").Append("client").ToDictionary(h => h, _lab.Net.MacOf);
        return WireOwnership.Check(macs, "router", sent, traces, received);
    }

    public ValueTask DisposeAsync()
    {
        foreach (var c in _sent.Values) c.Dispose();
        _received.Dispose();
        return ValueTask.CompletedTask;
    }
}
