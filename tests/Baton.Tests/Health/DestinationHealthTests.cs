using Baton.Health;
using Microsoft.Extensions.Time.Testing;

namespace Baton.Tests.Health;

/// <summary>The rise/fall state machine and passive deactivation, on a fake clock.</summary>
public sealed class DestinationHealthTests
{
    private readonly FakeTimeProvider _time = new();

    private DestinationHealth Make(int fall = 2, int rise = 1, bool passive = false, int passiveFall = 3, TimeSpan? reactivation = null) =>
        new("be1", new Uri("http://127.0.0.1:9/healthz"),
            new ActiveHealthCheckOptions { Enabled = true, Fall = fall, Rise = rise },
            new PassiveHealthCheckOptions { Enabled = passive, Fall = passiveFall, ReactivationPeriod = reactivation },
            _time);

    [Fact]
    public void Starts_unknown_and_the_first_success_makes_it_healthy()
    {
        var h = Make(rise: 3);
        Assert.Equal(HealthState.Unknown, h.Active);
        Assert.Equal(HealthState.Healthy, h.RecordProbe(true)); // Rise is for recovering, not for the first answer
        Assert.Null(h.RecordProbe(true));
    }

    [Fact]
    public void Fall_failures_in_a_row_make_it_unhealthy_and_a_success_between_resets_the_count()
    {
        var h = Make(fall: 3);
        h.RecordProbe(true);
        Assert.Null(h.RecordProbe(false));
        Assert.Null(h.RecordProbe(false));
        Assert.Null(h.RecordProbe(true)); // the run is broken
        Assert.Null(h.RecordProbe(false));
        Assert.Null(h.RecordProbe(false));
        Assert.Equal(HealthState.Healthy, h.Active);
        Assert.Equal(HealthState.Unhealthy, h.RecordProbe(false));
        Assert.Null(h.RecordProbe(false));
    }

    [Fact]
    public void Unknown_falls_to_unhealthy_without_ever_being_healthy()
    {
        var h = Make(fall: 2);
        Assert.Null(h.RecordProbe(false));
        Assert.Equal(HealthState.Unhealthy, h.RecordProbe(false));
    }

    [Fact]
    public void Rise_successes_in_a_row_bring_an_unhealthy_destination_back()
    {
        var h = Make(fall: 1, rise: 3);
        h.RecordProbe(true);
        Assert.Equal(HealthState.Unhealthy, h.RecordProbe(false));
        Assert.Null(h.RecordProbe(true));
        Assert.Null(h.RecordProbe(true));
        Assert.Null(h.RecordProbe(false)); // still unhealthy; the run starts over
        Assert.Null(h.RecordProbe(true));
        Assert.Null(h.RecordProbe(true));
        Assert.Equal(HealthState.Healthy, h.RecordProbe(true));
    }

    [Fact]
    public void Effective_state_is_unhealthy_when_the_target_is_down_whatever_the_probes_say()
    {
        var h = Make();
        h.RecordProbe(true);
        Assert.Equal(HealthState.Healthy, h.Effective(targetHealthy: true));
        Assert.Equal(HealthState.Unhealthy, h.Effective(targetHealthy: false));
        Assert.Equal(HealthState.Unknown, Make().Effective(targetHealthy: true));
    }

    [Fact]
    public void Passive_failures_deactivate_for_the_reactivation_period_then_half_open()
    {
        var h = Make(passive: true, passiveFall: 2, reactivation: TimeSpan.FromSeconds(10));
        Assert.False(h.RecordFailure());
        Assert.True(h.RecordFailure());
        Assert.True(h.IsDeactivated);
        Assert.Equal(HealthState.Unhealthy, h.Effective(true));

        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.True(h.IsDeactivated);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(h.IsDeactivated);
        Assert.Equal(HealthState.Unknown, h.Effective(true));

        // Half-open: the next failure takes it out again at once.
        Assert.True(h.RecordFailure());
        Assert.True(h.IsDeactivated);
        _time.Advance(TimeSpan.FromSeconds(10));

        // A success closes it: it takes Fall failures again.
        h.RecordSuccess();
        Assert.False(h.RecordFailure());
        Assert.False(h.IsDeactivated);
    }

    [Fact]
    public void Passive_failures_count_for_nothing_when_passive_checks_are_off()
    {
        var h = Make(passive: false, passiveFall: 1);
        Assert.False(h.RecordFailure());
        Assert.False(h.IsDeactivated);
    }

    [Fact]
    public void Without_a_reactivation_period_the_default_applies()
    {
        var h = Make(passive: true, passiveFall: 1);
        h.RecordFailure();
        _time.Advance(PassiveHealthCheckOptions.DefaultReactivationPeriod - TimeSpan.FromMilliseconds(1));
        Assert.True(h.IsDeactivated);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(h.IsDeactivated);
    }

    [Fact]
    public void Thresholds_below_one_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Make(fall: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Make(rise: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Make(passiveFall: 0));
    }
}
