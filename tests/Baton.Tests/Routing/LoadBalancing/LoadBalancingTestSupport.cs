using System.Net;
using System.Text;
using Baton.Http;
using Baton.Routing.LoadBalancing;

namespace Baton.Tests.Routing.LoadBalancing;

/// <summary>Helpers shared by the load-balancing tests.</summary>
internal static class Lb
{
    internal static readonly IPEndPoint DefaultClient = new(IPAddress.Parse("192.0.2.10"), 50000);

    internal static RequestHead Request(string target, params string[] headers)
    {
        var text = new StringBuilder($"GET {target} HTTP/1.1\r\nHost: example.test\r\n");
        foreach (var h in headers) text.Append(h).Append("\r\n");
        text.Append("\r\n");
        var r = RequestHeadParser.Parse(Encoding.ASCII.GetBytes(text.ToString()));
        Assert.Equal(ParseStatus.Complete, r.Status);
        return r.Head!;
    }

    internal static BalancingContext Context(string target = "/", IPEndPoint? client = null, params string[] headers) =>
        new(Request(target, headers), client ?? DefaultClient);

    internal static DestinationState[] Destinations(params string[] names) =>
        names.Select(n => new DestinationState(n)).ToArray();

    internal static DestinationState[] Destinations(int count) =>
        Enumerable.Range(1, count).Select(i => new DestinationState($"be{i}")).ToArray();

    internal static void SetLoad(DestinationState d, int load)
    {
        while (d.ActiveRequests < load) d.Enter();
        while (d.ActiveRequests > load) d.Leave();
    }

    internal static string? PickName(ILoadBalancingPolicy p, IReadOnlyList<DestinationState> available, string target = "/") =>
        p.Pick(Context(target), available)?.Name;

    /// <summary>A random source that returns the scripted values in turn and records each bound it was asked for.</summary>
    internal sealed class ScriptedRandom(params int[] values)
    {
        private int _next;
        public List<int> Bounds { get; } = [];

        public int Next(int bound)
        {
            Bounds.Add(bound);
            int v = values[_next++ % values.Length];
            Assert.InRange(v, 0, bound - 1);
            return v;
        }
    }
}
