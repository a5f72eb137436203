using Baton.Lab;

namespace Baton.Tests.Support;

/// <summary>
/// A fresh network namespace "bt-unit-&lt;random&gt;" with loopback up, deleted on Dispose (and if
/// its setup fails half way). Needs root, like TCP_REPAIR itself.
/// </summary>
internal sealed class TempNetns : IDisposable
{
    public string Name { get; } = $"bt-unit-{Guid.NewGuid():N}"[..20];

    public TempNetns()
    {
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

    public void Dispose()
    {
        try { Netns.Exec("ip", "netns", "del", Name); }
        catch (InvalidOperationException) when (!Netns.List().Contains(Name)) { }
    }
}
