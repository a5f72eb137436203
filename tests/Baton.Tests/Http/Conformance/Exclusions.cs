namespace Baton.Tests.Http.Conformance;

/// <summary>
/// Vector cases outside Baton's scope, each with its reason. Every other case must pass; an excluded case
/// is reported (its theory case passes with "EXCLUDED: reason" in its output), never silently skipped.
/// </summary>
internal static class Exclusions
{
    private const string ConnectForm = "CONNECT (authority-form target, tunnel): Baton routes origin-form requests only and refuses it with 400";
    private const string AbsoluteForm = "absolute-form target (proxy request): Baton routes origin-form requests only and refuses it with 400";
    private const string NotHttp = "not HTTP/1.x (RTSP/ICE): Baton refuses other protocols";
    private const string Http09 = "HTTP/0.9 (no version): Baton speaks HTTP/1.0 and 1.1 only";
    private const string Codings = "transfer coding other than chunked: Baton implements chunked only and answers 501 (RFC 9112 §6.1 allows it)";
    private const string Methods = "llhttp refuses methods outside its fixed list; methods are extensible (RFC 9110 §9.1), so Baton accepts any token method";

    public static readonly IReadOnlyDictionary<string, string> Cases = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["request/method.md: CONNECT request"] = ConnectForm,
        ["request/method.md: CONNECT request with CAPS"] = ConnectForm,
        ["request/method.md: CONNECT with body"] = ConnectForm,
        ["request/uri.md: Host terminated by a query string"] = AbsoluteForm,
        ["request/uri.md: `host:port` terminated by a query string"] = AbsoluteForm,
        ["request/uri.md: `host:port` terminated by a space"] = AbsoluteForm,
        ["request/uri.md: `host:port` and basic auth"] = AbsoluteForm,
        ["request/uri.md: Underscore in hostname"] = AbsoluteForm,
        ["request/method.md: ANNOUNCE request with RTSP"] = NotHttp,
        ["request/method.md: OPTIONS request with RTSP"] = NotHttp,
        ["request/method.md: SOURCE request with ICE"] = NotHttp,
        ["response/sample.md: RTSP response"] = NotHttp,
        ["response/sample.md: ICE response"] = NotHttp,
        ["request/sample.md: No HTTP version"] = Http09,
        ["response/sample.md: HTTP version 0.9"] = Http09,
        ["request/transfer-encoding.md: POST with `chunked` as last transfer-encoding"] = Codings,
        ["request/transfer-encoding.md: POST with `chunked` as last transfer-encoding (multiple headers)"] = Codings,
        ["request/invalid.md: Invalid method"] = Methods,
        ["request/invalid.md: HTTP protocol and ANNOUNCE method"] = Methods,
        ["request/content-length.md: Content-Length reset when no body is received"] =
            "llhttp's skipBody callback option (the application says no body follows a head with Content-Length); a request server has no such option",
    };
}
