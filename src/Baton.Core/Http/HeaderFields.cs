using System.Collections;
using System.Text;

namespace Baton.Http;

/// <summary>
/// The field lines of a parsed request head, kept as one copy of their bytes. A name or value becomes a string
/// only when it is read, and then once: the router reads Host, the path and perhaps one field to route, and a
/// handed-off connection carries the head's bytes, so most values are never needed as strings. Common names come
/// from a table of constants when the bytes match one exactly; names stay as sent, which the relay forwards.
/// Reads from several threads at once are safe: at worst two equal strings are made and one is kept.
/// </summary>
internal sealed class HeaderFields : IReadOnlyList<KeyValuePair<string, string>>
{
    internal static readonly HeaderFields Empty = new([], []);

    private readonly byte[] _bytes;
    private readonly Field[] _fields;

    private struct Field
    {
        public int NameStart, NameLength, ValueStart, ValueLength;
        public string? Name, Value;
    }

    private HeaderFields(byte[] bytes, Field[] fields)
    {
        _bytes = bytes;
        _fields = fields;
    }

    /// <summary>
    /// Indexes field lines already checked by <see cref="HttpSyntax.CheckFieldLine"/>: <paramref name="lines"/>
    /// is every line with its CRLF, without the blank line that ends the head.
    /// </summary>
    internal static HeaderFields Of(ReadOnlySpan<byte> lines)
    {
        if (lines.IsEmpty) return Empty;
        var bytes = lines.ToArray();
        var fields = new Field[lines.Count("\r\n"u8)];
        int pos = 0;
        for (int i = 0; i < fields.Length; i++)
        {
            int e = lines[pos..].IndexOf("\r\n"u8);
            var line = lines.Slice(pos, e);
            int colon = line.IndexOf((byte)':');
            var value = HttpSyntax.TrimOws(line[(colon + 1)..]);
            // The value's offset within the line: TrimOws only narrows the span.
            int valueStart = colon + 1;
            while (valueStart < line.Length && line[valueStart] is (byte)' ' or (byte)'\t') valueStart++;
            fields[i] = new Field { NameStart = pos, NameLength = colon, ValueStart = pos + valueStart, ValueLength = value.Length };
            pos += e + 2;
        }
        return new HeaderFields(bytes, fields);
    }

    /// <inheritdoc />
    public int Count => _fields.Length;

    /// <inheritdoc />
    public KeyValuePair<string, string> this[int index] => new(Name(index), Value(index));

    /// <summary>The name of field <paramref name="index"/> as sent.</summary>
    internal string Name(int index)
    {
        ref var f = ref _fields[index];
        return f.Name ??= KnownNames.Find(NameBytes(index)) ?? Encoding.ASCII.GetString(NameBytes(index));
    }

    /// <summary>The value of field <paramref name="index"/> without surrounding whitespace.</summary>
    internal string Value(int index)
    {
        ref var f = ref _fields[index];
        return f.Value ??= Encoding.Latin1.GetString(_bytes, f.ValueStart, f.ValueLength);
    }

    /// <summary>Whether field <paramref name="index"/> is named <paramref name="name"/>, case-insensitively.</summary>
    internal bool NameIs(int index, string name) => Ascii.EqualsIgnoreCase(NameBytes(index), name);

    /// <summary>The first value of field <paramref name="name"/>, case-insensitively, or null.</summary>
    internal string? First(string name)
    {
        for (int i = 0; i < _fields.Length; i++)
            if (NameIs(i, name)) return Value(i);
        return null;
    }

    private ReadOnlySpan<byte> NameBytes(int index) => _bytes.AsSpan(_fields[index].NameStart, _fields[index].NameLength);

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (int i = 0; i < _fields.Length; i++) yield return this[i];
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
