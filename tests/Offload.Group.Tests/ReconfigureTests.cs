namespace Offload.Group.Tests;

/// <summary>
/// <see cref="GlbpGroup.Reconfigure"/>, what a daemon's SIGHUP reload calls: new timers, priorities and weighting take
/// effect live, on virtual time, without any forwarder changing hands over the reload itself.
/// </summary>
public class ReconfigureTests
{
    private Lab _lab = null!;

    [SetUp]
    public void SetUp() => _lab = new Lab();

    [TearDown]
    public void TearDown() => _lab.Dispose();

    [Test]
    public void Shorter_timers_apply_live_and_a_crash_is_then_detected_within_the_new_hold_time()
    {
        var a = _lab.Add(1);
        var b = _lab.Add(2);
        _lab.RunSeconds(40);
        Assert.That(b.State, Is.EqualTo(GatewayState.Active), "equal priorities: the higher address is the AVG");
        int before = _lab.Events.Count;

        foreach (var n in new[] { a, b })
            n.Group.Reconfigure(n.Options with { HelloTime = TimeSpan.FromSeconds(1), HoldTime = TimeSpan.FromSeconds(3) });
        _lab.Deliver();
        _lab.RunSeconds(5);
        Assert.That(_lab.Events.Skip(before), Is.Empty, "the reload itself moves no role and no forwarder");

        _lab.Crash(b);
        _lab.RunSeconds(3.5);
        Assert.That(a.State, Is.EqualTo(GatewayState.Active), "the new 3 s hold time, not the old 10 s, found the AVG dead");
        Assert.That(a.Plane.Vmacs, Has.Count.EqualTo(2), "and its forwarder taken over");
    }

    [Test]
    public void A_raised_priority_with_preemption_takes_the_avg_role_at_once()
    {
        var a = _lab.Add(1, o => o with { Preempt = true });
        var b = _lab.Add(2);
        _lab.RunSeconds(40);
        Assert.That(b.State, Is.EqualTo(GatewayState.Active));

        a.Group.Reconfigure(a.Options with { Priority = 200 });
        _lab.Deliver();
        _lab.Run(TimeSpan.FromMilliseconds(10));
        Assert.That(a.State, Is.EqualTo(GatewayState.Active), "the hello with the new priority went at once, and it preempted");
        Assert.That(b.State, Is.Not.EqualTo(GatewayState.Active), "the old AVG stepped down in the same exchange");
        _lab.RunSeconds(11);
        Assert.That(b.State, Is.EqualTo(GatewayState.Standby));
        _lab.AssertEveryVmacForwardedOnce();
    }

    [Test]
    public void A_lower_weighting_reaches_the_peers_in_the_next_message_not_after_a_hello_time()
    {
        var a = _lab.Add(1, o => o with { LoadBalancing = GlbpLoadBalancing.Weighted });
        var b = _lab.Add(2, o => o with { LoadBalancing = GlbpLoadBalancing.Weighted });
        _lab.RunSeconds(40);
        a.Group.Reconfigure(a.Options with { Weighting = 50 });
        _lab.Deliver();
        Assert.That(b.Group.Snapshot().Forwarders.Single(f => f.OwnerMac == Lab.Mac(1)).Weighting, Is.EqualTo(50));
    }

    [Test]
    public void What_names_the_group_cannot_change_live()
    {
        var a = _lab.Add(1);
        Assert.Throws<ArgumentException>(() => a.Group.Reconfigure(a.Options with { VirtualIp = Lab.VirtualIp + 1 }));
        Assert.Throws<ArgumentException>(() => a.Group.Reconfigure(a.Options with { LocalIp = Lab.Ip(7) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Group.Reconfigure(a.Options with { HoldTime = TimeSpan.FromSeconds(1) }),
            "a hold time under the hello time is refused as at start");
    }
}

/// <summary>A gateway that resigns (SIGTERM) right after an election: its Standby must not wait out a hold time.</summary>
public class ResignTests
{
    private Lab _lab = null!;

    [SetUp]
    public void SetUp() => _lab = new Lab();

    [TearDown]
    public void TearDown() => _lab.Dispose();

    [Test]
    public void A_standby_elected_with_the_active_takes_over_at_once_when_it_resigns_within_the_first_hold_time()
    {
        var a = _lab.Add(1, o => o with { Priority = 110 });
        var b = _lab.Add(2);
        // Step to the moment the election ends: both speak, then each ranks itself and one is Active, the other Standby.
        for (int i = 0; i < 100_000 && !(a.State == GatewayState.Active && b.State == GatewayState.Standby); i++)
            _lab.Run(TimeSpan.FromMilliseconds(10));
        Assert.That((a.State, b.State), Is.EqualTo((GatewayState.Active, GatewayState.Standby)));
        var now = _lab.Time.GetUtcNow();

        a.Group.Stop();
        _lab.Deliver();

        Assert.That(_lab.Time.GetUtcNow(), Is.EqualTo(now));
        Assert.That(b.State, Is.EqualTo(GatewayState.Active), "the Standby acted on the resign hello, not on a hold time started at its election");
        Assert.That(b.Plane.Vmacs, Has.Count.EqualTo(2), "and took the resigned gateway's forwarder too");
    }
}
