using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using Baton.Interop;

namespace Baton.Steering.Bpf;

/// <summary>What <c>steer.bpf.c</c> does with a connection's packets (flow_action.action).</summary>
internal enum FlowAction : uint
{
    /// <summary>Drop: the connection is frozen in transit.</summary>
    Block = 0,

    /// <summary>Rewrite both MACs and send the frame back out to the owning back-end.</summary>
    Forward = 1,

    /// <summary>
    /// Send the frame, unchanged, out the hold device (the entry's ifindex): the connection is
    /// frozen, the hold queue keeps it. A frame coming in at the hold device marked with the
    /// entry's generation is a replay of this hold to the router's stack and goes on there.
    /// </summary>
    Hold = 2,

    /// <summary>
    /// Ending a hold (steer.bpf.c, <c>release</c>): frames still go the hold device's way, marked,
    /// and the program at the hold queue's end sends them on, behind the held ones, to the entry's
    /// target: a back-end (ifindex is the uplink) or the router's stack (ifindex is the hold device).
    /// </summary>
    Release = 3,
}

/// <summary>Where a connection's frames go: out <paramref name="IfIndex"/> to <paramref name="Mac"/> (a back-end on the uplink, or the router's stack through the hold device); default: nowhere yet.</summary>
internal readonly record struct Target(int IfIndex, byte[]? Mac);

/// <summary>One entry of the <c>conns</c> map.</summary>
internal sealed record FlowEntry(IPEndPoint Client, FlowAction Action, int IfIndex, PhysicalAddress BackendMac, PhysicalAddress RouterMac, uint Generation, uint Slot);

/// <summary>
/// The <c>conns</c> map of <c>steer.bpf.c</c> through its fd: key and value laid out as the C structs
/// (key: client address and port in network order, 8 bytes; value: action, ifindex, back-end MAC,
/// router MAC, hold generation, release slot, the previous release's target ifindex and MAC, 40 bytes). One bpf(2) call per change: 0.8 µs update, 0.65 µs delete (DESIGN.md §5).
/// </summary>
internal static unsafe class FlowMap
{
    public const int KeySize = 8, ValueSize = 40, ServiceSize = 12;

    /// <summary>The map's capacity (max_entries in steer.bpf.c).</summary>
    public const int Capacity = 65536;

    private const int ENOENT = 2, E2BIG = 7;

    /// <summary>Creates or replaces the client's entry in one step: readers see the old value or the new, nothing between.</summary>
    public static void Set(int fd, IPEndPoint client, FlowAction action, int ifindex, ReadOnlySpan<byte> backendMac, ReadOnlySpan<byte> routerMac, uint generation = 0, uint slot = 0, Target previous = default)
    {
        byte* key = stackalloc byte[KeySize];
        byte* value = stackalloc byte[ValueSize];
        WriteKey(new Span<byte>(key, KeySize), client);
        var v = new Span<byte>(value, ValueSize);
        v.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(v, (uint)action);
        BinaryPrimitives.WriteInt32LittleEndian(v[4..], ifindex);
        backendMac.CopyTo(v[8..14]);
        routerMac.CopyTo(v[14..20]);
        BinaryPrimitives.WriteUInt32LittleEndian(v[20..], generation);
        BinaryPrimitives.WriteUInt32LittleEndian(v[24..], slot);
        BinaryPrimitives.WriteInt32LittleEndian(v[28..], previous.IfIndex);
        previous.Mac?.CopyTo(v[32..38]);
        int rc = LibBpf.MapUpdateElem(fd, key, value, 0); // BPF_ANY
        if (rc == -E2BIG) throw new SteeringException($"the eBPF steering map is full ({Capacity} connections away or in transit); {client} not steered");
        if (rc < 0) throw Failure("bpf_map_update_elem(conns)", rc);
    }

    /// <summary>Removes the client's entry; an absent entry is not an error.</summary>
    public static void Delete(int fd, IPEndPoint client)
    {
        byte* key = stackalloc byte[KeySize];
        WriteKey(new Span<byte>(key, KeySize), client);
        int rc = LibBpf.MapDeleteElem(fd, key);
        if (rc < 0 && rc != -ENOENT) throw Failure("bpf_map_delete_elem(conns)", rc);
    }

    /// <summary>Every entry, read through the fd (not atomic against concurrent changes).</summary>
    public static List<FlowEntry> Read(int fd)
    {
        var entries = new List<FlowEntry>();
        byte* key = stackalloc byte[KeySize];
        byte* next = stackalloc byte[KeySize];
        byte* value = stackalloc byte[ValueSize];
        byte* prev = null;
        while (LibBpf.MapGetNextKey(fd, prev, next) == 0)
        {
            new Span<byte>(next, KeySize).CopyTo(new Span<byte>(key, KeySize));
            prev = key;
            if (LibBpf.MapLookupElem(fd, key, value) != 0) continue; // deleted meanwhile
            var k = new ReadOnlySpan<byte>(key, KeySize);
            var v = new ReadOnlySpan<byte>(value, ValueSize);
            entries.Add(new FlowEntry(
                new IPEndPoint(new IPAddress(k[..4]), BinaryPrimitives.ReadUInt16BigEndian(k[4..])),
                (FlowAction)BinaryPrimitives.ReadUInt32LittleEndian(v),
                BinaryPrimitives.ReadInt32LittleEndian(v[4..]),
                new PhysicalAddress(v[8..14].ToArray()),
                new PhysicalAddress(v[14..20].ToArray()),
                BinaryPrimitives.ReadUInt32LittleEndian(v[20..]),
                BinaryPrimitives.ReadUInt32LittleEndian(v[24..])));
        }
        return entries;
    }

    /// <summary>Writes the one entry of the <c>service</c> map: VIP and port in network order, and the hold device (0: none).</summary>
    public static void SetService(int fd, IPEndPoint service, int holdIfIndex = 0)
    {
        uint zero = 0;
        byte* value = stackalloc byte[ServiceSize];
        var v = new Span<byte>(value, ServiceSize);
        v.Clear();
        if (!service.Address.TryWriteBytes(v, out int n) || n != 4)
            throw new SteeringException($"eBPF steering handles IPv4 services only, not {service}");
        BinaryPrimitives.WriteUInt16BigEndian(v[4..], (ushort)service.Port);
        BinaryPrimitives.WriteInt32LittleEndian(v[8..], holdIfIndex);
        int rc = LibBpf.MapUpdateElem(fd, &zero, value, 0);
        if (rc < 0) throw Failure("bpf_map_update_elem(service)", rc);
    }

    private static void WriteKey(Span<byte> key, IPEndPoint client)
    {
        key.Clear();
        if (!client.Address.TryWriteBytes(key, out int n) || n != 4)
            throw new SteeringException($"eBPF steering handles IPv4 clients only, not {client}");
        BinaryPrimitives.WriteUInt16BigEndian(key[4..], (ushort)client.Port);
    }

    private static SteeringException Failure(string call, int rc) =>
        new(rc == -Libc.EPERM ? $"{call}: flow steering needs CAP_NET_ADMIN (run as root)" : LibBpf.Error(call, rc).Message);
}
