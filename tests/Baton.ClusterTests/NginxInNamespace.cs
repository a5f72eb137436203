using System.Net;
using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>
/// nginx on one lab host's loopback (127.0.0.1:<see cref="Port"/> in its namespace): static files,
/// PUT under any /dav/ path, and /ws/ proxied with its upgrade (WebSocket-style) to an origin there.
/// </summary>
internal static class NginxInNamespace
{
    public const int Port = 8081;

    public static Uri Url => new($"http://127.0.0.1:{Port}/");

    public static NginxServer Start(string ns, IPEndPoint upgradeOrigin, IReadOnlyDictionary<string, byte[]> files) =>
        new(ns, Port, files, $$"""
                    location ~ /dav/ { dav_methods PUT; client_max_body_size 64m; }
                    location ~ /ws/ {
                        proxy_pass http://{{upgradeOrigin}};
                        proxy_http_version 1.1;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection "upgrade";
                    }
            """);
}
