using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Offload.Balancer;
using Offload.Balancer.Classification;
using Offload.Balancer.Scheduling;
using Offload.Balancer.Tracking;
using Offload.Device;
using Offload.Testing.Device;

namespace Offload.Benchmarks.Balancer;

/// <summary>Classifier throughput: new flows classified and placed, per second on one core.</summary>
/// <param name="Mode">"nat" (forward and return entries per flow) or "dsr" (one entry).</param>
/// <param name="Flows">New flows classified in the timed part.</param>
/// <param name="Installed">Of those, how many got their entries (the rest: table full).</param>
/// <param name="WarmupSeconds">Untimed classification before the measurement (JIT tiering).</param>
public sealed record ClassifyFigure(string Mode, long Flows, long Installed, double Seconds, double WarmupSeconds)
{
    public double FlowsPerSecond => Seconds > 0 ? Flows / Seconds : 0;
}

/// <summary>How full the default flow-table geometry gets before the first insert fails, and how fast inserts go.</summary>
/// <param name="Fills">Independent fills with different random keys.</param>
/// <param name="MeanOccupancy">Mean load factor at the first failed insert.</param>
/// <param name="MinOccupancy">Lowest load factor at the first failed insert.</param>
/// <param name="InsertsPerSecond">Inserts (placement in the shadow plus the register writes) per second, over every fill.</param>
public sealed record OccupancyFigure(int Capacity, int Fills, double MeanOccupancy, double MinOccupancy, double InsertsPerSecond, long Moves);

/// <summary>Connection consistency under pool changes.</summary>
/// <param name="Flows">Connections opened during the run.</param>
/// <param name="EstablishedPackets">Packets of open connections checked against the backend their connection started on.</param>
/// <param name="PoolChanges">Backend additions, removals (drains), weight changes and health flips made meanwhile.</param>
/// <param name="Violations">Established packets that reached another backend than their connection's first.</param>
/// <param name="ReclassifiedPackets">Established packets that missed the table and went through the classifier again.</param>
public sealed record ConsistencyFigure(long Flows, long EstablishedPackets, int PoolChanges, long Violations, long ReclassifiedPackets);

/// <summary>Everything `offload bench balancer` prints.</summary>
public sealed record BalancerBenchResult(
    bool Quick,
    ClassifyFigure Nat,
    ClassifyFigure Dsr,
    IReadOnlyList<MaglevFigures> Maglev,
    OccupancyFigure Occupancy,
    ConsistencyFigure Consistency)
{
    public const double ClassifyGoal = 1_000_000;
    public const double PaperBuildMs = 1.8;
    public const double BalanceGoal = 1.01;
    public const int BalanceGoalMaxBackends = 650;
    public const double OccupancyGoal = 0.95;

    /// <summary>Pool size whose one-leaves disruption is the headline figure.</summary>
    public const int DisruptionBackends = 100;

    public MaglevFigures MaglevAt(int backends) => Maglev.First(m => m.Backends == backends);

    /// <summary>The worst balance over the measured pools the goal covers (N ≤ 650).</summary>
    public double MaxOverMean => Maglev.Where(m => m.Backends <= BalanceGoalMaxBackends).Max(m => m.MaxOverMean);

    public double DisruptionGoal => (1.0 / DisruptionBackends) + 0.01;
}

/// <summary>
/// The balancer's benchmark (issue 5, "Benchmarks"). The classifier runs for real: <see cref="Classifier"/>,
/// <see cref="SessionTracker"/> and <see cref="FlowTableManager"/> on synthetic first-packet frames, but against a
/// <see cref="RegisterFileDevice"/> so that the figure excludes the transport, as the issue defines it. Wall-clock
/// figures are whatever this machine gives; nothing here asserts on them.
/// </summary>
public static class BalancerBench
{
    private static readonly MacAddress Port0Mac = MacAddress.Parse("02:0f:00:00:00:01");
    private static readonly MacAddress Port1Mac = MacAddress.Parse("02:0f:00:00:01:01");
    private static readonly MacAddress Vmac = MacAddress.Glbp(1, 1);
    private static readonly MacAddress ClientRouterMac = MacAddress.Parse("02:00:00:00:10:01");
    private const uint NatVip = 0xC000_020A;     // 192.0.2.10
    private const uint DsrVip = 0xC000_0214;     // 192.0.2.20
    private const ushort VipPort = 80;
    private const int FrameBytes = 54;
    private const int MaxBackends = 120;

