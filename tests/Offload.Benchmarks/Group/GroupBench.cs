using System.Diagnostics;
using Offload.Group;
using Offload.Protocol.Glbp;
using Offload.Testing.Simulation;

namespace Offload.Benchmarks.Group;

/// <summary>What to measure and how much of it; <see cref="Quick"/> is for tests and smoke runs.</summary>
public sealed record GroupBenchOptions
{
    public int Seed { get; init; } = 1;

    /// <summary>Crash phases per timer pair (crash moments spread over one hello interval).</summary>
    public int Phases { get; init; } = 16;

    public int Hosts { get; init; } = 1000;
    public IReadOnlyList<int> Forwarders { get; init; } = [4, 8];
    public int ScaleGroups { get; init; } = 1024;
    public int ScaleMembers { get; init; } = 8;
    public TimeSpan ScaleDuration { get; init; } = TimeSpan.FromSeconds(60);

    public static GroupBenchOptions Full => new();

    public static GroupBenchOptions Quick => new() { Phases = 4, ScaleGroups = 16, ScaleDuration = TimeSpan.FromSeconds(15) };
}

/// <summary>Failover on virtual time for one timer pair: worst and mean over the crash phases.</summary>
public sealed record FailoverFigure(int HelloMs, int HoldMs, int Runs, double ForwarderTakeoverMs, double ForwarderTakeoverMeanMs,
    double AvgTakeoverMs, double AvgTakeoverMeanMs, double GoalMs, bool GoalMet, int InvariantViolations);

/// <summary>
/// Hosts per forwarder when <see cref="Hosts"/> hosts ARP through the slot table the Active wrote. Ideal is what
/// exact proportions would give; <see cref="Tolerance"/> is one slot's share of the hosts per pass over the
/// table plus one for the unfinished last pass (N/256 + 1).
/// </summary>
public sealed record ArpFigure(string Mode, int Hosts, int Forwarders, int MaxPerForwarder, int MinPerForwarder, double IdealMax, double IdealMin,
    double MaxDeviation, double Tolerance, bool? WithinTolerance, double? UnchangedAfterFailover, IReadOnlyList<int> PerForwarder, IReadOnlyList<double> Weights);

/// <summary>
/// Many groups at once. CPU is the process's CPU time (all threads, GC included) over the simulated run divided by
/// the hellos delivered to a <see cref="GlbpGroup.Receive"/>; it includes encoding, timers and the simulator.
/// Memory is the managed heap after a full collection, minus the heap before, per group of members.
/// </summary>
public sealed record ScaleFigure(int Groups, int MembersPerGroup, int HelloMs, int HoldMs, double VirtualSeconds, long HellosProcessed,
    double CpuSeconds, double WallSeconds, double CpuMicrosPerHello, double ManagedBytesPerGroup, int GroupsWithOneActive);

public sealed record GroupBenchResult(int Seed, IReadOnlyList<FailoverFigure> Failover, IReadOnlyList<ArpFigure> ArpDistribution, ScaleFigure Scale)
{
    public bool FailoverGoalsMet => Failover.All(f => f.GoalMet);
    public bool DistributionGoalsMet => ArpDistribution.All(a => a.WithinTolerance != false && a.UnchangedAfterFailover is null or 1.0);
}

/// <summary>
/// `offload bench group`: failover times, ARP distribution and scale of the GLBP group engine, all measured on
/// the <see cref="SegmentSimulator"/>'s virtual time (deterministic for a seed), except the scale run's CPU and
/// memory figures, which are of this process.
/// </summary>
public static class GroupBench
{
    public static readonly IReadOnlyList<(int HelloMs, int HoldMs)> TimerPairs = [(50, 150), (1000, 3000), (3000, 10000)];

    public static readonly IReadOnlyList<string> Modes = ["round-robin", "weighted", "host-dependent", "load-based"];

