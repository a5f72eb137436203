namespace Baton.Configuration;

/// <summary>
/// A configuration that cannot be used: every error found, each naming its key path and what is
/// wrong. The message lists them all, so one run of <c>baton router</c> shows every mistake.
/// </summary>
public sealed class ConfigException : Exception
{
    /// <summary>One error.</summary>
    public ConfigException(string error) : this([error]) { }

    /// <summary>Several errors, in the order of the file.</summary>
    public ConfigException(IReadOnlyList<string> errors) : base(MessageOf(errors)) => Errors = errors;

    /// <summary>Each error, "key:path: what is wrong".</summary>
    public IReadOnlyList<string> Errors { get; }

    private static string MessageOf(IReadOnlyList<string> errors) => errors.Count == 1
        ? errors[0]
        : $"{errors.Count} configuration errors:\n" + string.Join("\n", errors.Select(e => "  " + e));
}
