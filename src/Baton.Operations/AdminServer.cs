using System.Net;
using System.Security.Cryptography;
using System.Text;
using Baton.Configuration;
using Baton.Operations.Live;
using Baton.Router;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Baton.Operations;

/// <summary>
/// The router's admin listener (<c>Baton:Admin:Listen</c>), served by Kestrel apart from client
/// traffic: a small JSON API under <c>/api</c>, each call authenticated by the bearer token of
/// <c>Baton:Admin:TokenFile</c>. <c>baton ctl</c> is its client (<see cref="AdminApi"/> names the paths).
/// </summary>
public sealed class AdminServer : IAsyncDisposable
{
    private readonly WebApplication _web;
    private readonly LiveFeed _live;

    private AdminServer(WebApplication web, LiveFeed live) => (_web, _live) = (web, live);

    private static IResult Asset(string name, string type)
    {
        using var s = typeof(AdminServer).Assembly.GetManifestResourceStream($"Baton.Operations.Live.{name}")
            ?? throw new InvalidOperationException($"the live view's {name} is not in the assembly");
        using var m = new MemoryStream();
        s.CopyTo(m);
        return Results.Bytes(m.ToArray(), type);
    }

    /// <summary>Starts the listener <paramref name="options"/> names, or nothing (null) when it names none.</summary>
    /// <exception cref="ConfigException">The listener cannot be bound.</exception>
    public static async Task<AdminServer?> StartAsync(AdminOptions options, IRouterControl router, ILoggerFactory loggers, CancellationToken ct)
    {
        if (options.Listen is not { } listen) return null;
        var token = Encoding.UTF8.GetBytes(options.Token ?? throw new ArgumentException("the admin listener needs a token", nameof(options)));
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(listen));
        builder.Services.AddRoutingCore();
        var web = builder.Build();
        web.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments(AdminApi.Root) && !Authorized(context.Request, token))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await Results.Json(new AdminError("missing or wrong token: send Authorization: Bearer <the token in Baton:Admin:TokenFile>"),
                    statusCode: StatusCodes.Status401Unauthorized).ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            await next(context).ConfigureAwait(false);
        });
        web.UseRouting();
        var live = new LiveFeed(router);
        Map(web, router, live);
        try
        {
            await web.StartAsync(ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await web.DisposeAsync().ConfigureAwait(false);
            live.Dispose();
            throw new ConfigException($"Baton:Admin:Listen: cannot listen on {listen}: {e.InnerException?.Message ?? e.Message}");
        }
        AdminLog.Listening(loggers.CreateLogger("Baton.Admin"), $"http://{listen}{AdminApi.Root}", $"http://{listen}/");
        return new AdminServer(web, live);
    }

    private static void Map(IEndpointRouteBuilder web, IRouterControl router, LiveFeed live)
    {
        // The live view's page: static, no data in it, so no token; it asks for one and sends it with each poll.
        web.MapGet("/", () => Asset("index.html", "text/html; charset=utf-8"));
        web.MapGet("/live.js", () => Asset("live.js", "text/javascript; charset=utf-8"));
        web.MapGet("/live.css", () => Asset("live.css", "text/css; charset=utf-8"));
        web.MapGet(AdminApi.Live, (long? since) => Results.Json(live.Read(since ?? 0)));
        web.MapGet(AdminApi.Destinations, () => Results.Json(new DestinationList(router.Destinations())));
        web.MapPost(AdminApi.Destinations + "/{name}/drain", (string name) => Drain(router, name, true));
        web.MapPost(AdminApi.Destinations + "/{name}/undrain", (string name) => Drain(router, name, false));
        web.MapPost(AdminApi.Reload, () =>
        {
            var r = router.Reload();
            return Results.Json(r, statusCode: r.Applied ? StatusCodes.Status200OK : StatusCodes.Status422UnprocessableEntity);
        });
        web.MapGet(AdminApi.Connections, () => Results.Json(new ConnectionCount(router.ConnectionCount)));
        web.MapGet(AdminApi.Connections + "/{client}", (string client) =>
            !IPEndPoint.TryParse(client, out var ep) || ep.Port == 0
                ? Results.Json(new AdminError($"'{client}' is not a client address:port"), statusCode: StatusCodes.Status400BadRequest)
                : router.Connection(ep) is { } c
                    ? Results.Json(c)
                    : Results.Json(new AdminError($"no connection from {ep} now"), statusCode: StatusCodes.Status404NotFound));
    }

    private static IResult Drain(IRouterControl router, string name, bool draining) =>
        router.SetDraining(name, draining)
            ? Results.Json(router.Destinations().Where(d => d.Name == name).ToList())
            : Results.Json(new AdminError($"no destination '{name}'"), statusCode: StatusCodes.Status404NotFound);

    private static bool Authorized(HttpRequest request, byte[] token)
    {
        string? header = request.Headers.Authorization;
        if (header is null || !header.StartsWith("Bearer ", StringComparison.Ordinal)) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header.AsSpan(7).Trim().ToString()), token);
    }

    /// <summary>Stops the listener.</summary>
    public async ValueTask DisposeAsync()
    {
        await _web.StopAsync().ConfigureAwait(false);
        await _web.DisposeAsync().ConfigureAwait(false);
        _live.Dispose();
    }
}

/// <summary>The admin API's paths and bodies, read and written by the server and by <c>baton ctl</c> alike.</summary>
public static class AdminApi
{
    /// <summary>Every call under this needs the token.</summary>
    public const string Root = "/api";

    /// <summary>GET: every destination (<see cref="DestinationList"/>); POST {name}/drain and {name}/undrain.</summary>
    public const string Destinations = Root + "/destinations";

    /// <summary>POST: read the configuration file again (<see cref="ReloadResult"/>; 422 when refused).</summary>
    public const string Reload = Root + "/reload";

    /// <summary>GET ?since=CURSOR: the live view's poll (<see cref="LiveSnapshot"/>).</summary>
    public const string Live = Root + "/live";

    /// <summary>GET: how many connections (<see cref="ConnectionCount"/>); GET {address:port}: one connection's path (<see cref="ConnectionStatus"/>).</summary>
    public const string Connections = Root + "/connections";

    /// <summary>The JSON options of both sides: camelCase, as ASP.NET Core writes.</summary>
    public static readonly System.Text.Json.JsonSerializerOptions Json = new(System.Text.Json.JsonSerializerDefaults.Web);
}

/// <summary>The body of GET /api/destinations.</summary>
public sealed record DestinationList(IReadOnlyList<DestinationStatus> Destinations);

/// <summary>The body of GET /api/connections.</summary>
public sealed record ConnectionCount(int Connections);

/// <summary>The body of every refused call.</summary>
public sealed record AdminError(string Error);

internal static partial class AdminLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "admin API at {Url}, live view at {Page}")]
    public static partial void Listening(ILogger log, string url, string page);
}
