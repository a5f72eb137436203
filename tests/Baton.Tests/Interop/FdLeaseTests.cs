using System.Net.Sockets;
using Baton.Interop;
using Baton.Tests.Support;

namespace Baton.Tests.Interop;

/// <summary>A lease borrows a SafeHandle's descriptor for a few calls: the handle stays open under it, and a closed one cannot be leased.</summary>
public sealed class FdLeaseTests
{
    [Fact]
    public void A_lease_gives_the_sockets_descriptor_and_keeps_it_open_until_it_ends()
    {
        using var pair = LoopbackPair.Create();
        var handle = pair.Client.SafeHandle;
        using (var lease = new FdLease(handle))
        {
            Assert.Equal((int)pair.Client.Handle, lease.Fd);
            // The kernel answers for it: the descriptor is the live socket.
            Assert.Equal(0, Baton.Modes.Handoff.Repair.TcpRepair.Unacknowledged(pair.Client));
            handle.Dispose(); // a close meanwhile is deferred: the number is not reused under the lease
            Assert.False(handle.IsInvalid);
            Assert.Equal(0, Libc.IoctlInt(lease.Fd, Libc.SIOCOUTQ, "ioctl(SIOCOUTQ)"));
        }
        Assert.True(handle.IsClosed);
    }

    [Fact]
    public void A_closed_handle_cannot_be_leased()
    {
        var pair = LoopbackPair.Create();
        var socket = pair.Client;
        pair.Dispose();
        Assert.Throws<ObjectDisposedException>(() => { using var lease = new FdLease(socket.SafeHandle); });
        // As the kernel calls on a socket see it: a clean ObjectDisposedException, not an errno on another file.
        Assert.Throws<ObjectDisposedException>(() => Baton.Modes.Handoff.Repair.TcpRepair.Unsent(socket));
    }
}
