namespace Offload.Group.Tests;

/// <summary>The AVG state machine with Cisco's defaults (hello 3 s, hold 10 s), on virtual time.</summary>
public class GatewayElectionTests
{
    private Lab _lab = null!;

    [SetUp]
    public void SetUp() => _lab = new Lab();

    [TearDown]
    public void TearDown() => _lab.Dispose();

    [Test]
    public void Alone_goes_Init_Listen_then_Speak_after_hold_then_Active_after_another()
    {
        var gw = _lab.Add(1);
        Assert.That(gw.State, Is.EqualTo(GatewayState.Listen));
        _lab.RunSeconds(9.9);
        Assert.That(gw.State, Is.EqualTo(GatewayState.Listen));
        _lab.RunSeconds(0.1);
        Assert.That(gw.State, Is.EqualTo(GatewayState.Speak));
        _lab.RunSeconds(10);
        Assert.That(gw.State, Is.EqualTo(GatewayState.Active));

        var changes = _lab.Events.OfType<GatewayStateChanged>().ToList();
        Assert.That(changes.Select(c => c.To), Is.EqualTo(new[] { GatewayState.Init, GatewayState.Listen, GatewayState.Speak, GatewayState.Active }));
        var t0 = changes[0].At;
        Assert.That(changes.Select(c => (c.At - t0).TotalSeconds), Is.EqualTo(new[] { 0.0, 0, 10, 20 }));
    }

    [Test]
    public void Higher_priority_becomes_Active_and_the_other_Standby()
    {
        var low = _lab.Add(9, o => o with { Priority = 100 });
        var high = _lab.Add(2, o => o with { Priority = 150 });
        _lab.RunSeconds(30);
        Assert.That(high.State, Is.EqualTo(GatewayState.Active));
        Assert.That(low.State, Is.EqualTo(GatewayState.Standby));
        Assert.That(low.Group.Snapshot().ActiveIp, Is.EqualTo(Lab.Ip(2)));
    }

    [Test]
    public void Equal_priority_is_broken_by_the_highest_IP()
    {
        var a = _lab.Add(3);
        var b = _lab.Add(7);
        _lab.RunSeconds(30);
        Assert.That(b.State, Is.EqualTo(GatewayState.Active));
        Assert.That(a.State, Is.EqualTo(GatewayState.Standby));
    }

    [Test]
    public void Four_gateways_elect_one_Active_one_Standby_and_two_Listen()
    {
        for (int h = 1; h <= 4; h++)
            _lab.Add(h);
        _lab.RunSeconds(60);
        var states = _lab.Nodes.Select(n => n.State).ToList();
        Assert.That(states.Count(s => s == GatewayState.Active), Is.EqualTo(1));
        Assert.That(states.Count(s => s == GatewayState.Standby), Is.EqualTo(1));
        Assert.That(states.Count(s => s == GatewayState.Listen), Is.EqualTo(2));
        Assert.That(_lab.Nodes[3].State, Is.EqualTo(GatewayState.Active));
        Assert.That(_lab.Nodes[2].State, Is.EqualTo(GatewayState.Standby));
    }

    [Test]
    public void Standby_takes_over_when_the_Active_hold_time_expires_and_a_Listen_steps_up()
    {
        for (int h = 1; h <= 3; h++)
            _lab.Add(h);
        _lab.RunSeconds(60);
        var active = _lab.ActiveNode();
        var standby = _lab.Nodes[1];
        Assert.That(standby.State, Is.EqualTo(GatewayState.Standby));
        _lab.Crash(active);
        _lab.RunSeconds(7); // the last hello was at most 3 s before the crash
        Assert.That(standby.State, Is.EqualTo(GatewayState.Standby), "not before the hold time");
        _lab.RunSeconds(3.1);
        Assert.That(standby.State, Is.EqualTo(GatewayState.Active));
        _lab.RunSeconds(30);
        Assert.That(_lab.Nodes[0].State, Is.EqualTo(GatewayState.Standby), "the Listen member became the new Standby");
        _lab.AssertEveryVmacForwardedOnce();
    }

