using System.Net.Sockets;
using Baton.Interop;
using Baton.Modes;
using Baton.Modes.Handoff.Repair;

namespace Baton;

/// <summary>
/// The failures Baton expects from the world outside it, each kind named once (as Kestrel's
/// <c>IsConnectionResetError</c>): a catch says which kind it handles, and what a kind covers is
/// decided here. Anything else is a bug and goes up.
/// </summary>
internal static class Faults
{
    /// <summary>
    /// The connection ended under the call: the peer closed or reset it (<see cref="SocketException"/>,
    /// or <see cref="IOException"/> from a stream over the socket), or another path of ours closed
    /// it meanwhile (<see cref="ObjectDisposedException"/>).
    /// </summary>
    public static bool IsConnectionLost(Exception e) => e is SocketException or IOException or ObjectDisposedException;

    /// <summary>The connection was lost (<see cref="IsConnectionLost"/>), or the wait on it was given up: a stop, a deadline.</summary>
    public static bool IsConnectionEnded(Exception e) => IsConnectionLost(e) || e is OperationCanceledException or TimeoutException;

    /// <summary>The connection was lost, or the peer sent bytes that are not the HTTP it should (<see cref="InvalidDataException"/>).</summary>
    public static bool IsMalformedOrLost(Exception e) => IsConnectionLost(e) || e is InvalidDataException;

    /// <summary>A control link (router ↔ agent) ended (<see cref="IsConnectionEnded"/>) or its peer broke the protocol.</summary>
    public static bool IsLinkFailure(Exception e) => IsConnectionEnded(e) || e is ControlProtocolException;

    /// <summary>A kernel call on a descriptor failed: a socket option, SCM_RIGHTS, TCP_REPAIR.</summary>
    public static bool IsKernelRefusal(Exception e) => e is NativeCallException or SocketException;

    /// <summary>A connection cannot be moved here: its state would not dump or restore, or this process lacks CAP_NET_ADMIN.</summary>
    public static bool IsNotMovable(Exception e) => e is ConnectionNotMovableException or NativeCallException or MissingPrivilegeException;

    /// <summary>A file cannot be read or written: missing, or no permission.</summary>
    public static bool IsFileUnavailable(Exception e) => e is IOException or UnauthorizedAccessException;
}
