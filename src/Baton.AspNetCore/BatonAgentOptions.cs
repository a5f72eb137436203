using System.Net;

namespace Baton.AspNetCore;

/// <summary>
/// What <see cref="BatonAgentWebHostBuilderExtensions.UseBatonAgent(Microsoft.AspNetCore.Hosting.IWebHostBuilder, Action{BatonAgentOptions})"/>
/// needs: the same settings as <c>baton agent</c>'s command line.
/// </summary>
public sealed class BatonAgentOptions
{
    /// <summary>This back-end's name, as the router's configuration names its destination (<c>be1</c>).</summary>
    public string Name { get; set; } = "";

    /// <summary>
    /// Control address:port the router's link connects to (<c>10.0.0.11:7070</c>): this host's real
    /// address on the router's segment, not the service address.
    /// </summary>
    public string Listen { get; set; } = "";

    /// <summary>The file holding the cluster key shared with the router.</summary>
    public string KeyFile { get; set; } = "";

    /// <summary>The interface facing the router; by default the one holding <see cref="Listen"/>'s address.</summary>
    public string? Interface { get; set; }

    /// <summary>
    /// How long the application may take from a request to its response head before the client is
    /// answered 504 by the agent (100 s, as YARP's ActivityTimeout).
    /// </summary>
    public TimeSpan ResponseHeadTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>Every problem with these settings, each in one line naming its setting; empty when they are usable.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Name)) problems.Add("Name: required (the destination's name in the router's configuration)");
        if (!IPEndPoint.TryParse(Listen, out var ep) || ep.Port == 0)
            problems.Add($"Listen: '{Listen}' is not address:port (this host's control address for the router, e.g. 10.0.0.11:7070)");
        if (string.IsNullOrWhiteSpace(KeyFile)) problems.Add("KeyFile: required (the file holding the cluster key)");
        else if (!File.Exists(KeyFile)) problems.Add($"KeyFile: '{KeyFile}' does not exist");
        if (ResponseHeadTimeout <= TimeSpan.Zero) problems.Add($"ResponseHeadTimeout: {ResponseHeadTimeout} is not positive");
        return problems;
    }
}
