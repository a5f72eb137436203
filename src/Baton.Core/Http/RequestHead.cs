namespace Baton.Http;

/// <summary>A parsed HTTP/1.1 request head (request line and header fields).</summary>
/// <remarks>
/// <para>
/// A head keeps its own copy of the head, decoded as Latin-1 (one char per byte), and the positions of the
/// method, target and fields. <see cref="Method"/>, <see cref="Target"/>, <see cref="Path"/>, <see cref="Query"/>,
/// <see cref="Host"/> and field values become strings only when read, and then once; routing reads spans
/// instead, so parsing and matching a request allocates nothing (issue 3: a browser GET cost 1272 B before).
/// </para>
/// <para>
/// Ownership: a head returned by <see cref="RequestHeadParser.Parse(ReadOnlySpan{byte}, int)"/> or
/// <see cref="HttpInput.ReadHeadAsync(int, TimeSpan, CancellationToken)"/> is the caller's. A head given to
/// <see cref="RequestHeadParser.Parse(ReadOnlySpan{byte}, RequestHead, int)"/> or
/// <see cref="HttpInput.ReadHeadAsync(RequestHead, int, TimeSpan, CancellationToken)"/> is refilled by every
/// parse: the router keeps one per client connection, so the head it passes to a destination or an application
/// is valid for that one transaction. Whoever keeps a head longer (another thread, a queue, a log entry formatted
/// later) keeps <see cref="Detach"/>'s copy. Strings read from a head are ordinary strings and stay valid.
/// </para>
/// <para>Reads from several threads at once are safe (the relay reads a head while it streams the body);
/// a parse into the head while it is read is not.</para>
/// </remarks>
public sealed class RequestHead
{
    // The head as Latin-1 (one char per byte: byte offsets are char offsets), then the lower-cased host without
    // its port. No byte copy: nothing reads the head's bytes again (a moved connection carries HttpInput's own).
    private char[] _chars = [];
    private int _byteCount;
    private int _methodLength;
    private int _targetStart, _targetLength;
    private int _queryAt; // index of '?' within the target, or -1
    private int _hostLength;
    private string? _method, _target, _path, _query, _host;
    private readonly HeaderFields _fields = new();

    /// <summary>An empty head, to be filled by the parser (and refilled for each request of a connection).</summary>
    public RequestHead() { }

    /// <summary>Request method, e.g. GET (a constant for the standard methods).</summary>
    public string Method => _method ??= new string(MethodChars);

    /// <summary>The request target exactly as sent (origin form: path and query).</summary>
    public string Target => _target ??= new string(TargetChars);

    /// <summary>The path part of the target.</summary>
    public string Path => _path ??= _queryAt < 0 ? Target : new string(PathChars);

    /// <summary>The query part without '?', or empty.</summary>
    public string Query => _query ??= _queryAt < 0 ? "" : new string(QueryChars);

    /// <summary>1 for HTTP/1.1, 0 for HTTP/1.0.</summary>
    public int VersionMinor { get; private set; }

    /// <summary>
    /// Header fields in order, names as sent. Indexing does not allocate beyond the strings it returns;
    /// enumerating with <c>foreach</c> allocates an enumerator.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _fields;

    /// <summary>The Host header without port, lower-cased, or empty.</summary>
    public string Host => _host ??= _hostLength == 0 ? "" : new string(HostChars);

    /// <summary>Content-Length, or -1 when absent.</summary>
    public long ContentLength { get; private set; }

    /// <summary>Whether the body uses chunked transfer coding.</summary>
    public bool Chunked { get; private set; }

    /// <summary>Whether the connection stays open after this transaction (version default and Connection header).</summary>
    public bool KeepAlive { get; private set; }

    /// <summary>Length of the head in bytes, through the blank line (empty lines before the request line included).</summary>
    public int Length { get; private set; }

    /// <summary>The first value of a header, case-insensitively, or null.</summary>
    public string? this[string name] => _fields.First(name);

