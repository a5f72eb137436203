using System.Net;
using System.Text;
using Baton.Routing.LoadBalancing;

namespace Baton.Tests.Routing.LoadBalancing;

public class ConsistentHashPolicyTests
{
    private static readonly string[] Keys = Enumerable.Range(0, 2000).Select(i => $"/item/{i}").ToArray();

    private static ConsistentHashPolicy Policy(string key = "Path", double? factor = 1.25) =>
        new(new LoadBalancingOptions { HashKey = key, HashLoadFactor = factor });

    private static Dictionary<string, string> Map(ILoadBalancingPolicy p, IReadOnlyList<DestinationState> ds) =>
        Keys.ToDictionary(k => k, k => Lb.PickName(p, ds, k)!);

    [Fact]
    public void The_same_key_always_goes_to_the_same_destination()
    {
        var p = Policy();
        var ds = Lb.Destinations(5);
        var first = Lb.PickName(p, ds, "/cart/42");
        for (int i = 0; i < 20; i++) Assert.Equal(first, Lb.PickName(p, ds, "/cart/42"));
    }

    [Fact]
    public void Keys_spread_over_all_destinations()
    {
        var counts = Map(Policy(), Lb.Destinations(5)).Values.GroupBy(n => n).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(5, counts.Count);
        // 160 points per destination keep every share within half to one and a half of the fair 400.
        Assert.All(counts.Values, c => Assert.InRange(c, 200, 600));
    }

    [Fact]
    public void Removing_a_destination_moves_only_the_keys_that_were_on_it()
    {
        var ds = Lb.Destinations(5);
        var before = Map(Policy(), ds);
        var after = Map(Policy(), ds.Where(d => d.Name != "be3").ToArray());
        int moved = 0;
        foreach (var k in Keys)
        {
            if (before[k] == "be3") { Assert.NotEqual("be3", after[k]); moved++; }
            else Assert.Equal(before[k], after[k]);
        }
        Assert.True(moved > 0);
    }

    [Fact]
    public void Adding_a_destination_moves_about_one_in_n_keys_all_to_the_new_one()
    {
        var ds = Lb.Destinations(5);
        var before = Map(Policy(), ds[..4]);
        var after = Map(Policy(), ds);
        var moved = Keys.Where(k => before[k] != after[k]).ToArray();
        Assert.All(moved, k => Assert.Equal("be5", after[k]));
        Assert.InRange(moved.Length, Keys.Length * 12 / 100, Keys.Length * 28 / 100); // about 1/5
    }

    [Fact]
    public void The_same_policy_instance_follows_health_changes_and_back()
    {
        var p = Policy();
        var ds = Lb.Destinations(4);
        var all = Map(p, ds);
        _ = Map(p, [ds[0], ds[1], ds[3]]);
        Assert.Equal(all, Map(p, ds));
    }

    [Fact]
    public void Configuration_order_does_not_matter()
    {
        var ds = Lb.Destinations(5);
        Assert.Equal(Map(Policy(), ds), Map(Policy(), ds.Reverse().ToArray()));
    }

    [Fact]
    public void A_destination_at_the_load_bound_is_skipped_and_gets_its_keys_back_when_it_drains()
    {
        var p = Policy();
        var ds = Lb.Destinations(3);
        string home = Lb.PickName(p, ds, "/video/7")!;
        var homeState = ds.Single(d => d.Name == home);

        // Total load 4, n 3: bound ceil(1.25 * 5 / 3) = 3; home at 3 is full.
        Lb.SetLoad(homeState, 3);
        Lb.SetLoad(ds.First(d => d != homeState), 1);
        string overflow = Lb.PickName(p, ds, "/video/7")!;
        Assert.NotEqual(home, overflow);

        // Home drains to 1: total 2, bound ceil(1.25 * 3 / 3) = 2, and home is below it again.
        Lb.SetLoad(homeState, 1);
        Assert.Equal(home, Lb.PickName(p, ds, "/video/7"));
    }

    [Fact]
    public void Without_a_load_factor_the_home_destination_is_kept_however_loaded()
    {
        var p = Policy(factor: null);
        var ds = Lb.Destinations(3);
        string home = Lb.PickName(p, ds, "/video/7")!;
        Lb.SetLoad(ds.Single(d => d.Name == home), 1000);
        Assert.Equal(home, Lb.PickName(p, ds, "/video/7"));
    }

