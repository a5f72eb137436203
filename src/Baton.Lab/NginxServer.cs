using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Baton.Lab;

/// <summary>
/// A private nginx (Debian's nginx-light) for tests: one process (master_process off) in the
/// foreground, on 127.0.0.1:<see cref="Port"/> of this namespace or of lab host
/// <c>ns</c> (started through <c>ip netns exec</c>, which execs nginx itself), so Dispose ends exactly
/// the pid it started and nothing is left behind. Everything it writes stays in a temporary
/// directory, deleted after; files given are served from its www/ folder, with gzip for text.
/// </summary>
public sealed class NginxServer : IDisposable
{
    private readonly Process _process;
    private readonly string? _ns;
    private readonly IPAddress _listenAddress;
    private bool _disposed;

    /// <param name="ns">The namespace to run in; null for this one.</param>
    /// <param name="port">Its port on 127.0.0.1; 0 for a free one (this namespace only).</param>
    /// <param name="files">Files under www/, by relative path (folders made, writable for DAV).</param>
    /// <param name="locations">nginx <c>location</c> blocks for the server.</param>
    /// <param name="logging">The http block's logging lines; access logging off when null.</param>
    /// <param name="listenAddress">The address it listens on (127.0.0.1 when null): a lab host's own address makes it an origin for the router.</param>
    /// <param name="workerConnections">nginx's worker_connections: enough for tests by default, more for benchmarks.</param>
    /// <param name="listenParameters">Parameters of its listen directive, e.g. <c>proxy_protocol</c>.</param>
    public NginxServer(string? ns, int port, IReadOnlyDictionary<string, byte[]> files, string locations, string? logging = null,
        IPAddress? listenAddress = null, int workerConnections = 64, string listenParameters = "")
    {
        _listenAddress = listenAddress ?? IPAddress.Loopback;
        _ns = ns;
        string nginx = new[] { "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("nginx is not installed: ./baton.sh test installs nginx-light");
        Directory = System.IO.Directory.CreateTempSubdirectory("baton-nginx-").FullName;
        foreach (var sub in new[] { "", "www", "tmp" }) Writable(System.IO.Directory.CreateDirectory(Path.Combine(Directory, sub)).FullName);
        foreach (var (name, content) in files)
        {
            var path = Path.Combine(Directory, "www", name);
            Writable(System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!).FullName); // nginx may write as another user
            File.WriteAllBytes(path, content);
        }
        Port = port != 0 ? port : ns is null ? Loopback.FreePort() : throw new ArgumentException("a port must be given for another namespace", nameof(port));
        string d = Directory;
        File.WriteAllText(Path.Combine(d, "nginx.conf"), $$"""
            master_process off;
            worker_processes 1;
            pid {{d}}/nginx.pid;
            error_log {{d}}/error.log warn;
            events { worker_connections {{workerConnections}}; }
            http {
                {{logging ?? "access_log off;"}}
                client_body_temp_path {{d}}/tmp/body;
                proxy_temp_path {{d}}/tmp/proxy;
                fastcgi_temp_path {{d}}/tmp/fastcgi;
                uwsgi_temp_path {{d}}/tmp/uwsgi;
                scgi_temp_path {{d}}/tmp/scgi;
                keepalive_requests 1000;
                gzip on;
                gzip_min_length 0;
                gzip_types text/plain;
                types { text/plain txt; application/octet-stream bin; }
                server {
                    listen {{_listenAddress}}:{{Port}} {{listenParameters}};
                    root {{d}}/www;
            {{locations}}
                }
            }
            """);
        string[] args = [nginx, "-c", Path.Combine(d, "nginx.conf"), "-p", d, "-e", Path.Combine(d, "error.log"), "-g", "daemon off;"];
        var start = new ProcessStartInfo(ns is null ? args[0] : "ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in ns is null ? args[1..] : ["netns", "exec", ns, .. args]) start.ArgumentList.Add(a);
        _process = Process.Start(start)!;
        WaitUntilListening();
    }

    /// <summary>Its temporary directory: nginx.conf, the logs, www/.</summary>
    public string Directory { get; }

    public int Port { get; }

    /// <summary>nginx's own pid (one process: no master, no workers).</summary>
    public int Pid => _process.Id;

    public Uri Url => new($"http://{_listenAddress}:{Port}/");

    private static void Writable(string directory)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(directory, (UnixFileMode)0x1FF);
    }

    private void WaitUntilListening()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"nginx exited with {_process.ExitCode}: {_process.StandardError.ReadToEnd()} {ErrorLog()}");
            try
            {
                using var probe = _ns is null ? new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) : Netns.CreateTcpSocket(_ns);
                probe.Connect(_listenAddress, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }
        }
    }

    private string ErrorLog()
    {
        string path = Path.Combine(Directory, "error.log");
        return File.Exists(path) ? File.ReadAllText(path) : "";
    }

    /// <summary>Ends the process it started (only that pid: there are no workers) and deletes its directory. Safe to call twice.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        finally
        {
            _process.Dispose();
            try { System.IO.Directory.Delete(Directory, recursive: true); }
            catch (IOException) { }
        }
    }
}
