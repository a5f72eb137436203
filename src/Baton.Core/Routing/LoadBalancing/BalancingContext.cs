using Baton.Http;

namespace Baton.Routing.LoadBalancing;

/// <summary>What a policy may look at to choose a destination: the request head and the client's address.</summary>
/// <param name="Request">The parsed request head that is being routed.</param>
/// <param name="Client">The client's end point (remote address of the accepted connection).</param>
public readonly record struct BalancingContext(RequestHead Request, System.Net.IPEndPoint Client);
