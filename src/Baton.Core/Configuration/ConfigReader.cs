using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;

namespace Baton.Configuration;

/// <summary>
/// Reads typed values out of configuration sections and keeps every error instead of stopping at
/// the first: a value that is missing or malformed is recorded under its key path and read as
/// null (or the default), so validation goes on through the rest of the file.
/// </summary>
internal sealed class ConfigReader
{
    private readonly List<string> _errors = [];

    public int ErrorCount => _errors.Count;

    /// <summary>Records an error at <paramref name="path"/> ("Section:Key").</summary>
    public void Error(string path, string what) => _errors.Add($"{path}: {what}");

    /// <summary>Throws one <see cref="ConfigException"/> with every error recorded so far, if any.</summary>
    public void ThrowIfAny()
    {
        if (_errors.Count > 0) throw new ConfigException([.. _errors]);
    }

    public string? Required(IConfigurationSection s, string key, string? why = null)
    {
        if (s[key] is { Length: > 0 } v) return v;
        Error($"{s.Path}:{key}", "missing" + (why is null ? "" : $" ({why})"));
        return null;
    }

    public bool Flag(IConfigurationSection s, string key, bool fallback = false)
    {
        var v = s[key];
        if (v is null) return fallback;
        if (bool.TryParse(v, out var b)) return b;
        Error($"{s.Path}:{key}", $"'{v}' is not true or false");
        return fallback;
    }

    public int? PositiveInt(IConfigurationSection s, string key)
    {
        if (int.TryParse(s[key], NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0) return n;
        Error($"{s.Path}:{key}", $"'{s[key]}' is not a positive integer");
        return null;
    }

    public double? Number(IConfigurationSection s, string key)
    {
        var text = s[key];
        if (text is null) return null;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
        Error($"{s.Path}:{key}", $"'{text}' is not a number");
        return null;
    }

    public TimeSpan Duration(IConfigurationSection s, string key, TimeSpan fallback)
    {
        var v = s[key];
        if (v is null) return fallback;
        if (TimeSpan.TryParse(v, CultureInfo.InvariantCulture, out var t) && t > TimeSpan.Zero) return t;
        Error($"{s.Path}:{key}", $"'{v}' is not a positive duration (hh:mm:ss)");
        return fallback;
    }

    public T EnumValue<T>(IConfigurationSection s, string key, T fallback) where T : struct, Enum
    {
        var v = s[key];
        if (v is null) return fallback;
        foreach (var name in Enum.GetNames<T>())
            if (name.Equals(v, StringComparison.OrdinalIgnoreCase)) return Enum.Parse<T>(name);
        Error($"{s.Path}:{key}", $"'{v}' is not one of {string.Join(", ", Enum.GetNames<T>())}");
        return fallback;
    }

    public Uri? HttpUrl(IConfigurationSection s, string key, string why)
    {
        if (Required(s, key) is not { } v) return null;
        if (Uri.TryCreate(v, UriKind.Absolute, out var u) && u.Scheme == Uri.UriSchemeHttp) return u;
        Error($"{s.Path}:{key}", $"'{v}' is not an http:// URL ({why}; https is not supported)");
        return null;
    }

    /// <summary>An http:// or https:// URL (a collector, not an origin the relay reaches).</summary>
    public Uri? AbsoluteHttpUrl(IConfigurationSection s, string key, string what)
    {
        if (Required(s, key) is not { } v) return null;
        if (Uri.TryCreate(v, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps)) return u;
        Error($"{s.Path}:{key}", $"'{v}' is not an http:// or https:// URL ({what})");
        return null;
    }

    public IPEndPoint? Endpoint(IConfigurationSection s, string key, string? why = null)
    {
        if (Required(s, key, why) is not { } v) return null;
        if (v.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) v = v[7..].TrimEnd('/');
        if (IPEndPoint.TryParse(v, out var ep) && ep.Port != 0) return ep;
        Error($"{s.Path}:{key}", $"'{v}' is not an IPv4 address:port");
        return null;
    }

    public static List<string> Values(IConfigurationSection s) =>
        s.GetSection("Values").GetChildren().Select(v => v.Value ?? "").ToList();

    public static IReadOnlyDictionary<string, string>? Metadata(IConfigurationSection owner)
    {
        var m = owner.GetSection("Metadata");
        if (!m.Exists()) return null;
        return m.GetChildren().Where(c => c.Value is not null).ToDictionary(c => c.Key, c => c.Value!, StringComparer.OrdinalIgnoreCase);
    }
}
