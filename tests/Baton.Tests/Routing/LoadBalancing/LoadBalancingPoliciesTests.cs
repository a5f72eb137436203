using Baton.Routing.LoadBalancing;

namespace Baton.Tests.Routing.LoadBalancing;

public class LoadBalancingPoliciesTests
{
    [Theory]
    [InlineData("PowerOfTwoChoices", typeof(PowerOfTwoChoicesPolicy))]
    [InlineData("RoundRobin", typeof(RoundRobinPolicy))]
    [InlineData("Random", typeof(RandomPolicy))]
    [InlineData("LeastRequests", typeof(LeastRequestsPolicy))]
    [InlineData("FirstAlphabetical", typeof(FirstAlphabeticalPolicy))]
    [InlineData("ConsistentHash", typeof(ConsistentHashPolicy))]
    [InlineData("Lard", typeof(LardPolicy))]
    public void Create_makes_the_named_policy(string name, Type type)
    {
        var p = LoadBalancingPolicies.Create(name, LoadBalancingOptions.Default);
        Assert.IsType(type, p);
        Assert.Equal(name, p.Name);
        Assert.Contains(name, LoadBalancingPolicies.Names);
    }

    [Theory]
    [InlineData("roundrobin")]
    [InlineData(" ROUNDROBIN ")]
    public void Names_match_case_insensitively(string name)
    {
        Assert.IsType<RoundRobinPolicy>(LoadBalancingPolicies.Create(name, LoadBalancingOptions.Default));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void No_name_means_power_of_two_choices(string? name)
    {
        Assert.IsType<PowerOfTwoChoicesPolicy>(LoadBalancingPolicies.Create(name, LoadBalancingOptions.Default));
        Assert.Equal(LoadBalancingPolicies.PowerOfTwoChoices, LoadBalancingPolicies.Default);
    }

    [Fact]
    public void Unknown_name_is_rejected_with_the_name_and_the_choices()
    {
        var e = Assert.Throws<ArgumentException>(() => LoadBalancingPolicies.Create("LeastConnections", LoadBalancingOptions.Default));
        Assert.Contains("'LeastConnections'", e.Message);
        Assert.Contains("PowerOfTwoChoices", e.Message);
        Assert.Contains("Lard", e.Message);
    }

    [Fact]
    public void Each_call_makes_a_new_instance_so_clusters_do_not_share_state()
    {
        var a = LoadBalancingPolicies.Create("RoundRobin", LoadBalancingOptions.Default);
        var b = LoadBalancingPolicies.Create("RoundRobin", LoadBalancingOptions.Default);
        var ds = Lb.Destinations(3);
        Assert.Equal("be1", Lb.PickName(a, ds));
        Assert.Equal("be2", Lb.PickName(a, ds));
        Assert.Equal("be1", Lb.PickName(b, ds));
    }

    [Fact]
    public void The_injected_random_source_is_used()
    {
        var random = new Lb.ScriptedRandom(2);
        var p = LoadBalancingPolicies.Create("Random", LoadBalancingOptions.Default, random: random.Next);
        Assert.Equal("be3", Lb.PickName(p, Lb.Destinations(4)));
        Assert.Equal([4], random.Bounds);
    }

    public static TheoryData<LoadBalancingOptions, string> InvalidOptions => new()
    {
        { new LoadBalancingOptions { HashKey = "Query" }, "HashKey 'Query'" },
        { new LoadBalancingOptions { HashKey = "Header:" }, "HashKey 'Header:'" },
        { new LoadBalancingOptions { HashLoadFactor = 0.9 }, "HashLoadFactor" },
        { new LoadBalancingOptions { HashLoadFactor = double.NaN }, "HashLoadFactor" },
        { new LoadBalancingOptions { HashVirtualNodes = 0 }, "HashVirtualNodes" },
        { new LoadBalancingOptions { LardHigh = 1, LardLow = 2 }, "LardLow=2, LardHigh=1" },
        { new LoadBalancingOptions { LardLow = -1 }, "LardLow=-1" },
        { new LoadBalancingOptions { LardPathDepth = -1 }, "LardPathDepth" },
        { new LoadBalancingOptions { LardMaxTargets = 0 }, "LardMaxTargets" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_are_rejected_naming_the_setting(LoadBalancingOptions options, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => LoadBalancingPolicies.Create("RoundRobin", options));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Unbounded_consistent_hashing_is_allowed()
    {
        var p = LoadBalancingPolicies.Create("ConsistentHash", new LoadBalancingOptions { HashLoadFactor = null });
        Assert.IsType<ConsistentHashPolicy>(p);
    }

    [Theory]
    [InlineData("PowerOfTwoChoices")]
    [InlineData("RoundRobin")]
    [InlineData("Random")]
    [InlineData("LeastRequests")]
    [InlineData("FirstAlphabetical")]
    [InlineData("ConsistentHash")]
    [InlineData("Lard")]
    public void Every_policy_returns_null_for_no_destinations_and_the_only_one_for_one(string name)
    {
        var p = LoadBalancingPolicies.Create(name, LoadBalancingOptions.Default, random: new Lb.ScriptedRandom(0).Next);
        Assert.Null(Lb.PickName(p, []));
        var only = Lb.Destinations("solo");
        Lb.SetLoad(only[0], 100);
        Assert.Equal("solo", Lb.PickName(p, only));
    }
}
