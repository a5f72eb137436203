using System.Text;

namespace Baton.Routing.LoadBalancing;

/// <summary>
/// A hash that is the same in every process and every .NET version (unlike <see cref="string.GetHashCode()"/>,
/// which is randomized per process), so that routers restarted or running side by side agree on the ring.
/// FNV-1a 64 over UTF-8, then the MurmurHash3 fmix64 finalizer: FNV-1a alone spreads similar short strings
/// (ring points like <c>be1#0</c>, <c>be1#1</c>) poorly in the high bits, and the finalizer fixes that cheaply.
/// </summary>
internal static class StableHash
{
    private const ulong FnvOffset = 0xcbf29ce484222325;
    private const ulong FnvPrime = 0x100000001b3;

    /// <summary>Plain FNV-1a 64 of <paramref name="bytes"/>.</summary>
    internal static ulong Fnv1a64(ReadOnlySpan<byte> bytes)
    {
        ulong h = FnvOffset;
        foreach (byte b in bytes)
        {
            h ^= b;
            h *= FnvPrime;
        }
        return h;
    }

    /// <summary>MurmurHash3's 64-bit finalizer: every input bit affects every output bit.</summary>
    internal static ulong Mix(ulong h)
    {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccd;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53;
        h ^= h >> 33;
        return h;
    }

    /// <summary>The mixed hash of raw bytes.</summary>
    internal static ulong Of(ReadOnlySpan<byte> bytes) => Mix(Fnv1a64(bytes));

    /// <summary>The mixed hash of a string's UTF-8 bytes.</summary>
    internal static ulong Of(string s) => Of(s.AsSpan());

    /// <summary>The mixed hash of Latin-1 text (a header value as received), as <see cref="Of(string)"/> of its string.</summary>
    internal static ulong OfLatin1(ReadOnlySpan<byte> latin1)
    {
        // ASCII is its own UTF-8; other Latin-1 bytes are two UTF-8 bytes each, so go through chars.
        if (Ascii.IsValid(latin1)) return Of(latin1);
        Span<char> chars = latin1.Length <= 512 ? stackalloc char[latin1.Length] : new char[latin1.Length];
        Encoding.Latin1.GetChars(latin1, chars);
        return Of(chars);
    }

    /// <summary>The mixed hash of chars' UTF-8 bytes.</summary>
    internal static ulong Of(ReadOnlySpan<char> s)
    {
        int max = Encoding.UTF8.GetMaxByteCount(s.Length);
        // Keys are short (paths are limited to 8 KiB by the parser); stay off the heap for the usual case.
        Span<byte> buffer = max <= 1024 ? stackalloc byte[max] : new byte[max];
        int n = Encoding.UTF8.GetBytes(s, buffer);
        return Of(buffer[..n]);
    }
}
