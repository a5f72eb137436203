using System.Runtime.InteropServices;

namespace Baton.Interop;

/// <summary>
/// A descriptor borrowed from its <see cref="SafeHandle"/> for one call or a few: while the lease
/// lasts the handle cannot be closed, so the number cannot be reused for another file under the
/// call. Leases are short (a dump's syscalls, one sendmsg): a socket disposed meanwhile closes when
/// the lease ends, and a lease on a closed handle throws <see cref="ObjectDisposedException"/>.
/// The one place Baton reads a SafeHandle's number.
/// </summary>
internal ref struct FdLease
{
    private readonly SafeHandle _handle;
    private bool _added;

    /// <exception cref="ObjectDisposedException">The handle is already closed.</exception>
    public FdLease(SafeHandle handle)
    {
        _handle = handle;
        handle.DangerousAddRef(ref _added);
        Fd = (int)handle.DangerousGetHandle();
    }

    /// <summary>The descriptor, valid until <see cref="Dispose"/>.</summary>
    public int Fd { get; }

    public void Dispose()
    {
        if (!_added) return;
        _added = false;
        _handle.DangerousRelease();
    }
}
