using Offload.Testing.Simulation;

namespace Offload.Group.Tests.Simulation;

/// <summary>
/// Ten minutes of virtual time per seed with random crashes, restarts, reboots, priority, preemption and
/// weighting changes, tracked objects, partitions and joins on a lossy, reordering segment.
/// </summary>
public class SoakTests
{
    [TestCase(1, 1000.0, 3000.0)]
    [TestCase(2, 1000.0, 3000.0)]
    [TestCase(3, 3000.0, 10000.0)]
    [TestCase(4, 250.0, 1000.0)]
    [TestCase(5, 1000.0, 4000.0)]
    [TestCase(6, 50.0, 150.0)]
    public void Random_events_never_break_an_invariant(int seed, double hello, double hold)
    {
        var rng = new Random(seed * 7919);
        var link = LinkProfile.Lossy(rng.NextDouble() * 0.1, 0, Math.Min(hello, 5 + (rng.NextDouble() * 45)));
        using var rig = new SimRig(seed, link);
        Func<GlbpGroupOptions, GlbpGroupOptions> config = o => SimRig.Timers(hello, hold)(o) with
        {
            LowerThreshold = 50,
            UpperThreshold = 80,
            ForwarderPreemptDelay = TimeSpan.FromSeconds(rng.Next(0, 40)),
        };
        rig.Start(5, (_, o) => config(o) with { Priority = (byte)rng.Next(50, 200), Preempt = rng.Next(2) == 0 });
        foreach (var m in rig.Members)
            rig.Sim.Track(m, 1, 60);
        rig.Sim.AddHosts(120, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(20));

        int nextBox = 6, events = 0;
        bool partitioned = false;
        TimeSpan end = rig.Sim.Now + TimeSpan.FromMinutes(10);
        while (rig.Sim.Now < end)
        {
            rig.Sim.Run(TimeSpan.FromSeconds(5 + (rng.NextDouble() * 30)));
            var all = rig.Sim.MembersOf(1);
            var live = all.Where(m => m.Up).ToList();
            var down = all.Where(m => !m.Up).ToList();
            events++;
            switch (rng.Next(9))
            {
                case 0 when live.Count > 1:
                    rig.Sim.Crash(live[rng.Next(live.Count)]);
                    break;
                case 1 when down.Count > 0:
                    rig.Sim.Restart(down[rng.Next(down.Count)]);
                    break;
                case 2:
                    rig.Sim.Reboot(live[rng.Next(live.Count)]);
                    break;
                case 3:
                    rig.Sim.SetPriority(live[rng.Next(live.Count)], (byte)rng.Next(1, 255));
                    break;
                case 4:
                    rig.Sim.SetPreempt(live[rng.Next(live.Count)], rng.Next(2) == 0, TimeSpan.FromSeconds(rng.Next(0, 10)));
                    break;
                case 5:
                    {
                        var m = live[rng.Next(live.Count)];
                        rig.Sim.Track(m, 1, 60);
                        rig.Sim.SetTrackedObject(m, 1, up: rng.Next(2) == 0);
                        break;
                    }
                case 6:
                    rig.Sim.SetWeighting(live[rng.Next(live.Count)], (byte)rng.Next(80, 255), 50, 80);
                    break;
                case 7 when !partitioned:
                    rig.Sim.Partition(all.Select(m => m.Box).Where(_ => rng.Next(2) == 0).ToList());
                    partitioned = true;
                    break;
                case 7:
                    rig.Sim.Heal();
                    partitioned = false;
                    break;
                case 8 when nextBox <= 8:
                    rig.Sim.Join(nextBox++, o => config(o) with { Priority = (byte)rng.Next(50, 200) });
                    break;
                default:
                    events--;
                    break;
            }
        }
        if (partitioned)
            rig.Sim.Heal();
        foreach (var m in rig.Sim.MembersOf(1).Where(m => !m.Up))
            rig.Sim.Restart(m);
        rig.Sim.Run(TimeSpan.FromMinutes(2));

        TestContext.Out.WriteLine($"seed {seed}: {events} events, {rig.Checker.Report()}, lost {rig.Sim.Lost} of {rig.Sim.Lost + rig.Sim.Delivered}, "
            + $"longest host outage {rig.Checker.LongestHostOutage}, longest unforwarded {rig.Checker.LongestUnforwarded}, max Actives {rig.Checker.MaxActives}");
        rig.AssertHealthy();
        Assert.That(events, Is.GreaterThanOrEqualTo(15), "the soak really disturbed the group");
        Assert.That(rig.Events.Count(e => e.Event is GatewayStateChanged { To: GatewayState.Active }), Is.GreaterThan(1), "the AVG role moved");
        Assert.That(rig.Events.Count(e => e.Event is ForwarderStateChanged { To: ForwarderState.Active }), Is.GreaterThan(rig.Members.Count), "forwarders moved");
        Assert.That(rig.Sim.Hosts.Sum(h => h.Replies), Is.GreaterThan(rig.Sim.Hosts.Count * 5), "hosts kept asking and being answered");
        Assert.That(rig.Sim.Hosts.All(h => h.Vmac != 0), Is.True, "every host resolved the virtual IP");
    }
}
