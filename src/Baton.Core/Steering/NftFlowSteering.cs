using System.Net;
using System.Net.NetworkInformation;
using System.Runtime.InteropServices;
using System.Text;
using Baton.Interop;

namespace Baton.Steering;

/// <summary>
/// Flow steering with an nftables netdev table on the router's interface: an ingress chain at
/// priority −500 looks up (client address . client port) in a verdict map (its elements changed
/// through raw nfnetlink, see <see cref="NfTablesNetlink"/>) whose entries are
/// <c>drop</c> or a jump to a per-back-end chain that rewrites both MACs and sends the frame back
/// out the same device. Rewriting the source MAC matters: with the client's MAC left in place the
/// bridge learns it on the router's port and the back-end's replies go to the router.
/// </summary>
public sealed class NftFlowSteering : IFlowSteering
{
    /// <summary>The nftables table this class owns; removed at stop and at the next start after a crash.</summary>
    public const string TableName = "baton";

    private readonly object _gate = new();
    private readonly nint _ctx;
    private readonly string _device;
    private readonly string _routerMac;
    private readonly Dictionary<(IPAddress, int), string> _entries = new();
    private readonly HashSet<string> _backends = new(StringComparer.Ordinal);
    private readonly NfTablesNetlink _elements;
    private bool _disposed;

    /// <summary>
    /// Creates the table on <paramref name="device"/> for connections to <paramref name="service"/>
    /// (the VIP and port), replacing any table a crashed run left behind.
    /// </summary>
    public NftFlowSteering(string device, IPEndPoint service, PhysicalAddress routerMac)
    {
        _device = device;
        _routerMac = FormatMac(routerMac);
        try
        {
            _ctx = LibNftables.CtxNew(0);
        }
        catch (DllNotFoundException)
        {
            throw new SteeringException("libnftables.so.1 is not installed (Debian package libnftables1): flow steering needs it");
        }
        if (_ctx == 0) throw new SteeringException("nft_ctx_new failed");
        LibNftables.BufferOutput(_ctx);
        LibNftables.BufferError(_ctx);
        // "add" then "delete" makes the delete succeed whether or not a stale table exists.
        Run($$"""
            add table netdev {{TableName}}
            delete table netdev {{TableName}}
            table netdev {{TableName}} {
              map conns { type ipv4_addr . inet_service : verdict; }
              chain ingress {
                type filter hook ingress device "{{device}}" priority -500; policy accept;
                ip daddr {{service.Address}} tcp dport {{service.Port}} ip saddr . tcp sport vmap @conns
              }
            }
            """);
        _elements = new NfTablesNetlink(TableName, "conns");
    }

    /// <inheritdoc />
    public int Count { get { lock (_gate) return _entries.Count; } }

    /// <inheritdoc />
    public void AddBackend(string name, PhysicalAddress mac)
    {
        string chain = ChainName(name);
        lock (_gate)
        {
            // Re-adding (an agent that reconnects, maybe with a new MAC) flushes and rewrites the chain.
            Run($"""
                add chain netdev {TableName} {chain}
                flush chain netdev {TableName} {chain}
                add rule netdev {TableName} {chain} ether saddr set {_routerMac} ether daddr set {FormatMac(mac)} fwd to "{_device}"
                """);
            _backends.Add(name);
        }
    }

    /// <inheritdoc />
    public void Block(IPEndPoint client) => Set(client, null);

    /// <inheritdoc />
    public void Forward(IPEndPoint client, string backend)
    {
        lock (_gate)
            if (!_backends.Contains(backend)) throw new SteeringException($"unknown back-end '{backend}'");
        Set(client, ChainName(backend));
    }

    /// <inheritdoc />
    public void Clear(IPEndPoint client)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_entries.Remove(Key(client))) return;
            _elements.Change(client, delete: true, verdict: null, chain: null);
        }
    }

    // chain null: drop (block); otherwise goto that back-end's chain.
    private void Set(IPEndPoint client, string? chain)
    {
        string verdict = chain ?? "drop";
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var key = Key(client);
            bool present = _entries.TryGetValue(key, out var old);
            if (present && old == verdict) return;
            // A map element's verdict cannot be changed in place: delete and add in one transaction.
            _elements.Change(client, delete: present,
                verdict: chain is null ? NfTablesNetlink.VerdictDrop : NfTablesNetlink.VerdictGoto, chain);
            _entries[key] = verdict;
        }
    }

    private void Run(string commands)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (LibNftables.RunCmdFromBuffer(_ctx, commands) != 0)
        {
            string err = Marshal.PtrToStringUTF8(LibNftables.GetErrorBuffer(_ctx))?.Trim() ?? "";
            if (err.Contains("Operation not permitted", StringComparison.Ordinal))
                throw new SteeringException("nftables refused the change: flow steering needs CAP_NET_ADMIN (run as root)");
            throw new SteeringException($"nftables refused: {FirstLine(err)} (commands: {FirstLine(commands)})");
        }
    }

    /// <summary>Removes the table (and with it every steering entry).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            try { Run($"delete table netdev {TableName}"); } catch (SteeringException) { }
            _disposed = true;
            _elements.Dispose();
            LibNftables.CtxFree(_ctx);
        }
    }

    /// <summary>
    /// Removes the table a crashed run left behind, if any (calling thread's namespace): for a router
    /// that now steers with eBPF. Without libnftables no run can have made one.
    /// </summary>
    internal static void RemoveStale()
    {
        nint ctx;
        try { ctx = LibNftables.CtxNew(0); }
        catch (DllNotFoundException) { return; }
        if (ctx == 0) return;
        LibNftables.BufferOutput(ctx);
        LibNftables.BufferError(ctx);
        LibNftables.RunCmdFromBuffer(ctx, $"add table netdev {TableName}\ndelete table netdev {TableName}");
        LibNftables.CtxFree(ctx);
    }

    private static (IPAddress, int) Key(IPEndPoint ep) => (ep.Address, ep.Port);

    private static string ChainName(string backend)
    {
        var sb = new StringBuilder("to_");
        foreach (char c in backend) sb.Append(char.IsAsciiLetterOrDigit(c) ? c : '_');
        return sb.ToString();
    }

    internal static string FormatMac(PhysicalAddress mac) =>
        string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2")));

    private static string FirstLine(string s) => s.Split('\n', 2)[0];
}
