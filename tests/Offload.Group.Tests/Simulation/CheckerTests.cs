using System.Text;
using Offload.Protocol.Glbp;
using Offload.Testing.Simulation;

namespace Offload.Group.Tests.Simulation;

/// <summary>The invariant checker itself: it reports what is broken, and excuses only what its windows define.</summary>
public class CheckerTests
{
    [Test]
    public void Members_with_different_keys_become_two_Actives_and_the_checker_reports_it()
    {
        using var rig = new SimRig(201, LinkProfile.Lossy(0, 1, 5));
        rig.Start(2, (box, o) => SimRig.Timers(1000, 3000)(o) with
        {
            Authentication = new GlbpAuthSettings(GlbpAuthMode.PlainText, Encoding.ASCII.GetBytes(box == 1 ? "alpha" : "bravo")),
        });
        rig.Sim.Run(TimeSpan.FromSeconds(20));

        Assert.That(rig.Sim.Live().Count(m => m.State == GatewayState.Active), Is.EqualTo(2), "each rejects the other's hellos");
        Assert.That(rig.Checker.OutageSteps, Is.Zero, "messages were delivered: a bad key is not an outage");
        var v = rig.Checker.Violations.Where(x => x.Invariant == InvariantChecker.AtMostOneActive).ToList();
        Assert.That(v, Has.Count.EqualTo(1), rig.Checker.Report());
        Assert.That(v[0].Detail, Does.Contain("2 Actives"));
        // Both elected themselves after Listen H + Speak H; an overlap becomes a violation after one more H.
        Assert.That(v[0].At, Is.GreaterThan(3 * rig.Checker.Hold).And.LessThanOrEqualTo((3 * rig.Checker.Hold) + rig.Checker.Hello));
    }

    [Test]
    public void A_data_plane_that_drops_writes_strands_hosts_and_the_checker_reports_it_after_the_takeover_window()
    {
        using var rig = new SimRig(202, LinkProfile.Lossy(0, 1, 5));
        var members = rig.Start(3, (_, o) => SimRig.Timers(1000, 3000)(o));
        rig.Sim.AddHosts(60, TimeSpan.FromSeconds(600), TimeSpan.FromSeconds(2));
        rig.Sim.Run(TimeSpan.FromSeconds(10));
        Assert.That(rig.Checker.Violations, Is.Empty, rig.Checker.Report());
        var owner = members[0];
        ulong vmac = rig.OwnVmac(owner);
        Assert.That(rig.Sim.Hosts.Count(h => h.Vmac == vmac), Is.GreaterThan(0));
        foreach (var m in members.Skip(1))
            m.Plane.IgnoreWrites = true; // the takeover will happen in the group but never reach the hardware

        TimeSpan crash = rig.Sim.Now;
        rig.Sim.Crash(owner);
        rig.Sim.Run(TimeSpan.FromSeconds(10));

        var kinds = rig.Checker.Violations.Select(x => x.Invariant).Distinct().ToList();
        Assert.That(kinds, Is.EquivalentTo(new[] { InvariantChecker.VmacForwardedOnce, InvariantChecker.HostReachesForwarder }), rig.Checker.Report());
        Assert.That(rig.Checker.Violations.Min(x => x.At) - crash, Is.GreaterThan(rig.Bound), "nothing is reported inside the window");
        Assert.That(rig.Checker.Violations.First(x => x.Invariant == InvariantChecker.HostReachesForwarder).Detail, Does.Contain($"{vmac:x12}"));
    }

    [Test]
    public void A_one_way_outage_is_excused_for_the_AVG_but_hosts_must_still_reach_a_forwarder()
    {
        using var rig = new SimRig(203, LinkProfile.Lossy(0, 1, 5));
        var members = rig.Start(3, (_, o) => SimRig.Timers(1000, 3000)(o));
        rig.Sim.AddHosts(60, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(2));
        rig.Sim.Run(TimeSpan.FromSeconds(10));
        var active = rig.Active();
        var standby = rig.Standby()!;

        // The Standby stops hearing the Active (but the Active still hears it): it promotes itself.
        rig.Sim.SetLink(active.Box, standby.Box, LinkProfile.Lossy(1, 0, 0));
        rig.Sim.Run(TimeSpan.FromSeconds(30));
        Assert.That(rig.Checker.OutageSteps, Is.GreaterThan(0));
        Assert.That(rig.Checker.MaxActives, Is.EqualTo(2));
        Assert.That(rig.Checker.Violations, Is.Empty, rig.Checker.Report());

        rig.Sim.ClearLinks();
        rig.Sim.Run(TimeSpan.FromSeconds(30));
        rig.AssertHealthy();
        Assert.That(rig.Checker.LongestHostOutage, Is.EqualTo(TimeSpan.Zero), "hosts never lost their forwarder");
    }
}
