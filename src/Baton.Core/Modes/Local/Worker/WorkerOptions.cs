using Baton.Http;
using Baton.Application;

namespace Baton.Modes.Local.Worker;

/// <summary>Settings of a local worker process.</summary>
public sealed class WorkerOptions
{
    /// <summary>The worker's name: the destination name it registers under, and the Baton-Host header.</summary>
    public required string Name { get; init; }

    /// <summary>The router's Unix socket path.</summary>
    public required string SocketPath { get; init; }

    /// <summary>The application that serves the transactions.</summary>
    public IBatonApplication Application { get; init; } = new BuiltInApplication();

    /// <summary>Limit on a request head.</summary>
    public int HeadLimit { get; init; } = RequestHeadParser.DefaultHeadLimit;

    /// <summary>How long to wait for the rest of a request head the router passed incomplete.</summary>
    public TimeSpan HeadTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
