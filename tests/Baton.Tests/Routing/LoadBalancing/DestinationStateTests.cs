using Baton.Routing.LoadBalancing;

namespace Baton.Tests.Routing.LoadBalancing;

public class DestinationStateTests
{
    [Fact]
    public void Enter_and_leave_count_active_requests()
    {
        var d = new DestinationState("be1");
        Assert.Equal("be1", d.Name);
        Assert.Equal(0, d.ActiveRequests);
        d.Enter();
        d.Enter();
        Assert.Equal(2, d.ActiveRequests);
        d.Leave();
        Assert.Equal(1, d.ActiveRequests);
    }

    [Fact]
    public void Leave_without_enter_throws_and_keeps_the_count_at_zero()
    {
        var d = new DestinationState("be1");
        var e = Assert.Throws<InvalidOperationException>(d.Leave);
        Assert.Contains("be1", e.Message);
        Assert.Equal(0, d.ActiveRequests);
    }

    [Fact]
    public void A_lease_leaves_once_even_if_disposed_twice()
    {
        var d = new DestinationState("be1");
        var lease = d.Acquire();
        using (d.Acquire()) Assert.Equal(2, d.ActiveRequests);
        Assert.Equal(1, d.ActiveRequests);
        Assert.Same(d, lease.Destination);
        lease.Dispose();
        lease.Dispose();
        Assert.Equal(0, d.ActiveRequests);
        Assert.Null(lease.Destination);
    }

    [Fact]
    public void Concurrent_enters_and_leaves_balance_out()
    {
        var d = new DestinationState("be1");
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                d.Enter();
                d.Leave();
            }
        });
        Parallel.For(0, 1000, _ => d.Enter());
        Assert.Equal(1000, d.ActiveRequests);
    }

    [Fact]
    public void Name_is_required()
    {
        Assert.ThrowsAny<ArgumentException>(() => new DestinationState(""));
    }
}
