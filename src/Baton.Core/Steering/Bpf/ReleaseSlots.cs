using System.Runtime.InteropServices;
using Baton.Interop;

namespace Baton.Steering.Bpf;

/// <summary>
/// The <c>slots</c> array of <c>steer.bpf.c</c>, mapped into the router's memory: one 64-bit word per
/// connection that is held or being released, which the programs and the router change only with
/// atomic operations. Layout (as in the C source): bits 0–23 the frames <c>release</c> left to the
/// hold queue in this hold, bits 24–47 the frames on the hold path now, bit 62 DIRECT, bit 63 OPEN.
/// A slot freed goes to the back of the free queue, so it is reused only after every other free
/// one: a program that read a connection's old entry a moment before it changed touches a word
/// nobody uses. Not thread-safe for allocation: the steering serializes it.
/// </summary>
internal sealed unsafe class ReleaseSlots : IDisposable
{
    public const ulong HeldMask = (1ul << 24) - 1;
    public const int InflightShift = 24;
    public const ulong InflightMask = ((1ul << 24) - 1) << InflightShift;
    public const ulong Direct = 1ul << 62, Open = 1ul << 63;

    private readonly nint _memory;
    private readonly nuint _length;
    private readonly Queue<uint> _free;

    public ReleaseSlots(int mapFd, int capacity)
    {
        _length = (nuint)(capacity * sizeof(ulong));
        _memory = Libc.Mmap(0, _length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, mapFd, 0);
        if (_memory == Libc.MapFailed)
            throw new SteeringException(new NativeCallException("mmap(slots)", Marshal.GetLastPInvokeError()).Message);
        _free = new Queue<uint>(capacity);
        for (uint i = 0; i < capacity; i++) _free.Enqueue(i);
    }

    /// <summary>A slot for a connection's holds; its word keeps only what is still on the hold path.</summary>
    public uint Allocate()
    {
        if (!_free.TryDequeue(out uint slot)) throw new SteeringException("every release slot is in use");
        Reset(slot);
        return slot;
    }

    public void Free(uint slot) => _free.Enqueue(slot);

    /// <summary>The word now.</summary>
    public ulong Read(uint slot) => Volatile.Read(ref Word(slot));

    /// <summary>A new hold: no frames counted as held, not open, not direct; frames still on the hold path stay counted.</summary>
    public void Reset(uint slot)
    {
        ref ulong w = ref Word(slot);
        ulong v = Volatile.Read(ref w);
        while (Interlocked.CompareExchange(ref w, v & InflightMask, v) is var seen && seen != v) v = seen;
    }

    /// <summary>Sets <paramref name="flag"/> if the word is still <paramref name="expected"/>.</summary>
    public bool TrySet(uint slot, ulong expected, ulong flag) =>
        Interlocked.CompareExchange(ref Word(slot), expected | flag, expected) == expected;

    /// <summary>Sets <paramref name="flag"/> whatever the word is; returns the word before.</summary>
    public ulong Set(uint slot, ulong flag) => Interlocked.Or(ref Word(slot), flag);

    public static int Held(ulong word) => (int)(word & HeldMask);

    public static int Inflight(ulong word) => (int)((word & InflightMask) >> InflightShift);

    private ref ulong Word(uint slot) => ref ((ulong*)_memory)[slot];

    public void Dispose() => Libc.Munmap(_memory, _length);
}
