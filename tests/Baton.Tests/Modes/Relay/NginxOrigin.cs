using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Baton.Tests.Support;

namespace Baton.Tests.Modes.Relay;

/// <summary>
/// A private nginx (Debian's nginx-light) on 127.0.0.1 and a free port, everything it writes kept
/// in a temporary directory. It runs as one process (master_process off) in the foreground, so
/// Dispose ends exactly the process it started, by pid, and nothing is left behind.
/// </summary>
internal sealed class NginxOrigin : IDisposable
{
    private readonly Process _process;

    /// <param name="staticFile">Served as /static.bin.</param>
    /// <param name="files">More files under www/, by name (an empty one included).</param>
    public NginxOrigin(byte[] staticFile, IReadOnlyDictionary<string, byte[]>? files = null)
    {
        string nginx = new[] { "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("nginx is not installed: run ./baton.sh test, which installs nginx-light (the relay tests use it as a real origin)");
        Directory = System.IO.Directory.CreateTempSubdirectory("baton-nginx-").FullName;
        foreach (var sub in new[] { "www", "www/dav", "tmp" })
            System.IO.Directory.CreateDirectory(Path.Combine(Directory, sub));
        // Writable whoever nginx runs the request as (it may drop root for the DAV writes).
        foreach (var sub in new[] { "", "www", "www/dav", "tmp" })
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(Directory, sub), (UnixFileMode)0x1FF);
        File.WriteAllBytes(Path.Combine(Directory, "www", "static.bin"), staticFile);
        foreach (var (name, content) in files ?? new Dictionary<string, byte[]>())
            File.WriteAllBytes(Path.Combine(Directory, "www", name), content);
        File.WriteAllText(Path.Combine(Directory, "www", "hello.txt"), string.Concat(Enumerable.Repeat("hello from nginx through the relay\n", 2000)));
        Port = FreePort();
        string d = Directory;
        File.WriteAllText(Path.Combine(d, "nginx.conf"), $$"""
            master_process off;
            worker_processes 1;
            pid {{d}}/nginx.pid;
            error_log {{d}}/error.log warn;
            events { worker_connections 64; }
            http {
                log_format relay '$connection $connection_requests "$request" $status "$http_x_forwarded_for" "$http_x_forwarded_host" "$http_x_forwarded_proto" "$http_connection"';
                access_log {{d}}/access.log relay;
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
                    listen 127.0.0.1:{{Port}};
                    root {{d}}/www;
                    location = /hello { add_header X-Origin nginx; return 200 "hello from nginx\n"; }
                    location /upload { client_max_body_size 64m; return 204; }
                    location ~ /dav/ { dav_methods PUT; client_max_body_size 64m; } # also /be3/dav/ (a forwarder passes the router's path on)
                }
            }
            """);
        var start = new ProcessStartInfo(nginx)
        {
            ArgumentList = { "-c", Path.Combine(d, "nginx.conf"), "-p", d, "-e", Path.Combine(d, "error.log"), "-g", "daemon off;" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = Process.Start(start)!;
        WaitUntilListening();
    }

    public string Directory { get; }

    public int Port { get; }

    public Uri Url => new($"http://127.0.0.1:{Port}/");

    /// <summary>nginx's access log lines so far (format 'relay' above).</summary>
    public string[] AccessLog => File.ReadAllLines(Path.Combine(Directory, "access.log"));

    private void WaitUntilListening()
    {
        var deadline = DateTime.UtcNow + LoopbackPair.HangGuard;
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"nginx exited with {_process.ExitCode}: {_process.StandardError.ReadToEnd()} {ErrorLog()}");
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                probe.Connect(IPAddress.Loopback, Port);
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

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(); // this pid only: with master_process off there are no workers
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
