// An ordinary ASP.NET Core minimal API. The one Baton line is UseBatonAgent: with it, this process
// is the back-end's agent, and connections the router hands to this host are served by the
// endpoints below, their responses going from here straight to the client.
//
//   sudo dotnet Baton.Sample.dll --Baton:Agent:Name=be1 --Baton:Agent:Listen=10.0.0.11:7070 \
//        --Baton:Agent:KeyFile=/etc/baton/cluster.key [--Direct=127.0.0.1:8080] [--PathBase=/be1]
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using Baton.AspNetCore;

var builder = WebApplication.CreateBuilder(args);
builder.WebHost.UseBatonAgent(builder.Configuration.GetSection("Baton:Agent"));
// Also reachable directly (not through the router), e.g. for a load balancer's health check.
if (builder.Configuration["Direct"] is { } direct)
    builder.WebHost.ConfigureKestrel(k => k.Listen(IPEndPoint.Parse(direct)));
builder.Logging.SetMinimumLevel(LogLevel.Warning).AddFilter("Baton", LogLevel.Information).AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);

var app = builder.Build();
string name = builder.Configuration["Baton:Agent:Name"] ?? "sample";
// A router's route may keep its prefix (/be1/...): strip it when configured.
if (builder.Configuration["PathBase"] is { } pathBase) app.UsePathBase(pathBase);
app.Use((context, next) =>
{
    context.Response.Headers["Baton-Host"] = name;
    return next(context);
});
app.UseWebSockets();

// JSON about the request as the application sees it: the client's own address, not the router's.
app.MapGet("/hello", (HttpContext context) => new Greeting(name, context.Connection.RemoteIpAddress?.ToString(), context.Request.Path, context.Request.Headers.UserAgent.ToString()));

// A large download with a length: `size` bytes of a pattern the client can check (byte i is 'a' + i % 26).
// Also at /bytes/N, the path Baton's own origin answers, so bench/compare.sh can put this application
// behind every proxy and behind the hand-off alike.
app.MapMethods("/download/{size:long}", ["GET", "HEAD"], DownloadAsync);
app.MapMethods("/bytes/{size:long}", ["GET", "HEAD"], DownloadAsync);

// The same pattern streamed without a length: Kestrel sends it chunked.
app.MapGet("/stream/{size:long}", async (long size, HttpResponse response) =>
{
    response.ContentType = "application/octet-stream";
    await WritePatternAsync(response, size);
});

// An upload: its length and SHA-256, read as it streams in.
app.MapPost("/upload", async (HttpRequest request) =>
{
    using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    var buffer = new byte[64 * 1024];
    long total = 0;
    int n;
    while ((n = await request.Body.ReadAsync(buffer)) > 0)
    {
        sha.AppendData(buffer, 0, n);
        total += n;
    }
    return new Upload(total, Convert.ToHexStringLower(sha.GetHashAndReset()));
});

// A WebSocket that echoes every message: the connection stays with this host until it closes.
app.Map("/echo", async (HttpContext context) =>
{
    if (!context.WebSockets.IsWebSocketRequest)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return;
    }
    using var socket = await context.WebSockets.AcceptWebSocketAsync();
    var buffer = new byte[64 * 1024];
    while (true)
    {
        var r = await socket.ReceiveAsync(buffer, context.RequestAborted);
        if (r.MessageType == WebSocketMessageType.Close)
        {
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, context.RequestAborted);
            return;
        }
        await socket.SendAsync(buffer.AsMemory(0, r.Count), r.MessageType, r.EndOfMessage, context.RequestAborted);
    }
});

app.Run();

static async Task DownloadAsync(long size, HttpContext context)
{
    context.Response.ContentType = "application/octet-stream";
    context.Response.ContentLength = size;
    if (!HttpMethods.IsHead(context.Request.Method)) await WritePatternAsync(context.Response, size);
}

static async Task WritePatternAsync(HttpResponse response, long size)
{
    var block = new byte[26 * 2520];
    for (int i = 0; i < block.Length; i++) block[i] = (byte)('a' + i % 26);
    for (long sent = 0; sent < size;)
    {
        int n = (int)Math.Min(block.Length, size - sent);
        await response.Body.WriteAsync(block.AsMemory(0, n)); // block.Length is a multiple of 26: the pattern continues
        sent += n;
    }
}

internal sealed record Greeting(string Host, string? Client, string Path, string UserAgent);

internal sealed record Upload(long Bytes, string Sha256);
