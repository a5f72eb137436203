namespace Baton.Http;

/// <summary>A parsed HTTP/1.1 request head (request line and header fields).</summary>
/// <remarks>
/// <para>
/// A head keeps its own copy of the head's bytes with the positions of the method, target and fields, and the
/// method, target and lower-cased host as chars, which routing compares. <see cref="Method"/>,
/// <see cref="Target"/>, <see cref="Path"/>, <see cref="Query"/>, <see cref="Host"/> and field values become
/// strings only when read, and then once; routing reads spans instead, so parsing into a reused head and
/// matching allocate nothing (issue 3: a browser GET cost 1272 B per request before, bench/results/parser.md).
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
    // The head as received, request line through the blank line. Bytes, not a char copy: a head parsed once with
    // the benchmark's long cookie cost 6856 B as chars, 3736 B as bytes (bench/results/parser.md).
    private byte[] _bytes = [];
    private int _byteCount;
    // The method, SP and target as Latin-1 (one char per byte: byte offsets are char offsets), then the host
    // without its port, lower-cased.
    private char[] _chars = [];
    private int _lineChars;
    private int _methodLength;
    private int _targetStart, _targetLength;
    private int _queryAt = -1; // index of '?' within the target, or -1
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
            _bytes = _bytes.AsSpan(0, _byteCount).ToArray(),
            _byteCount = _byteCount,
            _chars = _chars.AsSpan(0, _lineChars + _hostLength).ToArray(),
            _lineChars = _lineChars,
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
        copy._fields.CopyFrom(_fields, copy._bytes);
        return copy;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Method} {Target} HTTP/1.{VersionMinor}";

    internal ReadOnlySpan<char> MethodChars => _chars.AsSpan(0, _methodLength);
    internal ReadOnlySpan<char> TargetChars => _chars.AsSpan(_targetStart, _targetLength);
    internal ReadOnlySpan<char> PathChars => _queryAt < 0 ? TargetChars : _chars.AsSpan(_targetStart, _queryAt);
    internal ReadOnlySpan<char> QueryChars => _queryAt < 0 ? default : _chars.AsSpan(_targetStart + _queryAt + 1, _targetLength - _queryAt - 1);
    internal ReadOnlySpan<char> HostChars => _chars.AsSpan(_lineChars, _hostLength);
    internal HeaderFields Fields => _fields;

    /// <summary>
    /// Starts refilling the head with a complete head whose field lines (each with its CRLF) are
    /// <paramref name="fieldLines"/>: the parser adds them with <see cref="HeaderFields.Add"/> as it checks them,
    /// then calls <see cref="Complete"/>.
    /// </summary>
    internal void Begin(ReadOnlySpan<byte> fieldLines)
    {
        // Emptied first, so that a head whose parse fails reads as empty rather than as half of two requests.
        _method = _target = _path = _query = _host = null;
        _byteCount = _lineChars = _hostLength = _methodLength = _targetStart = _targetLength = 0;
        _queryAt = -1;
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
        _bytes = Fit(_bytes, head.Length);
        head.CopyTo(_bytes);
        _byteCount = head.Length;
        _fields.Attach(_bytes);
        _lineChars = targetStart + targetLength;
        _chars = Fit(_chars, _lineChars + hostLength);
        System.Text.Encoding.Latin1.GetChars(head[.._lineChars], _chars);
        _methodLength = methodLength;
        _method = KnownMethod(MethodChars);
        _targetStart = targetStart;
        _targetLength = targetLength;
        _queryAt = TargetChars.IndexOf('?');
        _hostLength = hostLength;
        var host = _chars.AsSpan(_lineChars, hostLength);
        if (System.Text.Ascii.ToLower(head.Slice(hostStart, hostLength), host, out _) != System.Buffers.OperationStatus.Done)
        {
            // Latin-1 beyond ASCII: lower-cased char by char, as string.ToLowerInvariant does (no surrogates here).
            System.Text.Encoding.Latin1.GetChars(head.Slice(hostStart, hostLength), host);
            for (int i = 0; i < host.Length; i++) host[i] = char.ToLowerInvariant(host[i]);
        }
        VersionMinor = minor;
        ContentLength = contentLength;
        Chunked = chunked;
        KeepAlive = keepAlive;
        Length = length;
    }

    // A buffer of at least `needed`: sized exactly the first time (a head parsed once has no spare room), then
    // grown geometrically, so a connection's head stops allocating after its largest request.
    private static T[] Fit<T>(T[] buffer, int needed) =>
        buffer.Length >= needed ? buffer : new T[buffer.Length == 0 ? needed : Math.Max(needed, 2 * buffer.Length)];

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
