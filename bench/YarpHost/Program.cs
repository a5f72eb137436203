// YARP contender for bench/compare.sh: a stock YARP host, configured entirely from one JSON file.
// Usage: dotnet YarpHost.dll --config yarp.json
//   yarp.json: { "Urls": "http://10.77.11.100:80", "ReverseProxy": { "Routes": {...}, "Clusters": {...} } }
// Logging is limited to warnings so that console output costs nothing per request.

string? config = null;
for (int i = 0; i < args.Length; i++)
    if (args[i] == "--config" && i + 1 < args.Length) config = args[++i];
if (config is null)
{
    Console.Error.WriteLine("usage: YarpHost --config FILE.json");
    return 64;
}

var builder = WebApplication.CreateSlimBuilder();
builder.Configuration.AddJsonFile(Path.GetFullPath(config), optional: false, reloadOnChange: false);
builder.WebHost.UseUrls(builder.Configuration["Urls"] ?? "http://127.0.0.1:8080");
builder.Logging.ClearProviders();
builder.Logging.AddConsole();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"));

var app = builder.Build();
app.MapReverseProxy();
app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine($"yarp listening on {string.Join(", ", app.Urls)}"));
await app.RunAsync();
return 0;
