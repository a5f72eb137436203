using Baton.Configuration;
using Baton.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Baton.Router;

/// <summary>
/// Applies each saved version of the configuration file: the JSON provider's own file watch
/// (<c>reloadOnChange</c>, with its 250 ms quiet delay for editors that write in several steps)
/// signals through <see cref="ChangeToken.OnChange(Func{IChangeToken}, Action)"/>, and a version
/// that does not load, validate or apply is logged and ignored whole: the routes in force stay.
/// </summary>
internal sealed class ConfigWatcher : IDisposable
{
    private readonly string _file;
    private readonly IConfigurationRoot _configuration;
    private readonly Action<RouterOptions> _apply;
    private readonly ILogger _log;
    private readonly IDisposable _subscription;
    private Exception? _loadFailure; // set by the provider on the thread that then signals the reload

    /// <param name="file">The configuration file, as the router was started with it.</param>
    /// <param name="apply">Puts a loaded version in force; throws <see cref="ConfigException"/> to refuse it.</param>
    /// <param name="log">Where applied and refused versions are told.</param>
    public ConfigWatcher(string file, Action<RouterOptions> apply, ILogger log)
    {
        _file = Path.GetFullPath(file);
        _apply = apply;
        _log = log;
        _configuration = RouterConfig.Read(_file, watch: true, loadFailed: e => _loadFailure = e);
        _subscription = ChangeToken.OnChange(_configuration.GetReloadToken, Reloaded);
    }

    private void Reloaded()
    {
        // A version that is not JSON reaches here as an empty configuration; say why instead.
        if (Interlocked.Exchange(ref _loadFailure, null) is { } failure)
            Refused(RouterConfig.NotJson(_file, failure).Message);
        else
            Apply(_file, () => RouterConfig.From(_configuration, _file), _apply, _log);
    }

    /// <summary>
    /// Loads a version with <paramref name="load"/> and puts it in force with <paramref name="apply"/>,
    /// or refuses it whole; either way logged and counted, as a saved file's version is.
    /// </summary>
    public static ReloadResult Apply(string file, Func<RouterOptions> load, Action<RouterOptions> apply, ILogger log)
    {
        try
        {
            var loaded = load();
            apply(loaded);
            BatonMetrics.Reloads.Add(1, new KeyValuePair<string, object?>("result", "applied"));
            RouterLog.Reloaded(log, file, loaded.Routes.Routes.Count);
            foreach (var w in loaded.Warnings) RouterLog.ConfigWarning(log, w);
            return new ReloadResult(true, $"{file}: {loaded.Routes.Routes.Count} routes in force" + string.Concat(loaded.Warnings.Select(w => $"\nwarning: {w}")));
        }
        catch (Exception e) when (e is ConfigException or IOException or ArgumentException)
        {
            return Refused(e.Message, file, log);
        }
    }

    private void Refused(string reason) => Refused(reason, _file, _log);

    private static ReloadResult Refused(string reason, string file, ILogger log)
    {
        BatonMetrics.Reloads.Add(1, new KeyValuePair<string, object?>("result", "rejected"));
        RouterLog.ReloadRejected(log, file, reason);
        return new ReloadResult(false, reason);
    }

    public void Dispose()
    {
        _subscription.Dispose();
        (_configuration as IDisposable)?.Dispose();
    }
}
