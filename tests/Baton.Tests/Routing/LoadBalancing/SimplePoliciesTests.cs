using Baton.Routing.LoadBalancing;

namespace Baton.Tests.Routing.LoadBalancing;

public class SimplePoliciesTests
{
    [Fact]
    public void Round_robin_takes_each_destination_in_configuration_order()
    {
        var p = new RoundRobinPolicy();
        var ds = Lb.Destinations("c", "a", "b");
        var picks = Enumerable.Range(0, 7).Select(_ => Lb.PickName(p, ds)!).ToArray();
        Assert.Equal(["c", "a", "b", "c", "a", "b", "c"], picks);
    }

    [Fact]
    public void Round_robin_ignores_load()
    {
        var p = new RoundRobinPolicy();
        var ds = Lb.Destinations(2);
        Lb.SetLoad(ds[0], 50);
        Assert.Equal("be1", Lb.PickName(p, ds));
        Assert.Equal("be2", Lb.PickName(p, ds));
    }

    [Fact]
    public void Random_picks_the_index_the_random_source_returns()
    {
        var random = new Lb.ScriptedRandom(1, 0, 2);
        var p = new RandomPolicy(random.Next);
        var ds = Lb.Destinations(3);
        Assert.Equal(["be2", "be1", "be3"], Enumerable.Range(0, 3).Select(_ => Lb.PickName(p, ds)!));
        Assert.All(random.Bounds, b => Assert.Equal(3, b));
    }

    [Fact]
    public void Power_of_two_choices_takes_the_less_loaded_of_the_two_drawn()
    {
        var ds = Lb.Destinations(4);
        Lb.SetLoad(ds[0], 1);
        Lb.SetLoad(ds[1], 9);
        Lb.SetLoad(ds[2], 3);
        Lb.SetLoad(ds[3], 0);
        // First draw be2 (index 1); second draw from the other three: index 1 of [be1, be3, be4] is be3.
        var random = new Lb.ScriptedRandom(1, 1);
        Assert.Equal("be3", Lb.PickName(new PowerOfTwoChoicesPolicy(random.Next), ds));
        Assert.Equal([4, 3], random.Bounds);
        // be4 has no load but is not drawn, so it is not chosen: that is the point of the policy.
    }

    [Fact]
    public void Power_of_two_choices_never_compares_a_destination_with_itself()
    {
        var ds = Lb.Destinations(2);
        Lb.SetLoad(ds[0], 5);
        // Both draws return 0; the second is taken from the remaining destination, so be2 is compared.
        Assert.Equal("be2", Lb.PickName(new PowerOfTwoChoicesPolicy(new Lb.ScriptedRandom(0, 0).Next), ds));
    }

    [Fact]
    public void Power_of_two_choices_keeps_the_first_draw_on_a_tie()
    {
        var ds = Lb.Destinations(3);
        Assert.Equal("be3", Lb.PickName(new PowerOfTwoChoicesPolicy(new Lb.ScriptedRandom(2, 0).Next), ds));
    }

    [Fact]
    public void Least_requests_takes_the_least_loaded()
    {
        var ds = Lb.Destinations(3);
        Lb.SetLoad(ds[0], 4);
        Lb.SetLoad(ds[1], 2);
        Lb.SetLoad(ds[2], 3);
        Assert.Equal("be2", Lb.PickName(new LeastRequestsPolicy(), ds));
    }

    [Fact]
    public void Least_requests_breaks_ties_by_configuration_order()
    {
        var ds = Lb.Destinations("z", "m", "a");
        Lb.SetLoad(ds[0], 2);
        Lb.SetLoad(ds[1], 1);
        Lb.SetLoad(ds[2], 1);
        Assert.Equal("m", Lb.PickName(new LeastRequestsPolicy(), ds));
    }

    [Fact]
    public void Least_requests_spreads_work_that_is_entered_as_it_is_picked()
    {
        var p = new LeastRequestsPolicy();
        var ds = Lb.Destinations(3);
        var picks = new List<string>();
        for (int i = 0; i < 6; i++)
        {
            var d = p.Pick(Lb.Context(), ds)!;
            d.Enter();
            picks.Add(d.Name);
        }
        Assert.Equal(["be1", "be2", "be3", "be1", "be2", "be3"], picks);
    }

    [Fact]
    public void First_alphabetical_takes_the_first_name_whatever_the_order_and_load()
    {
        var ds = Lb.Destinations("standby", "Primary", "secondary");
        Lb.SetLoad(ds[1], 100);
        Assert.Equal("Primary", Lb.PickName(new FirstAlphabeticalPolicy(), ds));
        Assert.Equal("secondary", Lb.PickName(new FirstAlphabeticalPolicy(), [ds[0], ds[2]]));
    }
}
