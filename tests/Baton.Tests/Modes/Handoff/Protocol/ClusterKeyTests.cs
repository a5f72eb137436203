using System.Text;
using Baton.Modes.Handoff.Protocol;

namespace Baton.Tests.Modes.Handoff.Protocol;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ClusterKeyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("baton-key-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Key_file_shorter_than_16_bytes_is_refused_naming_the_file()
    {
        string path = Path.Combine(_dir, "short.key");
        File.WriteAllText(path, "0123456789abcde"); // 15 bytes
        var e = Assert.Throws<ArgumentException>(() => ClusterKey.FromFile(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("15", e.Message);
        Assert.Contains("16", e.Message);
    }

    [Fact]
    public void Surrounding_whitespace_does_not_count_towards_the_length()
    {
        string path = Path.Combine(_dir, "padded.key");
        File.WriteAllText(path, "  0123456789abcde\n\n"); // 15 key bytes, 19 file bytes
        var e = Assert.Throws<ArgumentException>(() => ClusterKey.FromFile(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Key_file_of_16_bytes_is_accepted()
    {
        string path = Path.Combine(_dir, "ok.key");
        File.WriteAllText(path, "0123456789abcdef\n");
        Assert.NotNull(ClusterKey.FromFile(path));
    }

    [Fact]
    public void Missing_key_file_is_refused_naming_the_file()
    {
        string path = Path.Combine(_dir, "absent.key");
        var e = Assert.Throws<ArgumentException>(() => ClusterKey.FromFile(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Raw_key_shorter_than_the_minimum_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new ClusterKey(new byte[ClusterKey.MinimumLength - 1]));
        Assert.NotNull(new ClusterKey(new byte[ClusterKey.MinimumLength]));
    }

    [Fact]
    public void Created_key_file_is_private_and_reads_back_as_the_same_key()
    {
        string path = Path.Combine(_dir, "new.key");
        var created = ClusterKey.CreateFile(path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var read = ClusterKey.FromFile(path);

        // Same key: both derive the same session key from the same nonces.
        var n1 = Encoding.ASCII.GetBytes("router-nonce-router-nonce-router-");
        var n2 = Encoding.ASCII.GetBytes("agent-nonce-agent-nonce-agent-no");
        Assert.Equal(created.DeriveSessionKey(n1, n2), read.DeriveSessionKey(n1, n2));
        // And a different key does not.
        var other = ClusterKey.CreateFile(Path.Combine(_dir, "other.key"));
        Assert.NotEqual(created.DeriveSessionKey(n1, n2), other.DeriveSessionKey(n1, n2));
    }
}
