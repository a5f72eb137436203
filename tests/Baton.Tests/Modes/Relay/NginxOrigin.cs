using Baton.Lab;

namespace Baton.Tests.Modes.Relay;

/// <summary>
/// nginx as a real origin on 127.0.0.1 and a free port (<see cref="NginxServer"/>): static files,
/// a <c>return</c> location, an upload that answers 204, PUT under any /dav/ path, and an access
/// log of what it received (format 'relay' below).
/// </summary>
internal sealed class NginxOrigin : IDisposable
{
    private readonly NginxServer _server;

    /// <param name="staticFile">Served as /static.bin.</param>
    /// <param name="files">More files under www/, by relative path (an empty one included).</param>
    public NginxOrigin(byte[] staticFile, IReadOnlyDictionary<string, byte[]>? files = null)
    {
        var all = new Dictionary<string, byte[]>(files ?? new Dictionary<string, byte[]>())
        {
            ["static.bin"] = staticFile,
            ["hello.txt"] = System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("hello from nginx through the relay\n", 2000))),
            ["dav/.keep"] = [],
        };
        _server = new NginxServer(null, 0, all, """
                    location = /hello { add_header X-Origin nginx; return 200 "hello from nginx\n"; }
                    location /upload { client_max_body_size 64m; return 204; }
                    location ~ /dav/ { dav_methods PUT; client_max_body_size 64m; } # also /be3/dav/ (a forwarder passes the router's path on)
            """, logging: """
                log_format relay '$connection $connection_requests "$request" $status "$http_x_forwarded_for" "$http_x_forwarded_host" "$http_x_forwarded_proto" "$http_connection"';
                access_log access.log relay;
            """);
    }

    public string Directory => _server.Directory;

    public int Port => _server.Port;

    public Uri Url => _server.Url;

    /// <summary>nginx's access log lines so far (format 'relay' above).</summary>
    public string[] AccessLog => File.ReadAllLines(Path.Combine(Directory, "access.log"));

    public void Dispose() => _server.Dispose();
}
