using System.Text;
using Baton.Http;

namespace Baton.Modes.Relay;

/// <summary>How the body of an origin's response is delimited.</summary>
internal enum ResponseBody
{
    /// <summary>No body: HEAD, 1xx, 204, 304.</summary>
    None,
    ContentLength,
    Chunked,
    /// <summary>No length and not chunked: the body ends when the origin closes.</summary>
    UntilClose,
}

/// <summary>An origin's response head, already validated by <see cref="ResponseFramer"/>.</summary>
internal sealed class ResponseHead
{
    public required int StatusCode { get; init; }

    /// <summary>The status line after the version ("200 OK"), sent on as is.</summary>
    public required string Status { get; init; }

    public required List<KeyValuePair<string, string>> Headers { get; init; }

    public required ResponseBody Body { get; init; }

    public required long ContentLength { get; init; }

    /// <summary>The Transfer-Encoding value (codings, the last one chunked) when <see cref="Body"/> is Chunked.</summary>
    public string? TransferEncoding { get; init; }

    /// <summary>Whether the origin keeps the connection open after this response.</summary>
    public required bool KeepAlive { get; init; }

    public bool IsInterim => StatusCode < 200;

    /// <summary>Reads the head <paramref name="frame"/> found at the start of <paramref name="buffer"/>.</summary>
    public static ResponseHead Parse(ReadOnlySpan<byte> buffer, ResponseFrame frame, string requestMethod)
    {
        var head = buffer[..frame.HeadLength];
        while (head.StartsWith("\r\n"u8)) head = head[2..]; // empty lines before the status line
        int eol = head.IndexOf("\r\n"u8);
        string status = Encoding.Latin1.GetString(head[9..eol]);
        var headers = new List<KeyValuePair<string, string>>();
        long contentLength = -1;
        string? te = null;
        var rest = head[(eol + 2)..];
        while (true)
        {
            int e = rest.IndexOf("\r\n"u8);
            if (e <= 0) break;
            HttpSyntax.CheckFieldLine(rest[..e], out var n, out var v);
            string name = Encoding.ASCII.GetString(n), value = Encoding.Latin1.GetString(v);
            headers.Add(new(name, value));
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) contentLength = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)) te = te is null ? value : te + ", " + value;
            rest = rest[(e + 2)..];
        }
        int code = frame.StatusCode;
        ResponseBody body;
        if (requestMethod == "HEAD" || code < 200 || code == 204 || code == 304) body = ResponseBody.None;
        else if (te is not null) body = frame.UntilClose ? ResponseBody.UntilClose : ResponseBody.Chunked;
        else if (contentLength >= 0) body = ResponseBody.ContentLength;
        else body = ResponseBody.UntilClose;
        return new ResponseHead
        {
            StatusCode = code,
            Status = status,
            Headers = headers,
            Body = body,
            ContentLength = contentLength,
            TransferEncoding = body == ResponseBody.Chunked ? te : null,
            KeepAlive = frame.KeepAlive && body != ResponseBody.UntilClose,
        };
    }

    /// <summary>
    /// Writes a 101 for the client: the origin's fields minus hop-by-hop ones, then the switch itself
    /// (Connection: upgrade and the origin's Upgrade field).
    /// </summary>
    public void WriteSwitchForClient(HeadWriter w)
    {
        w.Append("HTTP/1.1 "u8).Append(Status).Append("\r\n"u8);
        var named = HopByHop.NamedInConnection(Headers);
        string? upgrade = null;
        foreach (var (name, value) in Headers)
        {
            if (name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase)) upgrade ??= value;
            if (!HopByHop.Is(name, named)) w.Header(name, value);
        }
        w.Header("Connection", "upgrade");
        if (upgrade is not null) w.Header("Upgrade", upgrade);
        w.EndHead();
    }

    /// <summary>
    /// Writes the head for the client: HTTP/1.1, hop-by-hop fields dropped, and the framing the
    /// relay will use (<paramref name="chunked"/>: the body is re-chunked; <paramref name="close"/>:
    /// the relay closes the client connection after it).
    /// </summary>
    public void WriteForClient(HeadWriter w, bool chunked, bool close, bool http10KeepAlive)
    {
        w.Append("HTTP/1.1 "u8).Append(Status).Append("\r\n"u8);
        var named = HopByHop.NamedInConnection(Headers);
        foreach (var (name, value) in Headers)
            if (!HopByHop.Is(name, named)) w.Header(name, value);
        if (chunked) w.Header("Transfer-Encoding", TransferEncoding ?? "chunked");
        if (!IsInterim) // an interim response carries no connection options
        {
            if (close) w.Header("Connection", "close");
            else if (http10KeepAlive) w.Header("Connection", "keep-alive");
        }
        w.EndHead();
    }
}
