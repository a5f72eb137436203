using System.Collections.Concurrent;
using System.Diagnostics;
using Baton.Interop;

namespace Baton.Lab;

/// <summary>
/// A <c>baton</c> router or agent started as its own process inside a namespace host.
/// `ip netns exec` execs in place, so the process id we hold is Baton's own, and that is the
/// only process this class ever signals.
/// </summary>
public sealed class BatonProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly Action<string>? _echo;
    private bool _disposed;

    private BatonProcess(Process process, string name, Action<string>? echo)
    {
        _process = process;
        Name = name;
        _echo = echo;
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>A label for messages (the host name).</summary>
    public string Name { get; }

    /// <summary>The process id.</summary>
    public int Pid => _process.Id;

    /// <summary>Whether the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Exit code, once exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the process printed so far, stdout and stderr interleaved.</summary>
    public string Output => string.Join('\n', _lines);

    /// <summary>Starts <c>baton <paramref name="args"/></c> in namespace <paramref name="ns"/> (or here when null).</summary>
    /// <param name="environment">Variables set for the process on top of this one's (e.g. BATON_SPLICE=0).</param>
    public static BatonProcess Start(string? ns, string name, IEnumerable<string> args, Action<string>? echo = null, IEnumerable<string>? wrapper = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var (file, prefix) = Locate();
        return Start(ns, name, file, prefix, args, echo, wrapper, environment);
    }

    /// <summary>
    /// Starts another .NET program, <paramref name="dll"/> (e.g. an ASP.NET Core application that is
    /// its own agent), with the same dotnet host, in namespace <paramref name="ns"/> (or here when null).
    /// </summary>
    public static BatonProcess StartDll(string? ns, string name, string dll, IEnumerable<string> args, Action<string>? echo = null)
    {
        if (!File.Exists(dll)) throw new FileNotFoundException($"{dll} not found");
        return Start(ns, name, Locate().File, [dll], args, echo, wrapper: null, environment: null);
    }

    private static BatonProcess Start(string? ns, string name, string file, string[] prefix, IEnumerable<string> args, Action<string>? echo, IEnumerable<string>? wrapper,
        IReadOnlyDictionary<string, string>? environment)
    {
        var argv = new List<string>();
        if (ns is not null) argv.AddRange(["netns", "exec", ns]);
        if (wrapper is not null) argv.AddRange(wrapper);
        argv.Add(file);
        argv.AddRange(prefix);
        argv.AddRange(args);
        var psi = new ProcessStartInfo(ns is not null ? "ip" : argv[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
        };
        foreach (var a in ns is not null ? argv : argv.Skip(1)) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start baton");
        return new BatonProcess(p, name, echo);
    }

    /// <summary>Waits until the process prints a line containing <paramref name="text"/>; false on exit or timeout.</summary>
    public async Task<bool> WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (_lines.Any(l => l.Contains(text, StringComparison.Ordinal))) return true;
            if (_process.HasExited) { _process.WaitForExit(); return _lines.Any(l => l.Contains(text, StringComparison.Ordinal)); }
            await Task.Delay(50).ConfigureAwait(false);
        }
        return false;
    }

    /// <summary>Waits for the process to exit.</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) return false;
        _process.WaitForExit(); // drains the output readers
        return true;
    }

    /// <summary>Sends a signal to this process (by its id).</summary>
    public void Signal(int signal)
    {
        if (!_process.HasExited) Libc.Kill(_process.Id, signal);
    }

    /// <summary>Freezes the process (SIGSTOP), as a hung host would be.</summary>
    public void Freeze() => Signal(Libc.SIGSTOP);

    /// <summary>Kills the process at once (SIGKILL), as a crash would.</summary>
    public void Kill()
    {
        Signal(Libc.SIGKILL);
        _process.WaitForExit(5000);
    }

    /// <summary>Asks the process to stop (SIGTERM) and kills it if it does not within <paramref name="grace"/>.</summary>
    public void Stop(TimeSpan grace)
    {
        if (_process.HasExited) return;
        Signal(Libc.SIGCONT);
        Signal(Libc.SIGTERM);
        if (!_process.WaitForExit(grace)) Kill();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Tests dispose a back-end early to take it down, and the lab disposes it again at the end.
        if (_disposed) return;
        _disposed = true;
        Stop(TimeSpan.FromSeconds(5));
        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        _lines.Enqueue(line);
        _echo?.Invoke(line);
    }

    /// <summary>How to run the baton command: the dotnet host and baton.dll next to this library.</summary>
    internal static (string File, string[] Prefix) Locate()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "baton.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"baton.dll not found next to {AppContext.BaseDirectory}");
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (host is null && Environment.ProcessPath is { } pp && Path.GetFileNameWithoutExtension(pp) == "dotnet") host = pp;
        host ??= File.Exists("/usr/share/dotnet/dotnet") ? "/usr/share/dotnet/dotnet" : "dotnet";
        return (host, [dll]);
    }
}
