using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>
/// `./baton.sh install`, as the README tells an operator to run it: a self-contained `baton` in the
/// prefix's bin, which runs without the SDK's `dotnet` in front of it and serves.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class InstallTests
{
    [Fact]
    public async Task Install_puts_a_baton_that_runs_by_itself_in_the_prefix()
    {
        var prefix = Directory.CreateTempSubdirectory("baton-install-");
        try
        {
            string said = Netns.Exec("bash", Path.Combine(Loopback.RepositoryRoot(), "baton.sh"), "install", "--prefix", prefix.FullName);
            string baton = Path.Combine(prefix.FullName, "bin", "baton");
            Assert.Contains($"installed {baton}", said);
            Assert.Matches(@"^\d+\.\d+\.\d+", Netns.Exec(baton, "--version"));

            int port = Loopback.FreePort();
            using var origin = Process.Start(new ProcessStartInfo(baton, ["origin", "--name", "o1", "--listen", $"127.0.0.1:{port}"])
                { RedirectStandardOutput = true, RedirectStandardError = true })!;
            try
            {
                using var http = new HttpClient();
                byte[]? body = null;
                for (int i = 0; i < 100 && body is null; i++)
                {
                    try { body = await http.GetByteArrayAsync($"http://127.0.0.1:{port}/bytes/16"); }
                    catch (HttpRequestException) { await Task.Delay(100); }
                }
                Assert.Equal(16, body?.Length);
            }
            finally
            {
                origin.Kill();
                origin.WaitForExit();
            }
        }
        finally
        {
            prefix.Delete(recursive: true);
        }
    }
}
