using Offload.Testing.Simulation;

namespace Offload.Group.Tests.Simulation;

/// <summary>The simulator's clock: one queue for timers and actions, in due order, ties first-come first-served.</summary>
public class VirtualClockTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Test]
    public void Timers_and_actions_run_in_due_order_and_ties_in_the_order_they_were_queued()
    {
        var clock = new VirtualClock(Start);
        var log = new List<string>();
        using var t1 = clock.CreateTimer(_ => log.Add($"t1@{clock.Elapsed.TotalMilliseconds}"), null, TimeSpan.FromMilliseconds(30), Timeout.InfiniteTimeSpan);
        clock.Schedule(TimeSpan.FromMilliseconds(10), _ => log.Add($"a@{clock.Elapsed.TotalMilliseconds}"));
        clock.Schedule(TimeSpan.FromMilliseconds(30), _ => log.Add($"b@{clock.Elapsed.TotalMilliseconds}"));
        clock.Schedule(TimeSpan.FromMilliseconds(20), _ => clock.Schedule(TimeSpan.FromMilliseconds(10), _ => log.Add($"c@{clock.Elapsed.TotalMilliseconds}")));

        while (clock.Step(TimeSpan.FromSeconds(1)))
        {
        }
        Assert.That(log, Is.EqualTo(new[] { "a@10", "t1@30", "b@30", "c@30" }));
        Assert.That(clock.Elapsed, Is.EqualTo(TimeSpan.FromSeconds(1)), "an idle step moves time to the limit");
        Assert.That(clock.GetUtcNow(), Is.EqualTo(Start.AddSeconds(1)));
        Assert.That(clock.GetElapsedTime(0), Is.EqualTo(TimeSpan.FromSeconds(1)));
    }

    [Test]
    public void Changing_or_disposing_a_timer_cancels_what_it_had_queued()
    {
        var clock = new VirtualClock(Start);
        var fired = new List<double>();
        var timer = clock.CreateTimer(_ => fired.Add(clock.Elapsed.TotalMilliseconds), null, TimeSpan.FromMilliseconds(10), Timeout.InfiniteTimeSpan);
        timer.Change(TimeSpan.FromMilliseconds(25), Timeout.InfiniteTimeSpan);
        using var periodic = clock.CreateTimer(_ => fired.Add(-clock.Elapsed.TotalMilliseconds), null, TimeSpan.FromMilliseconds(40), TimeSpan.FromMilliseconds(40));
        clock.Schedule(TimeSpan.FromMilliseconds(90), _ => periodic.Dispose());
        var gone = clock.CreateTimer(_ => fired.Add(999), null, TimeSpan.FromMilliseconds(50), Timeout.InfiniteTimeSpan);
        gone.Dispose();

        while (clock.Step(TimeSpan.FromMilliseconds(200)))
        {
        }
        Assert.That(fired, Is.EqualTo(new[] { 25.0, -40, -80 }));
        Assert.That(gone.Change(TimeSpan.Zero, Timeout.InfiniteTimeSpan), Is.False, "a disposed timer cannot be re-armed");
        Assert.That(clock.NextDue, Is.Null);
        Assert.Throws<ArgumentOutOfRangeException>(() => clock.Step(TimeSpan.FromMilliseconds(100)), "time never goes back");
        timer.Dispose();
    }
}
