using System.Buffers;
using System.Text;

namespace Baton.Modes.Relay;

/// <summary>Builds one message head in a pooled buffer (Latin-1, as header values are carried).</summary>
internal sealed class HeadWriter : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(2048);
    private int _length;

    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    public HeadWriter Append(string s) => Append(s.AsSpan());

    public HeadWriter Append(ReadOnlySpan<char> s)
    {
        Ensure(s.Length);
        _length += Encoding.Latin1.GetBytes(s, _buffer.AsSpan(_length));
        return this;
    }

    public HeadWriter Append(ReadOnlySpan<byte> s)
    {
        Ensure(s.Length);
        s.CopyTo(_buffer.AsSpan(_length));
        _length += s.Length;
        return this;
    }

    public HeadWriter Append(long n)
    {
        Ensure(20);
        n.TryFormat(_buffer.AsSpan(_length), out int written, default, System.Globalization.CultureInfo.InvariantCulture);
        _length += written;
        return this;
    }

    public HeadWriter Header(string name, string value) => Append(name).Append(": "u8).Append(value).Append("\r\n"u8);

    public HeadWriter Header(string name, long value) => Append(name).Append(": "u8).Append(value).Append("\r\n"u8);

    public HeadWriter EndHead() => Append("\r\n"u8);

    public void Clear() => _length = 0;

    private void Ensure(int more)
    {
        if (_length + more <= _buffer.Length) return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + more));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    public void Dispose()
    {
        var b = Interlocked.Exchange(ref _buffer, []);
        if (b.Length > 0) ArrayPool<byte>.Shared.Return(b);
    }
}
