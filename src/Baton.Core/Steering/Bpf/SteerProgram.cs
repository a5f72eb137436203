using System.Runtime.InteropServices;
using Baton.Interop;

namespace Baton.Steering.Bpf;

/// <summary>
/// The programs of <c>steer.bpf.c</c> (tc, and XDP ahead of it), loaded into the kernel from the object embedded in this
/// assembly (bpf_object__open_mem: the installed router needs no file next to it). Owns the libbpf
/// object, and with it the program's and maps' file descriptors.
/// </summary>
internal sealed unsafe class SteerProgram : IDisposable
{
    private const string Resource = "Baton.Steering.Bpf.steer.bpf.o";

    private readonly nint _obj;
    private void* _elf;

    private SteerProgram(nint obj, void* elf, int programFd, int releaseFd, int xdpFd, int connsFd, int serviceFd, int slotsFd)
    {
        _obj = obj;
        _elf = elf;
        ProgramFd = programFd;
        ReleaseProgramFd = releaseFd;
        XdpProgramFd = xdpFd;
        SlotsFd = slotsFd;
        ConnsFd = connsFd;
        ServiceFd = serviceFd;
    }

    /// <summary>The <c>steer</c> program.</summary>
    public int ProgramFd { get; }

    /// <summary>The <c>release</c> program, for the hold queue's end of the hold device pair.</summary>
    public int ReleaseProgramFd { get; }

    /// <summary>The <c>steer_xdp</c> program, for the driver's XDP hook of the client-facing interface (<see cref="XdpForward"/>).</summary>
    public int XdpProgramFd { get; }

    /// <summary>The <c>slots</c> array (mmapable): a word per connection held or being released.</summary>
    public int SlotsFd { get; }

    /// <summary>The <c>conns</c> hash map: (client address, client port) → action.</summary>
    public int ConnsFd { get; }

    /// <summary>The one-entry <c>service</c> array: the VIP and port the program looks at.</summary>
    public int ServiceFd { get; }

    /// <summary>The embedded object file, as built by build.sh.</summary>
    public static byte[] EmbeddedObject()
    {
        using var s = typeof(SteerProgram).Assembly.GetManifestResourceStream(Resource)
            ?? throw new SteeringException($"the eBPF object {Resource} is not embedded in this build");
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>
    /// Opens, verifies and loads the program and its maps; with <paramref name="conns"/>, a previous
    /// run's <c>conns</c> map (a descriptor of it, which the caller still closes) instead of a new one.
    /// </summary>
    public static SteerProgram Load(int? reuseConns = null)
    {
        var bytes = EmbeddedObject();
        nint obj;
        void* elf;
        try
        {
            // Without this libbpf writes its own lines to stderr; its failures reach us as errno.
            LibBpf.SetPrint(0);
            // libbpf keeps pointers into the ELF image while the object is open: native memory, not a moved array.
            elf = NativeMemory.Alloc((nuint)bytes.Length);
            bytes.CopyTo(new Span<byte>(elf, bytes.Length));
            obj = LibBpf.ObjectOpenMem(elf, (nuint)bytes.Length, null);
        }
        catch (DllNotFoundException)
        {
            throw new SteeringException("libbpf.so.1 is not installed (Debian package libbpf1): eBPF flow steering needs it");
        }
        if (obj == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            NativeMemory.Free(elf);
            throw new SteeringException($"bpf_object__open_mem failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
        try
        {
            if (reuseConns is { } reused)
            {
                int reuse = LibBpf.MapReuseFd(LibBpf.FindMapByName(obj, "conns"), reused);
                if (reuse < 0) throw new SteeringException(LibBpf.Error("bpf_map__reuse_fd(conns)", reuse).Message);
            }
            int rc = LibBpf.ObjectLoad(obj);
            if (rc < 0) throw new SteeringException(LoadFailure(-rc));
            nint prog = LibBpf.FindProgramByName(obj, "steer");
            nint release = LibBpf.FindProgramByName(obj, "release");
            nint xdp = LibBpf.FindProgramByName(obj, XdpForward.ProgramName);
            nint conns = LibBpf.FindMapByName(obj, "conns");
            nint service = LibBpf.FindMapByName(obj, "service");
            nint slots = LibBpf.FindMapByName(obj, "slots");
            if (prog == 0 || release == 0 || xdp == 0 || conns == 0 || service == 0 || slots == 0)
                throw new SteeringException("the eBPF object lacks its programs 'steer', 'release' and 'steer_xdp' or maps 'conns', 'service' and 'slots'");
            return new SteerProgram(obj, elf, LibBpf.ProgramFd(prog), LibBpf.ProgramFd(release), LibBpf.ProgramFd(xdp), LibBpf.MapFd(conns), LibBpf.MapFd(service), LibBpf.MapFd(slots));
        }
        catch
        {
            LibBpf.ObjectClose(obj);
            NativeMemory.Free(elf);
            throw;
        }
    }

    private static string LoadFailure(int errno) => errno switch
    {
        Libc.EPERM => "loading the eBPF program needs CAP_BPF and CAP_NET_ADMIN (run as root)",
        // The verifier answers EACCES for a program it rejects, as does a kernel without CAP_BPF for us.
        Libc.EACCES => "the kernel refused the eBPF program (verifier, or CAP_BPF missing) (errno 13)",
        _ => $"loading the eBPF program failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})",
    };

    public void Dispose()
    {
        if (_elf is null) return;
        LibBpf.ObjectClose(_obj); // closes the program's and maps' fds
        NativeMemory.Free(_elf);
        _elf = null;
    }
}
