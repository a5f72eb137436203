using System.Net;
using System.Net.Sockets;

namespace Baton.Lab;

/// <summary>What the lab's loopback servers and the tests that start processes share.</summary>
public static class Loopback
{
    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it), for a server about to listen on it.</summary>
    public static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>The checkout this code was built in: the directory above the running assembly that holds Baton.slnx.</summary>
    public static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Baton.slnx"))) return d.FullName;
        throw new InvalidOperationException("no Baton.slnx above " + AppContext.BaseDirectory);
    }
}