    [Test]
    public void Without_preemption_a_better_gateway_joining_later_does_not_take_over()
    {
        var first = _lab.Add(1, o => o with { Priority = 100 });
        _lab.RunSeconds(30);
        var better = _lab.Add(2, o => o with { Priority = 200 });
        _lab.RunSeconds(600);
        Assert.That(first.State, Is.EqualTo(GatewayState.Active));
        Assert.That(better.State, Is.EqualTo(GatewayState.Standby));
    }

    [Test]
    public void With_preemption_a_better_gateway_takes_over_after_its_delay()
    {
        var first = _lab.Add(1, o => o with { Priority = 100 });
        _lab.RunSeconds(30);
        var better = _lab.Add(2, o => o with { Priority = 200, Preempt = true, PreemptDelay = TimeSpan.FromSeconds(60) });
        _lab.RunSeconds(59.9);
        Assert.That(better.State, Is.Not.EqualTo(GatewayState.Active));
        _lab.RunSeconds(0.2);
        Assert.That(better.State, Is.EqualTo(GatewayState.Active));
        Assert.That(first.State, Is.EqualTo(GatewayState.Speak), "the old Active steps down");
        _lab.RunSeconds(10);
        Assert.That(first.State, Is.EqualTo(GatewayState.Standby));
        Assert.That(first.Plane.ArpEnabled, Is.False);
        Assert.That(better.Plane.ArpEnabled, Is.True);
    }

    [Test]
    public void Lowering_the_Active_priority_lets_a_preempting_Standby_take_over()
    {
        var a = _lab.Add(1, o => o with { Priority = 150, Preempt = true });
        var b = _lab.Add(2, o => o with { Priority = 120, Preempt = true });
        _lab.RunSeconds(30);
        Assert.That(a.State, Is.EqualTo(GatewayState.Active));
        a.Group.SetPriority(110);
        _lab.RunSeconds(1);
        Assert.That(b.State, Is.EqualTo(GatewayState.Active));
        _lab.RunSeconds(15);
        Assert.That(a.State, Is.EqualTo(GatewayState.Standby));
    }

    [Test]
    public void Fifty_millisecond_hellos_converge_and_fail_over_within_the_hold_time()
    {
        Func<GlbpGroupOptions, GlbpGroupOptions> fast = o => o with { HelloTime = TimeSpan.FromMilliseconds(50), HoldTime = TimeSpan.FromMilliseconds(160) };
        var a = _lab.Add(1, fast);
        var b = _lab.Add(2, fast);
        _lab.Run(TimeSpan.FromMilliseconds(400));
        Assert.That(b.State, Is.EqualTo(GatewayState.Active));
        Assert.That(a.State, Is.EqualTo(GatewayState.Standby));
        int before = b.Sent;
        _lab.Run(TimeSpan.FromSeconds(1));
        Assert.That(b.Sent - before, Is.InRange(19, 21), "one hello per 50 ms");
        _lab.Crash(b);
        _lab.Run(TimeSpan.FromMilliseconds(161));
        Assert.That(a.State, Is.EqualTo(GatewayState.Active));
        Assert.That(a.Plane.Vmacs, Has.Count.EqualTo(2), "its own vMAC and the failed one's");
    }

    [Test]
    public void A_graceful_stop_hands_over_without_waiting_for_the_hold_time()
    {
        var a = _lab.Add(1);
        var b = _lab.Add(2);
        _lab.RunSeconds(40);
        b.Group.Stop();
        _lab.Deliver();
        Assert.That(a.State, Is.EqualTo(GatewayState.Active));
        Assert.That(a.Plane.Vmacs, Has.Count.EqualTo(2));
        Assert.That(b.Plane.Vmacs, Is.Empty);
        Assert.That(b.Plane.ArpEnabled, Is.False);
    }

    [Test]
    public void Hours_of_protocol_time_stay_stable()
    {
        for (int h = 1; h <= 3; h++)
            _lab.Add(h);
        _lab.Run(TimeSpan.FromHours(5));
        Assert.That(_lab.Events.OfType<GatewayStateChanged>().Max(e => e.At - _lab.Events[0].At), Is.LessThan(TimeSpan.FromMinutes(1)));
        _lab.AssertEveryVmacForwardedOnce();
    }
}
