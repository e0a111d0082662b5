using Offload.Testing.Simulation;

namespace Offload.Group.Tests.Simulation;

/// <summary>Groups of 2–8 members form on a lossy, reordering segment and spread hosts over every forwarder.</summary>
public class ConvergenceTests
{
    [TestCase(2, 0.00, 11)]
    [TestCase(3, 0.05, 12)]
    [TestCase(4, 0.10, 13)]
    [TestCase(8, 0.20, 14)]
    public void Members_elect_one_AVG_and_hosts_spread_over_every_forwarder(int members, double loss, int seed)
    {
        // Delays of 1–40 ms against a 1 s hello: consecutive hellos from one sender keep their order, but
        // messages from different senders (and an answer overtaking a hello) arrive in varying order.
        using var rig = new SimRig(seed, LinkProfile.Lossy(loss, 1, 40));
        rig.Start(members, (_, o) => SimRig.Timers(1000, 3000)(o) with { MaxForwarders = 8 });
        rig.Sim.AddHosts(400, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30));
        rig.Sim.Run(TimeSpan.FromMinutes(5));

        rig.AssertHealthy();
        var live = rig.Sim.Live().ToList();
        Assert.That(live.Count(m => m.State == GatewayState.Standby), Is.EqualTo(1), "one Standby");
        Assert.That(rig.Active().Box, Is.EqualTo(members), "equal priorities: the highest address wins");
        Assert.That(rig.Active().Group.Snapshot().Forwarders, Has.Count.EqualTo(members), "one forwarder per member");
        foreach (var m in live)
            Assert.That(m.Plane.Vmacs, Is.EqualTo(new[] { rig.OwnVmac(m) }), $"{m} forwards exactly its own vMAC");

        var spread = rig.HostsPerVmac();
        int resolved = spread.Values.Sum();
        Assert.That(resolved, Is.EqualTo(400), "every host resolved the virtual IP");
        Assert.That(spread.Keys, Is.EquivalentTo(live.Select(rig.OwnVmac)), "hosts use every forwarder");
        Assert.That(spread.Values.Min(), Is.GreaterThanOrEqualTo(400 / members / 2), "no forwarder starved");
        if (loss > 0)
            Assert.That(rig.Sim.Lost, Is.GreaterThan(0), "the links really lost messages");
    }

    [Test]
    public void Fast_timers_with_delays_as_long_as_a_hello_reorder_messages_and_the_group_still_holds()
    {
        // 50 ms hellos against 0–50 ms delays: a sender's answers and hellos overtake each other.
        using var rig = new SimRig(15, LinkProfile.Lossy(0.05, 0, 50));
        var members = rig.Start(4, (_, o) => SimRig.Timers(50, 150)(o));
        rig.Sim.AddHosts(100, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2));
        rig.Sim.Run(TimeSpan.FromSeconds(20));
        var vmac = rig.OwnVmac(members[0]);
        TimeSpan crash = rig.Sim.Now;
        rig.Sim.Crash(members[0]);
        TimeSpan? taken = rig.Sim.RunUntil(() => rig.Forwarding(vmac).Any(), TimeSpan.FromSeconds(1));
        rig.Sim.Run(TimeSpan.FromSeconds(20));

        Assert.That(rig.Sim.Reordered, Is.GreaterThan(0), "messages really arrived out of order");
        Assert.That(taken - crash, Is.LessThanOrEqualTo(TimeSpan.FromMilliseconds(200)), "takeover within hold + hello even so");
        rig.AssertHealthy();
        Assert.That(rig.Sim.Hosts.All(h => h.Vmac != 0), Is.True);
    }

    [Test]
    public void The_same_seed_replays_the_same_run_and_another_seed_does_not()
    {
        static List<string> Run(int seed)
        {
            using var rig = new SimRig(seed, LinkProfile.Lossy(0.15, 0, 50));
            rig.Start(4, (_, o) => SimRig.Timers(1000, 3000)(o));
            rig.Sim.At(rig.Sim.Now + TimeSpan.FromSeconds(7.3), s => s.Crash(s.Live().Single(m => m.State == GatewayState.Active)));
            rig.Sim.Run(TimeSpan.FromSeconds(30));
            Assert.That(rig.Checker.Violations, Is.Empty, rig.Checker.Report());
            return [.. rig.Events.Select(e => $"{e.Event.At:O} {e.Member} {e.Event}"), $"delivered {rig.Sim.Delivered} lost {rig.Sim.Lost}"];
        }

        var a = Run(5);
        Assert.That(Run(5), Is.EqualTo(a));
        Assert.That(Run(6), Is.Not.EqualTo(a));
    }
}
