namespace Baton.Http;

/// <summary>A parsed HTTP/1.1 request head (request line and header fields).</summary>
public sealed class RequestHead
{
    /// <summary>Request method, e.g. GET.</summary>
    public required string Method { get; init; }

    /// <summary>The request target exactly as sent (origin form: path and query).</summary>
    public required string Target { get; init; }

    /// <summary>The path part of the target.</summary>
    public required string Path { get; init; }

    /// <summary>The query part without '?', or empty.</summary>
    public required string Query { get; init; }

    /// <summary>1 for HTTP/1.1, 0 for HTTP/1.0.</summary>
    public required int VersionMinor { get; init; }

    /// <summary>Header fields in order, names as sent.</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; }

    /// <summary>The Host header without port, lower-cased, or empty.</summary>
    public required string Host { get; init; }

    /// <summary>Content-Length, or -1 when absent.</summary>
    public required long ContentLength { get; init; }

    /// <summary>Whether the body uses chunked transfer coding.</summary>
    public required bool Chunked { get; init; }

    /// <summary>Whether the connection stays open after this transaction (version default and Connection header).</summary>
    public required bool KeepAlive { get; init; }

    /// <summary>Length of the head in bytes, through the blank line.</summary>
    public required int Length { get; init; }

    /// <summary>The first value of a header, case-insensitively, or null.</summary>
    public string? this[string name]
    {
        get
        {
            if (Headers is HeaderFields fields) return fields.First(name); // without making the other fields strings
            for (int i = 0; i < Headers.Count; i++) // not foreach: no enumerator to allocate
                if (Headers[i].Key.Equals(name, StringComparison.OrdinalIgnoreCase)) return Headers[i].Value;
            return null;
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Method} {Target} HTTP/1.{VersionMinor}";
}
