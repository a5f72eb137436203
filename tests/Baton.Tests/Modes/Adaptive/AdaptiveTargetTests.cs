using System.Net.Sockets;
using System.Text;
using Baton.Http;
using Baton.Modes;
using Baton.Modes.Adaptive;

namespace Baton.Tests.Modes.Adaptive;

/// <summary>
/// The adaptive choice between relay and hand-off: unknown sizes are relayed, sizes learned from
/// either mechanism's responses decide the next request for the same host and path, and when one
/// way is down the other serves.
/// </summary>
public sealed class AdaptiveTargetTests
{
    /// <summary>A destination that records what it served and answers with a response of a chosen size.</summary>
    private sealed class RecordingTarget(string name, Func<RequestHead, long> responseBytes) : ITransferTarget
    {
        public string Name => name;
        public bool IsHealthy { get; set; } = true;
        public List<string> Served { get; } = [];

        public Task<TransactionOutcome> ServeAsync(ClientConnection connection, RequestHead head, CancellationToken ct)
        {
            Served.Add(head.Path);
            return Task.FromResult<TransactionOutcome>(new TransactionOutcome.Back(responseBytes(head)));
        }
    }

    private static RequestHead Get(string target, string host = "example.com")
    {
        var r = RequestHeadParser.Parse(Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n"));
        Assert.Equal(ParseStatus.Complete, r.Status);
        return r.Head!;
    }

    // The path's last segment is the response size, as the built-in application's /bytes/N.
    private static long SizeOf(RequestHead head) => long.Parse(head.Path[(head.Path.LastIndexOf('/') + 1)..]);

    private static (AdaptiveTarget Target, RecordingTarget Relay, RecordingTarget Handoff) Make(long handoffAbove = 100_000, long handoffReports = -2)
    {
        var relay = new RecordingTarget("be1", SizeOf);
        var handoff = new RecordingTarget("be1", h => handoffReports == -2 ? SizeOf(h) : handoffReports);
        return (new AdaptiveTarget(relay, handoff, new ResponseSizeHints(), new AdaptiveOptions(handoffAbove)), relay, handoff);
    }

    private static async Task ServeAsync(AdaptiveTarget target, params string[] targets)
    {
        using var pair = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        pair.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        pair.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(pair.LocalEndPoint!);
        using var accepted = await pair.AcceptAsync();
        using var connection = new ClientConnection(accepted);
        foreach (var t in targets) await target.ServeAsync(connection, Get(t), CancellationToken.None);
    }

    [Fact]
    public async Task Unknown_sizes_are_relayed_and_a_large_one_is_handed_off_from_the_second_request_on()
    {
        var (target, relay, handoff) = Make();
        await ServeAsync(target, "/big/1048576", "/small/1024", "/big/1048576", "/small/1024", "/big/1048576");
        Assert.Equal(["/big/1048576", "/small/1024", "/small/1024"], relay.Served);
        Assert.Equal(["/big/1048576", "/big/1048576"], handoff.Served);
    }

    [Fact]
    public async Task A_path_that_shrinks_below_the_threshold_goes_back_to_relay()
    {
        // The hand-off reports what the back-end really sent (its send sequence), so a size learned
        // once is corrected by the next hand-off.
        var (target, relay, handoff) = Make(handoffReports: 10);
        await ServeAsync(target, "/x/500000", "/x/500000", "/x/500000");
        Assert.Equal(["/x/500000", "/x/500000"], relay.Served);
        Assert.Equal(["/x/500000"], handoff.Served);
    }

    [Fact]
    public async Task The_threshold_is_inclusive_and_the_query_does_not_split_a_path()
    {
        var (target, relay, handoff) = Make(handoffAbove: 4096);
        await ServeAsync(target, "/f/4096?v=1", "/f/4096?v=2", "/g/4095", "/g/4095");
        Assert.Equal(["/f/4096"], relay.Served.Take(1));
        Assert.Equal(["/f/4096"], handoff.Served);
        Assert.Equal(["/f/4096", "/g/4095", "/g/4095"], relay.Served);
    }

    [Fact]
    public async Task A_path_not_seen_yet_goes_the_way_its_directorys_last_response_went()
    {
        var (target, relay, handoff) = Make();
        // /media/2097152 is new, but /media/ just served 1 MiB: handed off at once. /thumbs/ is
        // small, so its new paths are relayed; at the top level nothing is inferred.
        await ServeAsync(target, "/media/1048576", "/media/2097152", "/thumbs/1024", "/thumbs/2048", "/1048576", "/2097152");
        Assert.Equal(["/media/1048576", "/thumbs/1024", "/thumbs/2048", "/1048576", "/2097152"], relay.Served);
        Assert.Equal(["/media/2097152"], handoff.Served);
        // The directory keeps the last size seen in it (a wrong guess costs one request the other
        // way, and corrects it); a path's own size wins over its directory's.
        await ServeAsync(target, "/media/10", "/media/3145728", "/media/2097152");
        Assert.Equal(["/media/2097152", "/media/10", "/media/2097152"], handoff.Served);
        Assert.Equal("/media/3145728", relay.Served[^1]);
    }

    [Fact]
    public async Task When_one_way_is_down_the_other_serves_everything()
    {
        var (target, relay, handoff) = Make();
        await ServeAsync(target, "/big/1048576");
        relay.IsHealthy = false;
        Assert.True(target.IsHealthy);
        await ServeAsync(target, "/small/1", "/big/1048576");
        Assert.Equal(["/small/1", "/big/1048576"], handoff.Served);
        relay.IsHealthy = true;
        handoff.IsHealthy = false;
        await ServeAsync(target, "/big/1048576");
        Assert.Equal(["/big/1048576", "/big/1048576"], relay.Served);
        relay.IsHealthy = false;
        Assert.False(target.IsHealthy);
    }

    [Fact]
    public void Hints_forget_nothing_they_were_not_told_and_keep_hosts_apart()
    {
        var hints = new ResponseSizeHints();
        var a = Get("/p", "a.example");
        var b = Get("/p", "b.example");
        Assert.Equal(-1, hints.Get(a));
        hints.Record(ResponseSizeHints.KeyOf(a), 0);
        Assert.Equal(0, hints.Get(a));
        Assert.Equal(-1, hints.Get(b));
        hints.Record(ResponseSizeHints.KeyOf(a), 10L << 32); // beyond 4 GiB: capped, still "large"
        Assert.True(hints.Get(a) > uint.MaxValue - 2L);
        hints.Record(ResponseSizeHints.KeyOf(b), -1); // unknown sizes are not recorded
        Assert.Equal(-1, hints.Get(b));
    }
}
