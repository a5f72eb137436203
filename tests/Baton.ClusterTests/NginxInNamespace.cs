using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>
/// Debian's nginx-light on one lab host's loopback (127.0.0.1:<see cref="Port"/> in its namespace):
/// one process (master_process off) in the foreground, started through <c>ip netns exec</c>, which
/// execs nginx itself, so Dispose ends exactly that pid; everything it writes stays in a temporary
/// directory, deleted after. Static files under www/, PUT under any /dav/ path, and /ws/ proxied with
/// its upgrade to <paramref name="upgradeOrigin"/> (WebSocket-style).
/// </summary>
internal sealed class NginxInNamespace : IDisposable
{
    public const int Port = 8081;
    private readonly Process _process;
    private readonly string _ns;

    public NginxInNamespace(string ns, IPEndPoint upgradeOrigin, IReadOnlyDictionary<string, byte[]> files)
    {
        _ns = ns;
        string nginx = new[] { "/usr/sbin/nginx", "/usr/local/sbin/nginx" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("nginx is not installed: ./baton.sh test installs nginx-light");
        Directory = System.IO.Directory.CreateTempSubdirectory("baton-nginx-ns-").FullName;
        foreach (var sub in new[] { "", "www", "tmp" })
        {
            System.IO.Directory.CreateDirectory(Path.Combine(Directory, sub));
            Writable(Path.Combine(Directory, sub)); // nginx may write as another user
        }
        foreach (var (name, content) in files)
        {
            var path = Path.Combine(Directory, "www", name);
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            Writable(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, content);
        }
        string d = Directory;
        File.WriteAllText(Path.Combine(d, "nginx.conf"), $$"""
            master_process off;
            worker_processes 1;
            pid {{d}}/nginx.pid;
            error_log {{d}}/error.log warn;
            events { worker_connections 64; }
            http {
                access_log off;
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
                    location ~ /dav/ { dav_methods PUT; client_max_body_size 64m; }
                    location ~ /ws/ {
                        proxy_pass http://{{upgradeOrigin}};
                        proxy_http_version 1.1;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection "upgrade";
                    }
                }
            }
            """);
        var start = new ProcessStartInfo("ip")
        {
            ArgumentList = { "netns", "exec", ns, nginx, "-c", Path.Combine(d, "nginx.conf"), "-p", d, "-e", Path.Combine(d, "error.log"), "-g", "daemon off;" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = Process.Start(start)!;
        WaitUntilListening();
    }

    public string Directory { get; }

    private static void Writable(string directory)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(directory, (UnixFileMode)0x1FF);
    }

    public static Uri Url => new($"http://127.0.0.1:{Port}/");

    private void WaitUntilListening()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"nginx exited with {_process.ExitCode}: {_process.StandardError.ReadToEnd()}");
            try
            {
                using var probe = Netns.CreateTcpSocket(_ns);
                probe.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(); // this pid only: ip netns exec became nginx, and there are no workers
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException) { } // disposed already
        finally
        {
            _process.Dispose();
            try { System.IO.Directory.Delete(Directory, recursive: true); }
            catch (IOException) { }
        }
    }
}
