using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Baton.AspNetCore;

/// <summary>Makes an ASP.NET Core application a Baton back-end, its process the agent.</summary>
public static class BatonAgentWebHostBuilderExtensions
{
    /// <summary>
    /// Serves the connections a Baton router hands to this host with this application: the process
    /// takes the router's control link on <see cref="BatonAgentOptions.Listen"/>, restores each
    /// connection handed here (TCP_REPAIR: needs CAP_NET_ADMIN), and gives each of its requests to
    /// Kestrel as a connection from the client's own address. The response goes from this host
    /// straight to the client, then the connection goes back to the router.
    /// </summary>
    /// <remarks>
    /// This adds a Kestrel endpoint in code, and Kestrel then ignores the URLs of
    /// <c>ASPNETCORE_URLS</c> / <c>--urls</c>: listen on the ports the application should also serve
    /// directly with <c>ConfigureKestrel(k =&gt; k.ListenAnyIP(8080))</c> or in the <c>Kestrel:Endpoints</c> configuration.
    /// </remarks>
    public static IWebHostBuilder UseBatonAgent(this IWebHostBuilder builder, Action<BatonAgentOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        builder.ConfigureServices(services =>
        {
            services.Configure(configure);
            services.AddHostedService<BatonAgentService>();
        });
        return builder.UseBatonTransport(kestrel =>
            kestrel.ApplicationServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<BatonAgentOptions>>().Value.Name);
    }

    /// <summary>Kestrel's endpoint for handed-off connections and its transport, without the agent (tests give it connections themselves).</summary>
    internal static IWebHostBuilder UseBatonTransport(this IWebHostBuilder builder, Func<KestrelServerOptions, string> name)
    {
        builder.ConfigureServices(services =>
        {
            services.AddSingleton<BatonTransport>();
            services.AddSingleton<IConnectionListenerFactory>(sp => sp.GetRequiredService<BatonTransport>());
        });
        // HTTP/1.1 only: what the agent forwards is the client's HTTP/1.1 request.
        return builder.ConfigureKestrel(kestrel =>
            kestrel.Listen(new BatonAgentEndPoint(name(kestrel)), listen => listen.Protocols = HttpProtocols.Http1));
    }

    /// <summary>As <see cref="UseBatonAgent(IWebHostBuilder, Action{BatonAgentOptions})"/>, with the settings bound from <paramref name="section"/> (e.g. <c>Baton:Agent</c>).</summary>
    public static IWebHostBuilder UseBatonAgent(this IWebHostBuilder builder, IConfiguration section) =>
        builder.UseBatonAgent(section.Bind);
}
