using System.Net;

namespace Baton.Configuration;

/// <summary>
/// The router's admin listener (<c>Baton:Admin</c>): the admin API that <c>baton ctl</c> drives and
/// the live view, on an address of its own apart from client traffic. Off unless
/// <c>Baton:Admin:Listen</c> is set, and then every API call needs the token of
/// <c>Baton:Admin:TokenFile</c> (<c>Authorization: Bearer …</c>).
/// </summary>
public sealed record AdminOptions
{
    /// <summary>Where the admin listener binds; null: no admin listener.</summary>
    public IPEndPoint? Listen { get; init; }

    /// <summary>The bearer token API calls must present (read from the token file at start).</summary>
    public string? Token { get; init; }

    /// <summary>Shortest token accepted: 128 bits as hex (<c>openssl rand -hex 16</c>).</summary>
    public const int MinTokenLength = 32;

    /// <summary>No admin listener.</summary>
    public static AdminOptions None { get; } = new();

    /// <summary>The token in <paramref name="file"/>: its first line, trimmed; throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public static string ReadToken(string file)
    {
        if (!File.Exists(file)) throw new ArgumentException($"token file '{file}' does not exist (make one: openssl rand -hex 32 > {file})");
        var token = File.ReadLines(file).FirstOrDefault()?.Trim() ?? "";
        if (token.Length < MinTokenLength)
            throw new ArgumentException($"token file '{file}' holds {token.Length} characters; at least {MinTokenLength} are needed (openssl rand -hex 32 > {file})");
        return token;
    }
}
