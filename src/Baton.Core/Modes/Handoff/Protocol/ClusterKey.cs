using System.Security.Cryptography;
using System.Text;

namespace Baton.Modes.Handoff.Protocol;

/// <summary>
/// The secret every router and agent of a cluster shares. Each control link derives its own session
/// key from it and both sides' nonces, so a recorded message is worthless on another link.
/// </summary>
public sealed class ClusterKey
{
    /// <summary>Fewer bytes than this is refused: the key is the only thing standing between a peer and a hand-off.</summary>
    public const int MinimumLength = 16;

    private readonly byte[] _key;

    /// <summary>Wraps raw key bytes.</summary>
    public ClusterKey(ReadOnlySpan<byte> key)
    {
        if (key.Length < MinimumLength)
            throw new ArgumentException($"cluster key is {key.Length} bytes; at least {MinimumLength} are required");
        _key = key.ToArray();
    }

    /// <summary>
    /// Reads a key file: its bytes as written, less surrounding whitespace, so `head -c 32 /dev/urandom | base64 &gt; key` works.
    /// </summary>
    public static ClusterKey FromFile(string path)
    {
        byte[] raw;
        try { raw = File.ReadAllBytes(path); }
        catch (Exception e) when (Faults.IsFileUnavailable(e))
        {
            throw new ArgumentException($"cannot read cluster key file '{path}': {e.Message}");
        }
        var text = Encoding.UTF8.GetString(raw).Trim();
        try { return new ClusterKey(Encoding.UTF8.GetBytes(text)); }
        catch (ArgumentException e) { throw new ArgumentException($"cluster key file '{path}': {e.Message}"); }
    }

    /// <summary>Writes a new random key file (mode 0600), for the demo and tests.</summary>
    public static ClusterKey CreateFile(string path)
    {
        string text = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        File.WriteAllText(path, text + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return new ClusterKey(Encoding.UTF8.GetBytes(text));
    }

    internal byte[] DeriveSessionKey(ReadOnlySpan<byte> routerNonce, ReadOnlySpan<byte> agentNonce)
    {
        Span<byte> input = stackalloc byte[16 + routerNonce.Length + agentNonce.Length];
        "baton-control-v1"u8.CopyTo(input);
        routerNonce.CopyTo(input[16..]);
        agentNonce.CopyTo(input[(16 + routerNonce.Length)..]);
        return HMACSHA256.HashData(_key, input);
    }
}