    /// <summary>
    /// A copy with buffers of its own: the next request parsed into this head does not change it. For whoever keeps
    /// a head beyond its transaction; the router's own path never needs it.
    /// </summary>
    public RequestHead Detach()
    {
        var copy = new RequestHead
        {
            _chars = _chars.AsSpan(0, _byteCount + _hostLength).ToArray(),
            _byteCount = _byteCount,
            _methodLength = _methodLength,
            _targetStart = _targetStart,
            _targetLength = _targetLength,
            _queryAt = _queryAt,
            _hostLength = _hostLength,
            _method = _method,
            _target = _target,
            _path = _path,
            _query = _query,
            _host = _host,
            VersionMinor = VersionMinor,
            ContentLength = ContentLength,
            Chunked = Chunked,
            KeepAlive = KeepAlive,
            Length = Length,
        };
        copy._fields.CopyFrom(_fields, copy._chars);
        return copy;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Method} {Target} HTTP/1.{VersionMinor}";

    internal ReadOnlySpan<char> MethodChars => _chars.AsSpan(0, _methodLength);
    internal ReadOnlySpan<char> TargetChars => _chars.AsSpan(_targetStart, _targetLength);
    internal ReadOnlySpan<char> PathChars => _queryAt < 0 ? TargetChars : _chars.AsSpan(_targetStart, _queryAt);
    internal ReadOnlySpan<char> QueryChars => _queryAt < 0 ? default : _chars.AsSpan(_targetStart + _queryAt + 1, _targetLength - _queryAt - 1);
    internal ReadOnlySpan<char> HostChars => _chars.AsSpan(_byteCount, _hostLength);
    internal HeaderFields Fields => _fields;

    /// <summary>
    /// Starts refilling the head with a complete head whose field lines (each with its CRLF) are
    /// <paramref name="fieldLines"/>: the parser adds them with <see cref="HeaderFields.Add"/> as it checks them,
    /// then calls <see cref="Complete"/>.
    /// </summary>
    internal void Begin(ReadOnlySpan<byte> fieldLines)
    {
        _method = _target = _path = _query = _host = null;
        _byteCount = _hostLength = 0;
        _fields.Reset(fieldLines);
    }

    /// <summary>
    /// Ends a refill begun with <see cref="Begin"/>: <paramref name="head"/> is the whole head (request line through
    /// the blank line), positions are offsets into it. Buffers are kept and only grow, so a connection's heads
    /// reuse them; a new head's are sized exactly.
    /// </summary>
    internal void Complete(ReadOnlySpan<byte> head, int methodLength, int targetStart, int targetLength, int minor, int hostStart, int hostLength,
        long contentLength, bool chunked, bool keepAlive, int length)
    {
        int needed = head.Length + hostLength;
        if (_chars.Length < needed) _chars = new char[_chars.Length == 0 ? needed : Math.Max(needed, 2 * _chars.Length)];
        System.Text.Encoding.Latin1.GetChars(head, _chars);
        _byteCount = head.Length;
        _fields.Attach(_chars);
        _methodLength = methodLength;
        _method = KnownMethod(MethodChars);
        _targetStart = targetStart;
        _targetLength = targetLength;
        _queryAt = TargetChars.IndexOf('?');
        if (hostLength > 0)
            _hostLength = _chars.AsSpan(hostStart, hostLength).ToLowerInvariant(_chars.AsSpan(_byteCount, hostLength));
        VersionMinor = minor;
        ContentLength = contentLength;
        Chunked = chunked;
        KeepAlive = keepAlive;
        Length = length;
    }

    // The standard methods (RFC 9110 §9, RFC 5789) as constants; methods are case-sensitive, so only exact text matches.
    private static string? KnownMethod(ReadOnlySpan<char> method) => method.Length switch
    {
        3 when method.SequenceEqual("GET") => "GET",
        3 when method.SequenceEqual("PUT") => "PUT",
        4 when method.SequenceEqual("POST") => "POST",
        4 when method.SequenceEqual("HEAD") => "HEAD",
        5 when method.SequenceEqual("PATCH") => "PATCH",
        5 when method.SequenceEqual("TRACE") => "TRACE",
        6 when method.SequenceEqual("DELETE") => "DELETE",
        7 when method.SequenceEqual("OPTIONS") => "OPTIONS",
        7 when method.SequenceEqual("CONNECT") => "CONNECT",
        _ => null,
    };
}
