namespace Baton.Http;

/// <summary>
/// The client's request body is not valid framing (a chunk size that is not hex or overflows, a
/// chunk not followed by CRLF, an invalid trailer, a line over the limit): the request is answered
/// 400 and the connection closed, wherever it is served, as long as no response byte has gone out.
/// The message says what was wrong, for the log; the client reads only a fixed phrase.
/// </summary>
public sealed class BadRequestBodyException(string message) : IOException(message)
{
    /// <summary>What the 400's body says.</summary>
    public const string ClientText = "invalid request body framing";
}