    // LAN-like: a switch hop and a busy control plane's queueing, far under the smallest hello.
    private static readonly LinkProfile BenchLink = LinkProfile.Lossy(0, 0.1, 1);

    public static GroupBenchResult Run(GroupBenchOptions? options = null, Action<string>? progress = null)
    {
        options ??= GroupBenchOptions.Full;
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Phases, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Hosts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ScaleGroups, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ScaleMembers, 2);
        var failover = new List<FailoverFigure>();
        foreach (var (hello, hold) in TimerPairs)
        {
            progress?.Invoke($"failover, hello {hello} ms / hold {hold} ms");
            failover.Add(Failover(hello, hold, options.Phases, options.Seed));
        }
        var arp = new List<ArpFigure>();
        foreach (int k in options.Forwarders)
        {
            foreach (string mode in Modes)
            {
                progress?.Invoke($"ARP distribution, {k} forwarders, {mode}");
                arp.Add(Distribution(mode, k, options.Hosts, options.Seed));
            }
        }
        progress?.Invoke($"scale, {options.ScaleGroups} groups x {options.ScaleMembers} members");
        var scale = Scale(options.ScaleGroups, options.ScaleMembers, options.ScaleDuration, options.Seed);
        return new GroupBenchResult(options.Seed, failover, arp, scale);
    }

    public static GlbpLoadBalancing ModeOf(string mode) => mode switch
    {
        "round-robin" => GlbpLoadBalancing.RoundRobin,
        "weighted" => GlbpLoadBalancing.Weighted,
        "host-dependent" => GlbpLoadBalancing.HostDependent,
        "load-based" => GlbpLoadBalancing.LoadBased,
        _ => throw new ArgumentException($"unknown load-balancing mode '{mode}'", nameof(mode)),
    };

    /// <summary>
    /// One 4-member group per crash phase: converge, wait a random part of a hello interval, crash a plain
    /// forwarder (neither Active nor Standby) and time until another member's plane has its vMAC; in a twin run
    /// crash the Active and time until another member's ARP responder is on.
    /// </summary>
    public static FailoverFigure Failover(int helloMs, int holdMs, int phases, int seed)
    {
        var fwd = new List<double>();
        var avg = new List<double>();
        int violations = 0;
        for (int phase = 0; phase < phases; phase++)
        {
            for (int kind = 0; kind < 2; kind++)
            {
                using var sim = new SegmentSimulator(new SegmentOptions { Seed = seed + (phase * 7919) + helloMs, Link = BenchLink });
                using var checker = new InvariantChecker(sim);
                Converge(sim, 4, o => o with { HelloTime = TimeSpan.FromMilliseconds(helloMs), HoldTime = TimeSpan.FromMilliseconds(holdMs) });
                // The same draw in both twins, so each phase crashes the forwarder and the AVG at the same moment.
                sim.Run(TimeSpan.FromMilliseconds(sim.Random.NextDouble() * helloMs));
                var live = sim.Live().ToList();
                if (kind == 0)
                {
                    var victim = live.First(m => m.State is not (GatewayState.Active or GatewayState.Standby));
                    ulong vmac = OwnVmac(victim);
                    TimeSpan crash = sim.Now;
                    sim.Crash(victim);
                    TimeSpan? at = sim.RunUntil(() => sim.Live().Any(m => m.Plane.Forwards(vmac)), TimeSpan.FromMilliseconds(5 * holdMs));
                    fwd.Add(at is null ? double.PositiveInfinity : (at.Value - crash).TotalMilliseconds);
                }
                else
                {
                    var victim = live.Single(m => m.State == GatewayState.Active);
                    TimeSpan crash = sim.Now;
                    sim.Crash(victim);
                    TimeSpan? at = sim.RunUntil(() => sim.Live().Any(m => m.State == GatewayState.Active && m.Plane.ArpEnabled), TimeSpan.FromMilliseconds(5 * holdMs));
                    avg.Add(at is null ? double.PositiveInfinity : (at.Value - crash).TotalMilliseconds);
                }
                sim.Run(TimeSpan.FromMilliseconds(3 * holdMs));
                violations += checker.ViolationCount;
            }
        }
        double goal = helloMs == 50 && holdMs == 150 ? 200 : holdMs + helloMs;
        double worstFwd = fwd.Max(), worstAvg = avg.Max();
        bool met = worstFwd <= holdMs + helloMs && worstAvg <= holdMs + helloMs && (goal != 200 || (worstFwd < 200 && worstAvg < 200));
        return new FailoverFigure(helloMs, holdMs, phases, worstFwd, fwd.Average(), worstAvg, avg.Average(), goal, met && violations == 0, violations);
    }

    /// <summary>
    /// A group of <paramref name="forwarders"/> members, each owning one forwarder, in <paramref name="mode"/>;
    /// <paramref name="hosts"/> hosts with random MACs ARP once each through the Active's responder. Weighted mode
    /// gives the members weightings from 40 to 100; load-based mode reports loads 10, 20, … per forwarder to the
    /// AVG. Host-dependent mode also crashes the AVG and asks again once the group has settled.
    /// </summary>
    public static ArpFigure Distribution(string mode, int forwarders, int hosts, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(forwarders, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(forwarders, 64);
        GlbpLoadBalancing lb = ModeOf(mode);
        using var sim = new SegmentSimulator(new SegmentOptions { Seed = seed + forwarders, Link = BenchLink });
        Converge(sim, forwarders, o => o with
        {
            HelloTime = TimeSpan.FromSeconds(1),
            HoldTime = TimeSpan.FromSeconds(3),
            MaxForwarders = forwarders,
            LoadBalancing = lb,
            Weighting = lb == GlbpLoadBalancing.Weighted && forwarders > 1 ? (byte)(40 + (60 * (BoxOf(o) - 1) / (forwarders - 1))) : (byte)100,
        });
        var active = sim.Live().Single(m => m.State == GatewayState.Active);
        var table = active.Group.Snapshot().Forwarders;
        if (table.Count != forwarders)
            throw new InvalidOperationException($"the group assigned {table.Count} forwarders, not {forwarders}");
        var index = new Dictionary<ulong, int>();
        var weights = new double[forwarders];
        for (int i = 0; i < forwarders; i++)
        {
            index[table[i].Vmac] = i;
            var owner = sim.Live().Single(m => m.Options.LocalMac == table[i].OwnerMac);
            weights[i] = owner.Options.Weighting;
            if (lb == GlbpLoadBalancing.LoadBased)
            {
                double load = 10.0 * (i + 1);
                active.Group.SetForwarderLoad(table[i].Number, load);
                weights[i] /= load;
            }
        }
        if (lb is GlbpLoadBalancing.RoundRobin or GlbpLoadBalancing.HostDependent)
            Array.Fill(weights, 1.0);

        var macs = new ulong[hosts];
        for (int h = 0; h < hosts; h++)
            macs[h] = ((ulong)sim.Random.NextInt64() & 0xFEFF_FFFF_FFFFUL) | 0x0200_0000_0000UL;
        var counts = new int[forwarders];
        var first = new ulong[hosts];
        for (int h = 0; h < hosts; h++)
        {
            first[h] = active.Plane.AnswerVmac(macs[h]);
            counts[index[first[h]]]++;
        }

        double? unchanged = null;
        if (lb == GlbpLoadBalancing.HostDependent)
        {
            sim.Crash(active);
            sim.Run(TimeSpan.FromSeconds(10));
            var next = sim.Live().Single(m => m.State == GatewayState.Active);
            int same = 0;
            for (int h = 0; h < hosts; h++)
            {
                if (next.Plane.AnswerVmac(macs[h]) == first[h])
                    same++;
            }
            unchanged = (double)same / hosts;
        }

        double total = weights.Sum();
        double maxDev = 0, idealMax = 0, idealMin = double.MaxValue;
        for (int i = 0; i < forwarders; i++)
        {
            double ideal = hosts * weights[i] / total;
            idealMax = Math.Max(idealMax, ideal);
            idealMin = Math.Min(idealMin, ideal);
            maxDev = Math.Max(maxDev, Math.Abs(counts[i] - ideal));
        }
        double tolerance = (hosts / (double)SlotTableBuilder.SlotCount) + 1;
        // A hash spreads hosts only statistically: its goal is stability, so the slot tolerance does not apply (null).
        bool? within = lb == GlbpLoadBalancing.HostDependent ? null : maxDev <= tolerance;
        return new ArpFigure(mode, hosts, forwarders, counts.Max(), counts.Min(), Math.Round(idealMax, 2), Math.Round(idealMin, 2), Math.Round(maxDev, 2),
            Math.Round(tolerance, 2), within, unchanged, counts, [.. weights.Select(w => Math.Round(w / total, 4))]);
    }

    /// <summary>
    /// <paramref name="groups"/> groups of <paramref name="members"/> members on one segment (member b of every group
    /// on box b), hello 1 s / hold 3 s, run for <paramref name="duration"/> of virtual time from a cold start.
    /// </summary>
    public static ScaleFigure Scale(int groups, int members, TimeSpan duration, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(groups, GlbpProtocol.MaxGroup + 1);
        const int helloMs = 1000, holdMs = 3000;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var sim = new SegmentSimulator(new SegmentOptions { Seed = seed, Link = BenchLink, TrackDeliveries = false });
        for (int g = 0; g < groups; g++)
        {
            for (int box = 1; box <= members; box++)
            {
                sim.Join(box, o => o with
                {
                    HelloTime = TimeSpan.FromMilliseconds(helloMs),
                    HoldTime = TimeSpan.FromMilliseconds(holdMs),
                    MaxForwarders = Math.Min(members, GlbpVirtualMac.MaxForwarder),
                }, (ushort)g, record: false);
            }
        }

        using var process = Process.GetCurrentProcess();
        TimeSpan cpu0 = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        sim.Run(duration);
        wall.Stop();
        process.Refresh();
        TimeSpan cpu = process.TotalProcessorTime - cpu0;

        long hellos = sim.Members.Sum(m => m.Received);
        int whole = 0;
        for (int g = 0; g < groups; g++)
        {
            if (sim.MembersOf((ushort)g).Count(m => m.State == GatewayState.Active) == 1)
                whole++;
        }
        long after = GC.GetTotalMemory(forceFullCollection: true);
        double perGroup = (after - before) / (double)groups;
        GC.KeepAlive(sim);
        sim.Dispose();
        return new ScaleFigure(groups, members, helloMs, holdMs, duration.TotalSeconds, hellos, cpu.TotalSeconds, wall.Elapsed.TotalSeconds,
            hellos == 0 ? 0 : cpu.TotalMicroseconds / hellos, Math.Round(perGroup), whole);
    }

    private static int BoxOf(GlbpGroupOptions o) => (int)(o.LocalIp - SegmentSimulator.BoxIp(0));

    private static ulong OwnVmac(SimMember m) => m.Group.Snapshot().Forwarders.Single(f => f.Owned).Vmac;

    /// <summary>Boxes 1..count join at once; 4 hold times cover Listen, Speak and the owners' first hold of listening.</summary>
    private static void Converge(SegmentSimulator sim, int count, Func<GlbpGroupOptions, GlbpGroupOptions> configure)
    {
        for (int box = 1; box <= count; box++)
            sim.Join(box, configure);
        TimeSpan hold = sim.Members.Max(m => m.Options.HoldTime);
        sim.Run(4 * hold);
        int actives = sim.Live().Count(m => m.State == GatewayState.Active);
        if (actives != 1)
            throw new InvalidOperationException($"the group did not converge: {actives} Actives after {4 * hold}");
    }
}
