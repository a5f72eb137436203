using System.Collections;
using System.Text;

namespace Baton.Http;

/// <summary>
/// The field lines of a parsed request head, as positions in the head's bytes (<see cref="RequestHead"/> owns
/// them). A name or value becomes a string only when it is read, and then once: the router reads Host, the path
/// and perhaps one field to route, compared as bytes or chars, and a handed-off connection carries the head's
/// bytes, so most values are never needed as strings. Common names come from a table of constants when the bytes
/// match one exactly; names stay as sent, which the relay forwards. The index is reset and refilled with its head,
/// keeping its array. Reads from several threads at once are safe: at worst two equal strings are made and one is kept.
/// </summary>
internal sealed class HeaderFields : IReadOnlyList<KeyValuePair<string, string>>
{
    private byte[] _bytes = [];
    private Field[] _fields = [];
    private int _count;
    private int _added; // fields of the head being parsed; they count once it is complete (Attach)

    private struct Field
    {
        public int NameStart, NameLength, ValueStart, ValueLength;
        public string? Name, Value;
    }

    /// <summary>Empties the index for a head whose field lines (each with its CRLF) are <paramref name="fieldLines"/>.</summary>
    internal void Reset(ReadOnlySpan<byte> fieldLines)
    {
        // Strings of the previous head go: a reused index must not hand them out for the new one.
        Array.Clear(_fields, 0, Math.Max(_count, _added));
        _count = _added = 0;
        _bytes = [];
        // A first index is sized exactly (a head parsed once costs no spare room); a reused one grows in Add.
        if (_fields.Length == 0 && fieldLines.Count("\r\n"u8) is var n and > 0) _fields = new Field[n];
    }

    /// <summary>The head is complete: its bytes are <paramref name="bytes"/> and the fields added count.</summary>
    internal void Attach(byte[] bytes)
    {
        _bytes = bytes;
        _count = _added;
    }

    /// <summary>Adds a field line already checked by <see cref="HttpSyntax.CheckFieldLine(ReadOnlySpan{byte}, out int, out int, out int)"/>.</summary>
    internal void Add(int nameStart, int nameLength, int valueStart, int valueLength)
    {
        if (_added == _fields.Length)
        {
            // Grows to the most fields a head on this connection has had, then stays.
            var bigger = new Field[Math.Max(16, 2 * _fields.Length)];
            _fields.AsSpan(0, _added).CopyTo(bigger);
            _fields = bigger;
        }
        _fields[_added++] = new Field { NameStart = nameStart, NameLength = nameLength, ValueStart = valueStart, ValueLength = valueLength };
    }

    /// <summary>Makes this index a copy of <paramref name="other"/>'s over copies of its buffers.</summary>
    internal void CopyFrom(HeaderFields other, byte[] bytes)
    {
        _bytes = bytes;
        _fields = other._fields.AsSpan(0, other._count).ToArray();
        _count = _added = other._count;
    }

    /// <inheritdoc />
    public int Count => _count;

    /// <inheritdoc />
    public KeyValuePair<string, string> this[int index] => new(Name(index), Value(index));

    /// <summary>The name of field <paramref name="index"/> as sent.</summary>
    internal string Name(int index)
    {
        ref var f = ref At(index);
        return f.Name ??= KnownNames.Find(NameBytes(index)) ?? Encoding.ASCII.GetString(NameBytes(index));
    }

    /// <summary>The value of field <paramref name="index"/> without surrounding whitespace.</summary>
    internal string Value(int index)
    {
        ref var f = ref At(index);
        return f.Value ??= Encoding.Latin1.GetString(_bytes, f.ValueStart, f.ValueLength);
    }

    /// <summary>The value of field <paramref name="index"/> as sent (Latin-1), without making a string.</summary>
    internal ReadOnlySpan<byte> ValueBytes(int index)
    {
        ref var f = ref At(index);
        return _bytes.AsSpan(f.ValueStart, f.ValueLength);
    }

    /// <summary>Whether field <paramref name="index"/> is named <paramref name="name"/>, case-insensitively.</summary>
    internal bool NameIs(int index, string name) => Ascii.EqualsIgnoreCase(NameBytes(index), name);

    /// <summary>The first value of field <paramref name="name"/>, case-insensitively, or null.</summary>
    internal string? First(string name)
    {
        for (int i = 0; i < _count; i++)
            if (NameIs(i, name)) return Value(i);
        return null;
    }

    private ref Field At(int index)
    {
        if ((uint)index >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(index));
        return ref _fields[index];
    }

    private ReadOnlySpan<byte> NameBytes(int index)
    {
        ref var f = ref At(index);
        return _bytes.AsSpan(f.NameStart, f.NameLength);
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (int i = 0; i < _count; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Header names that most requests carry, in the spellings clients send (canonical and lower case).</summary>
    private static class KnownNames
    {
        private static readonly string[] Canonical =
        [
            "Host", "Connection", "Keep-Alive", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language",
            "Accept-Charset", "Referer", "Origin", "Cookie", "Cache-Control", "Pragma", "Authorization",
            "Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding", "TE", "Expect", "Upgrade",
            "Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range",
            "Upgrade-Insecure-Requests", "DNT", "Priority", "Via", "Forwarded", "X-Forwarded-For",
            "X-Forwarded-Proto", "X-Forwarded-Host", "X-Requested-With", "X-Real-IP", "Sec-Fetch-Site",
            "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Sec-Fetch-User", "Sec-CH-UA", "Sec-CH-UA-Mobile",
            "Sec-CH-UA-Platform", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions",
            "Sec-WebSocket-Protocol",
        ];

        // By length: a field name is compared with the few names of its length only.
        private static readonly string[][] ByLength = Build();

        private static string[][] Build()
        {
            var all = Canonical.Concat(Canonical.Select(n => n.ToLowerInvariant())).Distinct(StringComparer.Ordinal).ToArray();
            var table = new string[all.Max(n => n.Length) + 1][];
            for (int len = 0; len < table.Length; len++)
                table[len] = all.Where(n => n.Length == len).ToArray();
            return table;
        }

        /// <summary>The constant spelled exactly as <paramref name="name"/>, or null.</summary>
        public static string? Find(ReadOnlySpan<byte> name)
        {
            if (name.Length >= ByLength.Length) return null;
            foreach (var candidate in ByLength[name.Length])
                if (Ascii.Equals(name, candidate)) return candidate;
            return null;
        }
    }
}
