using System.Net;
using System.Net.Sockets;
using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>
/// The router runs its sockets' continuations on the runtime's socket event threads
/// (<c>CliSupport.InlineSocketCompletions</c>). The runtime shows that mode by starting one event
/// thread (".NET Sockets") per CPU instead of one for up to 30 CPUs, which is what these read from
/// the running process; an operator's own setting of the variable still decides.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RouterSocketThreadsTests
{
    [Fact]
    public async Task Router_runs_socket_continuations_on_one_event_thread_per_cpu()
    {
        Assert.True(Environment.ProcessorCount is >= 2 and < 45, "the check needs 2 to 44 CPUs: there the default mode has one event thread, the inline mode one per CPU");
        Assert.Equal(Environment.ProcessorCount, await SocketEventThreadsAsync(environment: null));
    }

    [Fact]
    public async Task An_operators_setting_of_the_variable_is_kept()
    {
        Assert.True(Environment.ProcessorCount is >= 2 and < 45, "the check needs 2 to 44 CPUs");
        Assert.Equal(1, await SocketEventThreadsAsync(new Dictionary<string, string> { ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "0" }));
    }

    // A relay router on loopback, one request through it (the event threads start with the first
    // socket operation), then its threads' names.
    private static async Task<int> SocketEventThreadsAsync(IReadOnlyDictionary<string, string>? environment)
    {
        int originPort = Loopback.FreePort(), routerPort = Loopback.FreePort();
        var dir = Directory.CreateTempSubdirectory("baton-threads-");
        try
        {
            var config = Path.Combine(dir.FullName, "router.json");
            await File.WriteAllTextAsync(config, $$"""
                { "Baton": { "Listen": "127.0.0.1:{{routerPort}}" },
                  "ReverseProxy": { "Routes": { "all": { "ClusterId": "o", "Match": { "Path": "/{**rest}" } } },
                    "Clusters": { "o": { "Transfer": "relay", "Destinations": { "o1": { "Address": "http://127.0.0.1:{{originPort}}/" } } } } } }
                """);
            using var origin = BatonProcess.Start(null, "origin", ["origin", "--name", "o1", "--listen", $"127.0.0.1:{originPort}"]);
            using var router = BatonProcess.Start(null, "router", ["router", "--config", config], environment: environment);
            Assert.True(await origin.WaitForOutputAsync("listening", TimeSpan.FromSeconds(30)), origin.Output);
            Assert.True(await router.WaitForOutputAsync("router listening on", TimeSpan.FromSeconds(30)), router.Output);
            using var http = new HttpClient();
            Assert.Equal(16, (await http.GetByteArrayAsync($"http://127.0.0.1:{routerPort}/bytes/16")).Length);
            return Directory.GetDirectories($"/proc/{router.Pid}/task")
                .Count(t => File.ReadAllText(Path.Combine(t, "comm")).Trim() == ".NET Sockets");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
