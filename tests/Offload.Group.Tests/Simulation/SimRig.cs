using Offload.Testing.Simulation;

namespace Offload.Group.Tests.Simulation;

/// <summary>A simulated segment with its invariant checker and a log of what the groups did.</summary>
internal sealed class SimRig : IDisposable
{
    public SimRig(int seed, LinkProfile link)
    {
        Sim = new SegmentSimulator(new SegmentOptions { Seed = seed, Link = link });
        Checker = new InvariantChecker(Sim);
        Sim.GroupEvent += (m, e) => Events.Add((m, e));
    }

    public SegmentSimulator Sim { get; }
    public InvariantChecker Checker { get; }
    public List<(SimMember Member, GlbpEvent Event)> Events { get; } = [];
    public List<SimMember> Members { get; } = [];

    public TimeSpan Bound => Checker.TakeoverBound;

    public static Func<GlbpGroupOptions, GlbpGroupOptions> Timers(double helloMs, double holdMs, Func<GlbpGroupOptions, GlbpGroupOptions>? more = null) =>
        o => (more?.Invoke(o) ?? o) with { HelloTime = TimeSpan.FromMilliseconds(helloMs), HoldTime = TimeSpan.FromMilliseconds(holdMs) };

    /// <summary>Boxes 1..count join at once and run until the group has converged and every owner forwards.</summary>
    public List<SimMember> Start(int count, Func<int, GlbpGroupOptions, GlbpGroupOptions>? configure = null)
    {
        for (int box = 1; box <= count; box++)
        {
            int b = box;
            Members.Add(Sim.Join(box, o => configure?.Invoke(b, o) ?? o));
        }
        TimeSpan hold = Members.Max(m => m.Options.HoldTime);
        // Listen H, Speak H, then owners listen H before claiming: 4H leaves a hold time to spare.
        Sim.Run(4 * hold);
        return Members;
    }

    public SimMember Active() => Sim.Live().Single(m => m.State == GatewayState.Active);

    public SimMember? Standby() => Sim.Live().SingleOrDefault(m => m.State == GatewayState.Standby);

    public ulong OwnVmac(SimMember m) => m.Group.Snapshot().Forwarders.Single(f => f.Owned).Vmac;

    public IEnumerable<SimMember> Forwarding(ulong vmac) => Sim.Live().Where(m => m.Plane.Forwards(vmac));

    /// <summary>Hosts per vMAC among hosts that resolved one.</summary>
    public Dictionary<ulong, int> HostsPerVmac() => Sim.Hosts.Where(h => h.Vmac != 0).GroupBy(h => h.Vmac).ToDictionary(g => g.Key, g => g.Count());

    /// <summary>Exactly one Active, and every forwarder in its table forwarded by exactly one powered member.</summary>
    public bool Whole()
    {
        var actives = Sim.Live().Where(m => m.State == GatewayState.Active).ToList();
        if (actives.Count != 1)
            return false;
        var table = actives[0].Group.Snapshot().Forwarders;
        return table.Count > 0 && table.All(f => Forwarding(f.Vmac).Count() == 1);
    }

    /// <summary>
    /// No violation so far, and the group is whole now or within a hold time (on a lossy link the moment asked
    /// may fall inside an outage's transient).
    /// </summary>
    public void AssertHealthy()
    {
        Assert.That(Checker.Violations, Is.Empty, Checker.Report());
        Assert.That(Checker.ViolationCount, Is.Zero);
        Assert.That(Checker.Checks, Is.GreaterThan(0));
        Assert.That(Sim.RunUntil(Whole, 2 * Checker.Hold), Is.Not.Null, "one Active, every forwarder in its table forwarded once");
        Assert.That(Checker.Violations, Is.Empty, Checker.Report());
    }

    public void Dispose()
    {
        Checker.Dispose();
        Sim.Dispose();
    }
}
