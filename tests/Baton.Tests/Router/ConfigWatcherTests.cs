using Baton.Configuration;
using System.Collections.Concurrent;
using Baton.Router;
using Microsoft.Extensions.Logging.Testing;

namespace Baton.Tests.Router;

/// <summary>
/// The router's reload path over a real file: each saved version is loaded, validated and applied;
/// one that is not JSON or not valid is refused whole with its reason logged; the watch survives both.
/// </summary>
public sealed class ConfigWatcherTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("baton-watch-").FullName;
    private readonly FakeLogger _log = new();
    private readonly BlockingCollection<RouterOptions> _applied = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Config(string path) => $$"""
        {
          "Baton": { "Listen": "127.0.0.1:8080" },
          "ReverseProxy": {
            "Routes": { "r": { "ClusterId": "c", "Match": { "Path": "{{path}}" } } },
            "Clusters": { "c": { "Transfer": "relay", "Destinations": { "d": { "Address": "http://127.0.0.1:9000/" } } } }
          }
        }
        """;

    private RouterOptions NextApplied()
    {
        Assert.True(_applied.TryTake(out var o, TimeSpan.FromSeconds(10)), "no version applied within 10 s; log: " + Logged());
        return o!;
    }

    private string Logged() => string.Join(" | ", _log.Collector.GetSnapshot().Select(r => r.Message));

    private async Task<string> NextRejection(int before)
    {
        for (int i = 0; i < 200 && Rejections().Count <= before; i++) await Task.Delay(50);
        var all = Rejections();
        Assert.True(all.Count > before, "no rejection logged within 10 s; log: " + Logged());
        return all[before];
    }

    private List<string> Rejections() => [.. _log.Collector.GetSnapshot().Where(r => r.Message.Contains("rejected")).Select(r => r.Message)];

    [Theory]
    [InlineData("router.json")]
    [InlineData(".router.json")] // the file provider's default filter hides dot-files: such a file never reloaded
    public async Task Each_saved_version_is_applied_and_a_bad_one_is_refused_with_its_reason(string name)
    {
        var file = Path.Combine(_dir, name);
        File.WriteAllText(file, Config("/first/{**rest}"));
        using var watcher = new ConfigWatcher(file, _applied.Add, _log);

        // An edit in place.
        File.WriteAllText(file, Config("/second/{**rest}"));
        Assert.Equal("/second/{**rest}", NextApplied().Routes.Routes.Single().Path);

        // Not JSON: refused, saying so; nothing applied.
        File.WriteAllText(file, "{ \"Baton\": ");
        Assert.Contains("is not valid JSON", await NextRejection(0));

        // JSON, but not a valid configuration: refused with the key that is wrong.
        File.WriteAllText(file, Config(""));
        Assert.Contains("ReverseProxy:Routes:r:Match:Path", await NextRejection(1));
        Assert.Empty(_applied);

        // An editor's save: a new file renamed over the old one. The watch still follows the name.
        var temp = Path.Combine(_dir, "save.tmp");
        File.WriteAllText(temp, Config("/third/{**rest}"));
        File.Move(temp, file, overwrite: true);
        Assert.Equal("/third/{**rest}", NextApplied().Routes.Routes.Single().Path);
    }

    [Fact]
    public async Task A_version_the_router_cannot_apply_is_refused_with_the_reason()
    {
        var file = Path.Combine(_dir, "router.json");
        File.WriteAllText(file, Config("/a"));
        using var watcher = new ConfigWatcher(file, _ => throw new ConfigException("ReverseProxy:Clusters: destination 'd' changed"), _log);

        File.WriteAllText(file, Config("/b"));
        Assert.Contains("destination 'd' changed", await NextRejection(0));
    }
}
