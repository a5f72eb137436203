using Baton.Lab;

namespace Baton.Tests.Support;

/// <summary>
/// A fresh network namespace "&lt;prefix&gt;-&lt;random&gt;" (default prefix bt-unit) with loopback up,
/// deleted on Dispose (and if its setup fails half way). Needs root, like TCP_REPAIR itself.
/// </summary>
internal sealed class TempNetns : IDisposable
{
    public string Name { get; }

    public TempNetns(string prefix = "bt-unit")
    {
        Name = $"{prefix}-{Guid.NewGuid():N}"[..20];
        Assert.True(Netns.IsRoot, "this test needs root (CAP_NET_ADMIN for TCP_REPAIR and 'ip netns add'); CI runs it as root");
        Netns.Exec("ip", "netns", "add", Name);
        try
        {
            Netns.Exec("ip", "-n", Name, "link", "set", "lo", "up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public T Run<T>(Func<T> action) => Netns.Run(Name, action);

    /// <summary>
    /// Drops every packet to TCP port <paramref name="port"/> inside the namespace, as the router's
    /// steering does while a connection has no live socket (DESIGN.md §3): a packet that found no
    /// socket would be answered with a reset. <see cref="Unblock"/> lifts it.
    /// </summary>
    public void Block(int port)
    {
        Netns.ExecIn(Name, "nft", "add", "table", "ip", "btunit");
        Netns.ExecIn(Name, "nft", "add", "chain", "ip", "btunit", "out", "{ type filter hook output priority 0; policy accept; }");
        Netns.ExecIn(Name, "nft", "add", "rule", "ip", "btunit", "out", "tcp", "dport", port.ToString(), "drop");
    }

    public void Unblock() => Netns.ExecIn(Name, "nft", "delete", "table", "ip", "btunit");

    public void Dispose()
    {
        try { Netns.Exec("ip", "netns", "del", Name); }
        catch (InvalidOperationException) when (!Netns.List().Contains(Name)) { }
    }
}