    [Fact]
    public void Bounded_load_keeps_every_destination_within_the_bound_when_one_key_is_hot()
    {
        var p = Policy();
        var ds = Lb.Destinations(4);
        for (int i = 0; i < 100; i++) p.Pick(Lb.Context("/hot"), ds)!.Enter();
        // Each pick saw total t and bound ceil(1.25 (t+1) / 4); at the end no one is above ceil(1.25 * 100 / 4) = 32.
        Assert.All(ds, d => Assert.InRange(d.ActiveRequests, 1, 32));
    }

    [Fact]
    public void Header_key_sends_one_user_to_one_destination_whatever_the_path()
    {
        var p = Policy("Header:X-User");
        var ds = Lb.Destinations(8);
        var picks = Enumerable.Range(0, 20)
            .Select(i => p.Pick(Lb.Context($"/page/{i}", null, "x-user: alice"), ds)!.Name).Distinct().ToArray();
        Assert.Single(picks);
    }

    [Fact]
    public void Cookie_key_reads_the_named_cookie()
    {
        var p = Policy("Cookie:session");
        var ds = Lb.Destinations(8);
        string? Pick(string cookie, string path) => p.Pick(Lb.Context(path, null, $"Cookie: {cookie}"), ds)!.Name;

        var expected = Pick("session=abc", "/");
        Assert.Equal(expected, Pick("theme=dark; session=abc", "/x"));
        Assert.Equal(expected, Pick("session=\"abc\"; lang=en", "/y"));
        // Different sessions spread: not all of 30 sessions land on one destination.
        Assert.True(Enumerable.Range(0, 30).Select(i => Pick($"session=s{i}", "/")).Distinct().Count() > 1);
    }

    [Fact]
    public void Cookie_names_are_case_sensitive()
    {
        var headers = new List<KeyValuePair<string, string>> { new("Cookie", "Session=one; session=two") };
        Assert.Equal("two", HashKeySource.FindCookie(headers, "session"));
        Assert.Null(HashKeySource.FindCookie(headers, "SESSION"));
    }

    [Fact]
    public void Client_address_key_ignores_the_port_and_ipv4_mapping()
    {
        var p = Policy("ClientAddress");
        var ds = Lb.Destinations(8);
        var a = p.Pick(Lb.Context("/a", new IPEndPoint(IPAddress.Parse("198.51.100.7"), 40000)), ds)!.Name;
        Assert.Equal(a, p.Pick(Lb.Context("/b", new IPEndPoint(IPAddress.Parse("198.51.100.7"), 40001)), ds)!.Name);
        Assert.Equal(a, p.Pick(Lb.Context("/c", new IPEndPoint(IPAddress.Parse("::ffff:198.51.100.7"), 40002)), ds)!.Name);
    }

    [Fact]
    public void A_missing_header_falls_back_to_the_client_address()
    {
        var byHeader = Policy("Header:X-User");
        var byAddress = Policy("ClientAddress");
        var ds = Lb.Destinations(8);
        for (int i = 0; i < 20; i++)
        {
            var client = new IPEndPoint(IPAddress.Parse($"203.0.113.{i}"), 1234);
            Assert.Equal(byAddress.Pick(Lb.Context("/", client), ds)!.Name, byHeader.Pick(Lb.Context($"/{i}", client), ds)!.Name);
        }
    }

    [Theory]
    [InlineData("path", HashKeyKind.Path, null)]
    [InlineData("ClientAddress", HashKeyKind.ClientAddress, null)]
    [InlineData("header: X-User ", HashKeyKind.Header, "X-User")]
    [InlineData("Cookie:sid", HashKeyKind.Cookie, "sid")]
    public void Key_settings_parse(string setting, HashKeyKind kind, string? name)
    {
        Assert.Equal(new HashKeySource(kind, name), HashKeySource.Parse(setting));
    }

    [Theory]
    [InlineData("", 0xcbf29ce484222325)]
    [InlineData("a", 0xaf63dc4c8601ec8c)]
    [InlineData("foobar", 0x85944171f73967e8)]
    public void The_hash_is_standard_fnv1a_64_so_every_process_agrees(string input, ulong expected)
    {
        Assert.Equal(expected, StableHash.Fnv1a64(Encoding.UTF8.GetBytes(input)));
    }

    [Fact]
    public void Ring_placement_is_pinned_so_routers_of_different_builds_agree()
    {
        // If this changes, every key moves on a rolling upgrade: change the hash only on purpose.
        var ds = Lb.Destinations(5);
        var p = Policy();
        Assert.Equal("be3,be5,be4,be4,be2,be5,be5,be2", string.Join(",", Enumerable.Range(0, 8).Select(i => Lb.PickName(p, ds, $"/item/{i}"))));
    }
}
