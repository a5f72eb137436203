using Baton.Routing.LoadBalancing;

namespace Baton.Tests.Routing.LoadBalancing;

public class LardPolicyTests
{
    // T_high 8, T_low 2 (the defaults).
    private static LardPolicy Policy(int depth = 0, int maxTargets = 65536) =>
        new(new LoadBalancingOptions { LardHigh = 8, LardLow = 2, LardPathDepth = depth, LardMaxTargets = maxTargets });

    private static DestinationState Pick(LardPolicy p, DestinationState[] ds, string path) => p.Pick(Lb.Context(path), ds)!;

    [Fact]
    public void A_new_target_goes_to_the_least_loaded_destination()
    {
        var ds = Lb.Destinations(3);
        Lb.SetLoad(ds[0], 3);
        Lb.SetLoad(ds[1], 1);
        Lb.SetLoad(ds[2], 2);
        Assert.Equal("be2", Pick(Policy(), ds, "/a").Name);
    }

    [Fact]
    public void A_target_stays_on_its_destination_until_it_is_overloaded()
    {
        var p = Policy();
        var ds = Lb.Destinations(3);
        var home = Pick(p, ds, "/catalog");
        Assert.Equal("be1", home.Name);
        // Up to T_high the target stays even though other destinations are idle: locality beats balance.
        for (int load = 1; load <= 8; load++)
        {
            Lb.SetLoad(home, load);
            Assert.Equal("be1", Pick(p, ds, "/catalog").Name);
        }
    }

    [Fact]
    public void An_overloaded_destination_loses_the_target_to_an_idle_one_and_it_stays_there()
    {
        var p = Policy();
        var ds = Lb.Destinations(3);
        Assert.Equal("be1", Pick(p, ds, "/catalog").Name);
        Lb.SetLoad(ds[0], 9); // above T_high
        Lb.SetLoad(ds[1], 4);
        Lb.SetLoad(ds[2], 1); // below T_low
        Assert.Equal("be3", Pick(p, ds, "/catalog").Name);

        // Rebound: the target now stays on be3 although be1 drains.
        Lb.SetLoad(ds[0], 0);
        Lb.SetLoad(ds[2], 5);
        Assert.Equal("be3", Pick(p, ds, "/catalog").Name);
    }

    [Fact]
    public void Above_t_high_the_target_stays_when_no_destination_is_idle()
    {
        var p = Policy();
        var ds = Lb.Destinations(3);
        Assert.Equal("be1", Pick(p, ds, "/catalog").Name);
        Lb.SetLoad(ds[0], 12);
        Lb.SetLoad(ds[1], 2); // not below T_low
        Lb.SetLoad(ds[2], 3);
        Assert.Equal("be1", Pick(p, ds, "/catalog").Name);
    }

    [Fact]
    public void At_twice_t_high_the_target_moves_even_when_no_destination_is_idle()
    {
        var p = Policy();
        var ds = Lb.Destinations(3);
        Assert.Equal("be1", Pick(p, ds, "/catalog").Name);
        Lb.SetLoad(ds[0], 16);
        Lb.SetLoad(ds[1], 5);
        Lb.SetLoad(ds[2], 3);
        Assert.Equal("be3", Pick(p, ds, "/catalog").Name);
    }

    [Fact]
    public void Different_targets_spread_over_destinations_and_each_keeps_its_own()
    {
        var p = Policy();
        var ds = Lb.Destinations(3);
        string[] targets = ["/a", "/b", "/c", "/d", "/e", "/f"];
        var first = new Dictionary<string, string>();
        foreach (var t in targets)
        {
            var d = Pick(p, ds, t);
            d.Enter(); // the router enters what it picks
            first[t] = d.Name;
        }
        Assert.Equal(["be1", "be2", "be3", "be1", "be2", "be3"], targets.Select(t => first[t]));
        Assert.All(targets, t => Assert.Equal(first[t], Pick(p, ds, t).Name));
    }

    [Fact]
    public void A_target_whose_destination_becomes_unavailable_is_rebound()
    {
        var p = Policy();
        var ds = Lb.Destinations(3);
        Assert.Equal("be1", Pick(p, ds, "/a").Name);
        Lb.SetLoad(ds[1], 1);
        Assert.Equal("be3", Pick(p, [ds[1], ds[2]], "/a").Name);
        // The new binding holds when be1 comes back.
        Assert.Equal("be3", Pick(p, ds, "/a").Name);
    }

    [Fact]
    public void With_a_path_depth_paths_under_one_prefix_are_one_target()
    {
        var p = Policy(depth: 1);
        var ds = Lb.Destinations(3);
        var img = Pick(p, ds, "/img/a.png");
        img.Enter();
        Assert.Equal(img.Name, Pick(p, ds, "/img/b.png").Name);
        Assert.Equal(img.Name, Pick(p, ds, "/img/sub/c.png?size=2").Name);
        Assert.NotEqual(img.Name, Pick(p, ds, "/css/site.css").Name);
    }

    [Theory]
    [InlineData("/a/b/c", 0, "/a/b/c")]
    [InlineData("/a/b/c", 1, "/a")]
    [InlineData("/a/b/c", 2, "/a/b")]
    [InlineData("/a/b/c", 3, "/a/b/c")]
    [InlineData("/", 1, "/")]
    public void Targets_are_path_prefixes(string path, int depth, string target)
    {
        Assert.Equal(target, LardPolicy.Target(path, depth));
    }

    [Fact]
    public void The_target_map_is_bounded()
    {
        var p = Policy(maxTargets: 10);
        var ds = Lb.Destinations(2);
        for (int i = 0; i < 1000; i++) Pick(p, ds, $"/random/{i}");
        Assert.InRange(p.TargetCount, 1, 10);
    }
}
