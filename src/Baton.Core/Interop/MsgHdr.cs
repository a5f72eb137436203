using System.Runtime.InteropServices;

namespace Baton.Interop;

/// <summary>struct msghdr (64-bit Linux): sendmsg/recvmsg's argument.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MsgHdr
{
    public void* Name;
    public uint NameLength;
    public IoVec* Iov;
    public nuint IovLength;
    public void* Control;
    public nuint ControlLength;
    public int Flags;
}

/// <summary>struct iovec.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVec
{
    public void* Base;
    public nuint Length;
}

/// <summary>struct cmsghdr (64-bit Linux): the header of one ancillary data item.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CmsgHdr
{
    public nuint Length;
    public int Level;
    public int Type;
}
