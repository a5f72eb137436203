using System.Net;
using Baton.Http;
using Baton.Application;

namespace Baton.Origin;

/// <summary>Settings of an origin: a plain HTTP/1.1 server, the back-end of relay clusters.</summary>
public sealed class OriginOptions
{
    /// <summary>The origin's name, shown in the Baton-Host header.</summary>
    public required string Name { get; init; }

    /// <summary>Where it listens for HTTP clients (port 0 picks a free port).</summary>
    public required IPEndPoint Listen { get; init; }

    /// <summary>The application that serves the requests.</summary>
    public IBatonApplication Application { get; init; } = new BuiltInApplication();

    /// <summary>Limit on a request head.</summary>
    public int HeadLimit { get; init; } = RequestHeadParser.DefaultHeadLimit;

    /// <summary>How long a keep-alive connection may wait for its next request.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
