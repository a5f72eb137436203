using System.Net;
using Baton.Modes.Handoff.Repair;

namespace Baton.ClusterTests;

/// <summary>
/// A snapshot of a connection that never existed, with plausible options: what a forger would send,
/// or what a test restores to take a 4-tuple.
/// </summary>
internal static class MadeUpSnapshot
{
    public static TcpSnapshot For(IPEndPoint local, IPEndPoint remote, byte[]? receiveQueue = null) => new()
    {
        Local = local,
        Remote = remote,
        SendSeq = 1000,
        ReceiveSeq = 2000,
        SendQueue = [],
        SendUnsent = 0,
        ReceiveQueue = receiveQueue ?? [],
        Mss = 1448,
        Timestamps = true,
        Sack = true,
        WindowScaling = true,
        SendWindowScale = 7,
        ReceiveWindowScale = 7,
        Timestamp = 1,
        Window = new TcpRepairWindow(2000, 65535, 65535, 65535, 2000),
    };
}
