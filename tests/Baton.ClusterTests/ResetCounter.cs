using System.Text.RegularExpressions;
using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>
/// Counts TCP resets of one client connection in one namespace host: those the host sends to the
/// client's port (output) and those it receives on it (input), with an nftables counter in a table
/// of the test's own, removed on Dispose. Unlike the namespace-wide SNMP counters it cannot be
/// moved by a late packet of another test's connection.
/// </summary>
public sealed partial class ResetCounter : IDisposable
{
    private const string Table = "battest";
    private readonly string _ns;

    private ResetCounter(string ns) => _ns = ns;

    /// <summary>Starts counting resets to or from <paramref name="clientPort"/> in <paramref name="ns"/>.</summary>
    public static ResetCounter Start(string ns, int clientPort)
    {
        var c = new ResetCounter(ns);
        c.Remove();
        string port = clientPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Netns.ExecIn(ns, "nft", "add", "table", "inet", Table);
        try
        {
            Netns.ExecIn(ns, "nft", "add", "chain", "inet", Table, "out", "{ type filter hook output priority 0; policy accept; }");
            Netns.ExecIn(ns, "nft", "add", "chain", "inet", Table, "in", "{ type filter hook input priority 0; policy accept; }");
            Netns.ExecIn(ns, "nft", "add", "rule", "inet", Table, "out", "tcp", "dport", port, "tcp", "flags", "&", "rst", "==", "rst", "counter");
            Netns.ExecIn(ns, "nft", "add", "rule", "inet", Table, "out", "tcp", "sport", port, "tcp", "flags", "&", "rst", "==", "rst", "counter");
            Netns.ExecIn(ns, "nft", "add", "rule", "inet", Table, "in", "tcp", "dport", port, "tcp", "flags", "&", "rst", "==", "rst", "counter");
        }
        catch
        {
            c.Dispose();
            throw;
        }
        return c;
    }

    /// <summary>Resets counted so far.</summary>
    public long Count =>
        PacketCounts().Matches(Netns.ExecIn(_ns, "nft", "list", "table", "inet", Table)).Sum(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));

    public void Dispose() => Remove();

    private void Remove()
    {
        try { Netns.ExecIn(_ns, "nft", "delete", "table", "inet", Table); }
        catch (InvalidOperationException) { } // not there
    }

    [GeneratedRegex(@"counter packets (\d+)")]
    private static partial Regex PacketCounts();
}
