using Baton.Http;

namespace Baton.Modes.Adaptive;

/// <summary>
/// The size of the last response seen per request key (host and path), learned from transactions
/// either mechanism served: relay counts the bytes it forwards, hand-off reads them from the
/// connection's send sequence, which moved by exactly what the back-end wrote. A fixed table of
/// slots indexed by the key's hash: bounded memory, no allocation per request, lock-free (one
/// 64-bit word per slot). Two keys that share a slot only cost a worse choice, never a wrong answer.
/// </summary>
public sealed class ResponseSizeHints
{
    /// <summary>Slots in the table (a power of two).</summary>
    public const int Slots = 4096;

    // Each slot: the key's 32-bit hash in the upper half, the size (capped below 4 GiB) in the lower.
    private readonly long[] _slots = new long[Slots];

    /// <summary>The last response size recorded for <paramref name="head"/>'s key, or -1 when unknown.</summary>
    public long Get(RequestHead head) => Get(KeyOf(head));

    /// <summary>The last response size recorded for <paramref name="key"/> (<see cref="KeyOf"/>), or -1.</summary>
    public long Get(int key)
    {
        long slot = Volatile.Read(ref _slots[key & (Slots - 1)]);
        return slot != 0 && (int)(slot >>> 32) == key ? (slot & 0xFFFF_FFFFL) - 1 : -1;
    }

    /// <summary>Records that the response for <paramref name="key"/> was <paramref name="bytes"/> long.</summary>
    public void Record(int key, long bytes)
    {
        if (bytes < 0) return;
        // Stored as size + 1 so that a zero slot always means "empty".
        long size = Math.Min(bytes, 0xFFFF_FFFEL) + 1;
        Volatile.Write(ref _slots[key & (Slots - 1)], ((long)key << 32) | size);
    }

    /// <summary>The key of a request: its host and path (the query is left out, so ?v=2 shares its path's size).</summary>
    /// <remarks>Hashed from the head's chars: a reused head makes no string for it.</remarks>
    public static int KeyOf(RequestHead head) =>
        HashCode.Combine(string.GetHashCode(head.HostChars, StringComparison.OrdinalIgnoreCase), string.GetHashCode(head.PathChars, StringComparison.Ordinal));
}