    public static BalancerBenchResult Run(bool quick, Action<string>? progress = null)
    {
        progress?.Invoke("classifier throughput (NAT)");
        var warmup = TimeSpan.FromSeconds(quick ? 0.1 : 1);
        var nat = Classify(ForwardingMode.Nat, quick ? 20_000 : 400_000, warmup);
        progress?.Invoke("classifier throughput (DSR)");
        var dsr = Classify(ForwardingMode.DirectServerReturn, quick ? 20_000 : 400_000, warmup);
        progress?.Invoke("Maglev build, balance, disruption");
        int repeats = quick ? 3 : 15;
        var maglev = new List<MaglevFigures>
        {
            MaglevBench.Measure(100, MaglevTable.DefaultSize, repeats),
            MaglevBench.Measure(BalancerBenchResult.BalanceGoalMaxBackends, MaglevTable.DefaultSize, repeats),
            MaglevBench.Measure(1000, MaglevTable.DefaultSize, repeats),
        };
        progress?.Invoke("flow-table occupancy");
        var occupancy = Occupancy(quick ? 3 : 20);
        progress?.Invoke("connection consistency under pool changes");
        var consistency = Consistency(quick ? 20_000 : 300_000);
        return new BalancerBenchResult(quick, nat, dsr, maglev, occupancy, consistency);
    }

