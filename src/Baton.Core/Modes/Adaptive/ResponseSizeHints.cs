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

    /// <summary>
    /// A request's keys: its host and path (the query left out, so ?v=2 shares its path's size), and
    /// its host and directory (the path up to its last '/'), whose slot holds the last size recorded
    /// for any path in it. A path never seen takes its directory's: the first request for
    /// /media/b.mp4 is handed off when /media/a.mp4 was large, instead of relaying all of it to
    /// learn its size. Paths at the top level (directory "/") have no directory key: a site's root
    /// mixes pages, icons and downloads.
    /// </summary>
    public readonly record struct Key(int Path, int? Directory);

    /// <summary>The last response size recorded for <paramref name="head"/>'s path, else for its directory, or -1 when unknown.</summary>
    public long Get(RequestHead head) => Get(KeyOf(head));

    /// <summary>The last response size recorded for <paramref name="key"/>'s path, else for its directory, or -1.</summary>
    public long Get(Key key)
    {
        long size = Get(key.Path);
        return size >= 0 || key.Directory is not { } directory ? size : Get(directory);
    }

    private long Get(int key)
    {
        long slot = Volatile.Read(ref _slots[key & (Slots - 1)]);
        return slot != 0 && (int)(slot >>> 32) == key ? (slot & 0xFFFF_FFFFL) - 1 : -1;
    }

    /// <summary>Records that the response for <paramref name="key"/> was <paramref name="bytes"/> long (its path's and its directory's).</summary>
    public void Record(Key key, long bytes)
    {
        if (bytes < 0) return;
        Record(key.Path, bytes);
        if (key.Directory is { } directory) Record(directory, bytes);
    }

    private void Record(int key, long bytes)
    {
        // Stored as size + 1 so that a zero slot always means "empty".
        long size = Math.Min(bytes, 0xFFFF_FFFEL) + 1;
        Volatile.Write(ref _slots[key & (Slots - 1)], ((long)key << 32) | size);
    }

    /// <summary>The keys of a request (<see cref="Key"/>).</summary>
    /// <remarks>Hashed from the head's chars: a reused head makes no string for it.</remarks>
    public static Key KeyOf(RequestHead head)
    {
        int host = string.GetHashCode(head.HostChars, StringComparison.OrdinalIgnoreCase);
        var path = head.PathChars;
        int slash = path.LastIndexOf('/');
        // Salted apart from the paths': the path "/media/" itself keeps its own size.
        int? directory = slash > 0 ? HashCode.Combine(host, string.GetHashCode(path[..(slash + 1)], StringComparison.Ordinal), DirectorySalt) : null;
        return new Key(HashCode.Combine(host, string.GetHashCode(path, StringComparison.Ordinal)), directory);
    }

    private const int DirectorySalt = 0x5EED;
}