    /// <summary>
    /// New flows through the real classifier, in rounds that fill the table to about 40 % and are then removed
    /// (untimed), so placement works at a realistic load rather than in an empty or a full table. Rounds during
    /// <paramref name="warmup"/> are not counted.
    /// </summary>
    public static ClassifyFigure Classify(ForwardingMode mode, int flows, TimeSpan warmup = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(flows, 1);
        var gw = new Gateway();
        var service = gw.Services.Add(new ServiceConfig(new ServiceKey(mode == ForwardingMode.Nat ? NatVip : DsrVip, 6, VipPort), mode));
        for (int b = 0; b < 16; b++)
            service.SetBackend(Backend(b, weight: 1 + (b % 4), port: mode == ForwardingMode.Nat ? (ushort)8080 : (ushort)0));
        int perRound = (int)(gw.Flows.Capacity * 0.4) / (mode == ForwardingMode.Nat ? 2 : 1);
        var templates = new byte[perRound][];
        var keys = new FlowKey[perRound];
        var work = new byte[FrameBytes];
        long done = 0, installed = 0;
        long ticks = 0;
        uint serial = 0;
        // Rounds run untimed until the warm-up time has passed: the JIT's optimized tier comes in the background after
        // a delay, and a running daemon has long since reached it.
        long warmUntil = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        while (done < flows)
        {
            bool warming = Stopwatch.GetTimestamp() < warmUntil;
            int n = (int)Math.Min(perRound, flows - done);
            for (int i = 0; i < n; i++)
            {
                serial++;
                templates[i] ??= new byte[FrameBytes];
                uint client = 0x0A00_0000 | (serial & 0x00FF_FFFF);
                ushort sport = (ushort)(1024 + (serial >> 24) + (serial % 60000));
                WriteTcp(templates[i], Vmac, ClientRouterMac, client, service.Key.VirtualIp, sport, VipPort, 0x02);
                keys[i] = new FlowKey(0, client, service.Key.VirtualIp, 6, sport, VipPort);
            }
            int roundInstalled = 0;
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < n; i++)
            {
                // The host receive path would have copied the frame into the loop's buffer: so does this.
                templates[i].CopyTo(work, 0);
                if (gw.Classifier.Classify(0, work) == ClassifyOutcome.Installed)
                    roundInstalled++;
            }
            long t = Stopwatch.GetTimestamp() - t0;
            if (!warming)
            {
                ticks += t;
                done += n;
                installed += roundInstalled;
            }
            for (int i = 0; i < n; i++)
                gw.Tracker.Remove(keys[i]);
        }
        return new ClassifyFigure(mode == ForwardingMode.Nat ? "nat" : "dsr", done, installed, (double)ticks / Stopwatch.Frequency, warmup.TotalSeconds);
    }

    /// <summary>Fills the default geometry through <see cref="FlowTableManager"/> with random keys until the first insert fails.</summary>
    public static OccupancyFigure Occupancy(int fills, DataplaneGeometry? geometry = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fills, 1);
        var g = geometry ?? new DataplaneGeometry();
        double sum = 0, min = 1;
        long inserts = 0, ticks = 0, moves = 0;
        int capacity = g.TotalEntries;
        // Fill -1 warms the JIT up and is not counted.
        for (int f = -1; f < fills; f++)
        {
            var table = new FlowTableManager(new RegisterFileDevice(g), g, FlowTableStart.AssumeEmpty);
            var rng = new Random(1000 + f);
            long t0 = Stopwatch.GetTimestamp();
            int n = 0;
            while (table.TryInsert(RandomKey(rng), new FlowAction(1), out _))
                n++;
            long t = Stopwatch.GetTimestamp() - t0;
            if (f < 0)
                continue;
            inserts += n;
            ticks += t;
            sum += table.LoadFactor;
            min = Math.Min(min, table.LoadFactor);
            moves += table.Moves;
        }
        return new OccupancyFigure(capacity, fills, sum / fills, min, inserts / ((double)ticks / Stopwatch.Frequency), moves);
    }

    /// <summary>
    /// A stream of new connections and packets of open ones through the classifier while the pool changes. The
    /// register file plays the hardware: a packet whose key is in its table is forwarded by that entry (the backend
    /// is the entry's NAT target); one that misses goes through the classifier like a punted frame. Every packet of
    /// an open connection is checked against the backend its first packet reached.
    /// </summary>
    /// <remarks>By default installs are not rate-limited: a flow answered without an entry follows the Maglev table,
    /// which a pool change moves by design, so the figure is about what the tracker promises for installed flows.
    /// <paramref name="installsPerSecond"/> &gt; 0 (one step is 1 ms of virtual time) shows that cost.</remarks>
    public static ConsistencyFigure Consistency(int steps, int seed = 7, double installsPerSecond = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var gw = new Gateway();
        gw.Services.DefaultDrainTimeout = TimeSpan.FromHours(1);
        var service = gw.Services.Add(new ServiceConfig(new ServiceKey(NatVip, 6, VipPort), ForwardingMode.Nat,
            InstallsPerSecond: installsPerSecond, InstallBurst: 1));
        const int initial = 8;
        for (int b = 0; b < initial; b++)
            service.SetBackend(Backend(b, weight: 1 + (b % 3)));
        var byAddress = new Dictionary<uint, string>();
        foreach (var b in service.Backends)
            byAddress[b.Config.Address] = b.Id;

        var rng = new Random(seed);
        var open = new List<(FlowKey Key, string Backend)>();
        var frame = new byte[FrameBytes];
        long flows = 0, packets = 0, violations = 0, reclassified = 0;
        int changes = 0, nextBackend = initial;
        string? unhealthy = null;
        uint serial = 0;
        for (int step = 0; step < steps; step++)
        {
            gw.Clock.Advance(TimeSpan.FromMilliseconds(1));
            gw.Device.LastSeenNow = (uint)step;
            if (step % 500 == 499)
            {
                changes++;
                switch ((step / 500) % 4)
                {
                    case 0:
                        // Backends own next-hop indices below the dynamic range: past that, a drained one comes back.
                        var draining = service.Backends.FirstOrDefault(b => b.Draining);
                        var added = nextBackend < MaxBackends || draining is null ? Backend(nextBackend++ % MaxBackends, weight: 1 + rng.Next(3)) : draining.Config;
                        service.SetBackend(added);
                        byAddress[added.Address] = added.Id;
                        break;
                    case 1:
                        var active = service.Backends.Where(b => !b.Draining).ToList();
                        if (active.Count > 2)
                            service.RemoveBackend(active[rng.Next(active.Count)].Id);
                        break;
                    case 2:
                        var any = service.Backends.Where(b => !b.Draining).ToList();
                        service.SetWeight(any[rng.Next(any.Count)].Id, 1 + rng.Next(5));
                        break;
                    default:
                        if (unhealthy is null)
                        {
                            var candidates = service.Backends.Where(b => !b.Draining).ToList();
                            unhealthy = candidates[rng.Next(candidates.Count)].Id;
                            service.SetHealth(unhealthy, healthy: false);
                        }
                        else
                        {
                            service.SetHealth(unhealthy, healthy: true);
                            unhealthy = null;
                        }
                        break;
                }
            }

            int dice = rng.Next(100);
            if (open.Count < 64 || dice < 20)
            {
                serial++;
                var key = new FlowKey(0, 0x0A00_0000 | (serial & 0x00FF_FFFF), NatVip, 6, (ushort)(1024 + (serial % 60000)), VipPort);
                WriteTcp(frame, Vmac, ClientRouterMac, key.SrcIp, key.DstIp, key.SrcPort, key.DstPort, 0x02);
                var outcome = gw.Classifier.Classify(0, frame);
                if (outcome is ClassifyOutcome.Installed or ClassifyOutcome.TableFull or ClassifyOutcome.RateLimited)
                {
                    flows++;
                    open.Add((key, byAddress[BinaryPrimitives.ReadUInt32BigEndian(gw.Device.LastSent[30..])]));
                }
            }
            else if (dice < 23 || gw.Flows.LoadFactor > 0.7)
            {
                // A connection ends (its FIN/RST linger is over).
                int i = rng.Next(open.Count);
                gw.Tracker.Remove(open[i].Key);
                open[i] = open[^1];
                open.RemoveAt(open.Count - 1);
            }
            else
            {
                var (key, expected) = open[rng.Next(open.Count)];
                packets++;
                uint target;
                if (gw.Device.Lookup(key, out _, out var action))
                {
                    target = action.NatIp;
                }
                else
                {
                    reclassified++;
                    WriteTcp(frame, Vmac, ClientRouterMac, key.SrcIp, key.DstIp, key.SrcPort, key.DstPort, 0x10);
                    gw.Classifier.Classify(0, frame);
                    target = BinaryPrimitives.ReadUInt32BigEndian(gw.Device.LastSent[30..]);
                }
                if (!byAddress.TryGetValue(target, out var got) || got != expected)
                    violations++;
            }
        }
        return new ConsistencyFigure(flows, packets, changes, violations, reclassified);
    }

    private static BackendConfig Backend(int i, int weight, ushort port = 8080) =>
        new(string.Create(CultureInfo.InvariantCulture, $"backend-{i:D3}"), 0xC633_6400u + (uint)i, port, (byte)i,
            new MacAddress(0x0200_0000_0100UL + (ulong)i), weight);

    private static FlowKey RandomKey(Random rng) =>
        new((byte)rng.Next(2), (uint)rng.Next() ^ ((uint)rng.Next() << 16), (uint)rng.Next() ^ ((uint)rng.Next() << 16), 6,
            (ushort)rng.Next(65536), (ushort)rng.Next(65536));

    /// <summary>An Ethernet + IPv4 (valid header checksum) + TCP segment without payload, 54 bytes.</summary>
    private static void WriteTcp(Span<byte> f, MacAddress dst, MacAddress src, uint sip, uint dip, ushort sport, ushort dport, byte flags)
    {
        f[..FrameBytes].Clear();
        dst.WriteTo(f);
        src.WriteTo(f[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], 0x0800);
        var ip = f[14..34];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 40);
        ip[8] = 64;
        ip[9] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], sip);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], dip);
        uint sum = 0;
        for (int i = 0; i < 20; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        while (sum > 0xFFFF)
            sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~sum);
        var tcp = f[34..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], dport);
        tcp[12] = 0x50;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
    }

    /// <summary>One gateway's control plane over a register file.</summary>
    private sealed class Gateway
    {
        public Gateway()
        {
            Device = new RegisterFileDevice();
            var dataplane = new Dataplane(Device);
            Services = new ServiceTable(dataplane, [Port0Mac, Port1Mac], Clock);
            Flows = new FlowTableManager(Device, dataplane.Geometry, FlowTableStart.AssumeEmpty);
            Tracker = new SessionTracker(Flows, Services);
            Classifier = new Classifier(dataplane, Services, Tracker);
        }

        public ManualClock Clock { get; } = new();

        public RegisterFileDevice Device { get; }

        public ServiceTable Services { get; }

        public FlowTableManager Flows { get; }

        public SessionTracker Tracker { get; }

        public Classifier Classifier { get; }
    }

    /// <summary>Virtual time the benchmark moves on itself, so drains and token buckets do not depend on the machine's speed.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
