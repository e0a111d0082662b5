using Offload.Balancer.Classification;
using Offload.Daemon;
using Offload.Device;
using Offload.Group;
using Offload.Protocol;

namespace Offload.Testing.Lab;

/// <summary>What a failover run is built from.</summary>
/// <param name="ExampleJson">The text of examples/gateway.json; every gateway's config derives from it.</param>
/// <param name="Hosts">Hosts on the segment, one connection each.</param>
/// <param name="Sync">Session sync on (as in the example) or dropped from every config.</param>
/// <param name="Adjust">Changes gateway n's (1-based) config after derivation, e.g. a different pool.</param>
public sealed record FailoverLabOptions(string ExampleJson, int Hosts = 24, bool Sync = true, Func<int, GatewayConfig, GatewayConfig>? Adjust = null);

/// <summary>A forwarder as the AVG sees it, with who owns it and who forwards it now.</summary>
public sealed record LabForwarderRow(byte Number, MacAddress Vmac, string Owner, string ForwardedBy);

public sealed record LabGatewayRow(string Name, uint Ip, byte Priority, GatewayState State, byte Weighting, MacAddress OwnVmac);

public sealed record ElectionResult(TimeSpan ConvergedAt, bool Converged, IReadOnlyList<LabGatewayRow> Gateways, IReadOnlyList<LabForwarderRow> Forwarders,
    string Avg, string Standby, uint VirtualIp);

public sealed record ArpRow(MacAddress Vmac, string Owner, string ForwardedBy, int Hosts);

/// <param name="AnsweredBy">Hosts answered, by the gateway whose hardware sent the reply.</param>
public sealed record ArpResult(int Hosts, int Answered, IReadOnlyDictionary<string, int> AnsweredBy, IReadOnlyList<ArpRow> Rows);

/// <param name="Installed">Connections the gateway's classifier installed (forward and return entries each).</param>
public sealed record GatewayFlowRow(string Name, int Connections, long Installed, int FlowEntries, ulong Hits, ulong Misses);

public sealed record BackendRow(string Id, uint Ip, int Connections);

/// <param name="HeldByPeers">Sessions each gateway's peer holds for it through session sync, by gateway.</param>
public sealed record ConnectResult(int Attempted, int Established, IReadOnlyList<GatewayFlowRow> PerGateway, IReadOnlyList<BackendRow> PerBackend,
    IReadOnlyDictionary<string, int> HeldByPeers);

/// <param name="AvgAfter">Virtual time from the crash until the survivor became AVG (null: it did not, or was already).</param>
/// <param name="VmacAfter">Virtual time from the crash until the survivor forwarded the victim's vMAC (null: it did not).</param>
public sealed record CrashResult(string Victim, string Survivor, MacAddress VictimVmac, bool VictimWasAvg, TimeSpan? AvgAfter, TimeSpan? VmacAfter,
    long SyncedFlowsInstalled, int ConnectionsThroughVictim, TimeSpan Hold, TimeSpan Hello);

/// <summary>One established connection that did not make it, and why.</summary>
public sealed record LostConnection(uint HostIp, MacAddress Vmac, string Backend, string Reason);

/// <param name="FirstPacketHit">Continued connections whose first packet after the crash hit the survivor's hardware.</param>
/// <param name="Reclassified">Continued connections whose first packet missed and was placed again by the survivor's classifier.</param>
/// <param name="Outcomes">What the survivor's classifier did with the misses of this step, by outcome (only those that happened).</param>
public sealed record ContinueResult(int Established, int Continued, int FirstPacketHit, int Reclassified, IReadOnlyList<LostConnection> Lost,
    ulong Hits, ulong Misses, int ThroughVictimVmac, int ContinuedThroughVictimVmac, IReadOnlyDictionary<ClassifyOutcome, long> Outcomes)
{
    public int LostCount => Lost.Count;
}

public sealed record ReArpResult(int Hosts, int Answered, IReadOnlyDictionary<string, int> AnsweredBy, IReadOnlyList<ArpRow> Rows);

/// <summary>
/// The product's failover story on a <see cref="LabSegment"/>, step by step: two gateways from the example config
/// elect an AVG; every host ARPs the group's virtual IP and gets a vMAC from the AVG's hardware; every host opens a
/// TCP connection to the service through that vMAC (miss, classifier, NAT install, later packets hit); the gateway
/// whose vMAC hosts use (the AVG if it has any) is powered off; the survivor takes over; every host sends more on its
/// connection through the vMAC it resolved before, and each connection is checked end to end: the same backend, the
/// same NAT rewrite, the backend's answer back at the host from the VIP. Every figure is read from counters, the
/// groups' state and what the emulated hosts and backends saw; none is assumed.
/// </summary>
public sealed class FailoverLab : IDisposable
{
    private const int OpenPayload = 100;
    private const int MorePayload = 200;

    private readonly FailoverLabOptions _options;
    private readonly List<Connection> _connections = [];
    private LabGateway? _victim;
    private LabGateway? _survivor;

    public FailoverLab(FailoverLabOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Hosts, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Hosts, 1000);
        Segment = new LabSegment();
        try
        {
            for (int n = 1; n <= 2; n++)
            {
                // gw-a wins the election: the example's priority over the peer's default.
                var config = LabConfigs.FromExample(options.ExampleJson, n, 2, priority: n == 1 ? 110 : 100, options.Sync);
                if (options.Adjust is { } adjust)
                    config = adjust(n, config);
                Segment.AddGateway(config);
                foreach (var s in config.Services)
                {
                    foreach (var b in s.Backends)
                        Segment.Backends.Add(b.Config.Id, b.Config.Address, b.Config.Port, b.Config.Mac);
                }
            }
            var first = Segment.Gateways[0].Config;
            if (first.Groups.Count == 0 || first.Services.Count == 0)
                throw new GatewayConfigException("example", ["the failover lab needs a group and a service in the example"]);
            for (int h = 1; h <= options.Hosts; h++)
                Segment.AddHost(new MacAddress(0x02AA_0000_0000UL + (ulong)h), Ipv4Address.Parse("10.0.0.100") + (uint)h, (ushort)(40000 + h));
        }
        catch
        {
            Segment.Dispose();
            throw;
        }
    }

    public LabSegment Segment { get; }

    public LabGateway A => Segment.Gateways[0];

    public LabGateway B => Segment.Gateways[1];

    public uint GroupVip => A.Config.Groups[0].VirtualIp;

    public ServiceKey Service => A.Config.Services[0].Config.Key;

    public TimeSpan Hello => A.Config.Groups[0].HelloTime;

    public TimeSpan Hold => A.Config.Groups[0].HoldTime;

    public LabGateway? Victim => _victim;

    public LabGateway? Survivor => _survivor;

    /// <summary>1. Both gateways start; runs until one AVG, one standby and a forwarder each (at most 30 s of virtual time).</summary>
    public ElectionResult Elect()
    {
        foreach (var g in Segment.Gateways)
            g.Node.Start();
        Segment.Run(TimeSpan.FromSeconds(30), until: Converged);
        var at = Segment.Clock.Elapsed;
        bool converged = Converged();
        // One more hello round: the AVG's slot table reflects every forwarder's weighting, not just their presence.
        Segment.Run(Hello);
        var avg = Segment.Gateways.FirstOrDefault(g => g.Group.State == GatewayState.Active);
        var standby = Segment.Gateways.FirstOrDefault(g => g.Group.State == GatewayState.Standby);
        var rows = Segment.Gateways.Select(g =>
        {
            var s = g.Group;
            var own = s.Forwarders.FirstOrDefault(f => f.Owned);
            return new LabGatewayRow(g.Name, g.Config.LocalIp, s.Priority, s.State, s.Weighting, own is null ? default : new MacAddress(own.Vmac));
        }).ToList();
        return new ElectionResult(at, converged, rows, Forwarders(avg ?? A), avg?.Name ?? "none", standby?.Name ?? "none", GroupVip);
    }

    /// <summary>2. Every host ARPs the group's virtual IP; counts the vMACs handed out and whose hardware answered.</summary>
    public ArpResult ResolveAll()
    {
        foreach (var h in Segment.Hosts)
            Segment.FromHost(h.ArpRequest(GroupVip));
        var answered = Segment.Hosts.Where(h => h.LastArpReply is { } r && r.Ip == GroupVip).ToList();
        return new ArpResult(Segment.Hosts.Count, answered.Count, CountBy(answered.Select(h => h.LastArpReply!.Value.From.Name)),
            ArpRows(answered, Segment.Live.FirstOrDefault(g => g.Group.State == GatewayState.Active) ?? A));
    }

    /// <summary>
    /// 3. Every host that resolved a vMAC opens a connection through it: SYN (miss, classified, installed,
    /// re-injected), the backend's SYN-ACK back, then data that must hit. Then one second for session sync.
    /// </summary>
    public ConnectResult ConnectAll()
    {
        var before = Segment.Gateways.ToDictionary(g => g, g => g.Counters());
        int attempted = 0;
        foreach (var h in Segment.Hosts)
        {
            if (h.LastArpReply is not { } arp)
                continue;
            attempted++;
            var c = new Connection(h, arp.Vmac);
            int seen = h.Tcp.Count;
            Segment.FromHost(h.TcpTo(c.Vmac, Service.VirtualIp, Service.Port, TcpFlags.Syn));
            bool synAck = h.Tcp.Skip(seen).Any(s => FromService(s, c.Vmac) && (s.Flags & (TcpFlags.Syn | TcpFlags.Ack)) == (TcpFlags.Syn | TcpFlags.Ack));
            int logged = Segment.Backends.Log.Count;
            seen = h.Tcp.Count;
            Segment.FromHost(h.TcpTo(c.Vmac, Service.VirtualIp, Service.Port, TcpFlags.Ack | TcpFlags.Psh, OpenPayload));
            var delivered = Delivered(h, logged);
            bool acked = h.Tcp.Skip(seen).Any(s => FromService(s, c.Vmac) && s.Flags == TcpFlags.Ack);
            if (synAck && acked && delivered.Count == 1 && delivered[0].Backend.Knows(h.Ip, h.Port))
            {
                c.Backend = delivered[0].Backend;
                c.Rewrite = delivered[0].Segment;
                c.Gateway = delivered[0].Segment.Via;
            }
            _connections.Add(c);
        }
        var after = Segment.Gateways.ToDictionary(g => g, g => g.Counters());
        var established = Established().ToList();
        var perGateway = Segment.Gateways.Select(g => new GatewayFlowRow(g.Name, established.Count(c => c.Gateway == g),
            g.Node.Classifier.Count(ClassifyOutcome.Installed), g.Node.Flows.Count,
            Hits(after[g]) - Hits(before[g]), Misses(after[g]) - Misses(before[g]))).ToList();
        var perBackend = Segment.Backends.All.OrderBy(b => b.Id, StringComparer.Ordinal)
            .Select(b => new BackendRow(b.Id, b.Ip, established.Count(c => c.Backend == b))).ToList();

        // Sync sends right away and retries on its own timers; one second covers the acknowledgements.
        Segment.Run(TimeSpan.FromSeconds(1));
        var held = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var g in Segment.Gateways)
        {
            var peer = Segment.Gateways.First(p => p != g);
            held[g.Name] = peer.Node.Sync?.Stored.Count(s => s.Origin == g.Config.LocalIp) ?? 0;
        }
        return new ConnectResult(attempted, established.Count, perGateway, perBackend, held);
    }

    /// <summary>
    /// 4. Powers off the gateway whose vMAC hosts use (the AVG when it has any, so both its roles move) and runs
    /// until the survivor forwards that vMAC (and is AVG), at most hold + hello + 2 s of virtual time.
    /// </summary>
    public CrashResult CrashAndTakeOver()
    {
        var avg = Segment.Live.FirstOrDefault(g => g.Group.State == GatewayState.Active) ?? A;
        var used = Established().Select(c => c.Vmac).ToHashSet();
        var victim = used.Contains(avg.OwnVmac) ? avg : Segment.Live.FirstOrDefault(g => used.Contains(g.OwnVmac)) ?? avg;
        var survivor = Segment.Live.First(g => g != victim);
        _victim = victim;
        _survivor = survivor;
        var vmac = victim.OwnVmac;
        bool wasAvg = victim == avg;
        long installsBefore = survivor.Node.TakeoverInstalls;
        int eventsBefore = survivor.Events.Count;

        var crashedAt = Segment.Clock.GetUtcNow();
        Segment.Crash(victim);
        Segment.Run(Hold + Hello + TimeSpan.FromSeconds(2),
            until: () => survivor.Forwards(vmac) && (!wasAvg || survivor.Group.State == GatewayState.Active));

        var events = survivor.Events.Skip(eventsBefore).ToList();
        var avgAt = events.OfType<GatewayStateChanged>().FirstOrDefault(e => e.To == GatewayState.Active)?.At;
        var vmacAt = events.OfType<ForwarderStateChanged>().FirstOrDefault(e => e.Vmac == vmac.Value && e.To == ForwarderState.Active)?.At;
        return new CrashResult(victim.Name, survivor.Name, vmac, wasAvg, avgAt - crashedAt, vmacAt - crashedAt,
            survivor.Node.TakeoverInstalls - installsBefore, Established().Count(c => c.Vmac == vmac), Hold, Hello);
    }

    /// <summary>
    /// 5. Every established connection sends more data to the vMAC its host resolved before. It continued when exactly
    /// one segment reached the same backend with the same rewrite (addresses, ports, MAC, TTL, valid checksums) and the
    /// backend's acknowledgement reached the host from the service address through that vMAC; anything else is lost.
    /// </summary>
    public ContinueResult ContinueAll()
    {
        var survivor = _survivor ?? throw new InvalidOperationException("ContinueAll runs after CrashAndTakeOver");
        var start = survivor.Counters();
        var outcomes = Enum.GetValues<ClassifyOutcome>().ToDictionary(o => o, survivor.Node.Classifier.Count);
        int hit = 0;
        int reclassified = 0;
        var lost = new List<LostConnection>();
        var established = Established().ToList();
        foreach (var c in established)
        {
            var h = c.Host;
            var before = survivor.Counters();
            int logged = Segment.Backends.Log.Count;
            int seen = h.Tcp.Count;
            Segment.FromHost(h.TcpTo(c.Vmac, Service.VirtualIp, Service.Port, TcpFlags.Ack | TcpFlags.Psh, MorePayload));
            var after = survivor.Counters();
            var delivered = Delivered(h, logged);
            var answers = h.Tcp.Skip(seen).ToList();
            string? reason = Check(c, delivered, answers);
            if (reason is not null)
            {
                lost.Add(new LostConnection(h.Ip, c.Vmac, c.Backend!.Id, reason));
                continue;
            }
            if (after.Port0.FlowHit > before.Port0.FlowHit && after.Port0.FlowMiss == before.Port0.FlowMiss)
                hit++;
            else
                reclassified++;
        }
        var end = survivor.Counters();
        var victimVmac = _victim!.OwnVmac;
        int throughVictim = established.Count(c => c.Vmac == victimVmac);
        int lostThroughVictim = lost.Count(l => l.Vmac == victimVmac);
        return new ContinueResult(established.Count, established.Count - lost.Count, hit, reclassified, lost,
            Hits(end) - Hits(start), Misses(end) - Misses(start), throughVictim, throughVictim - lostThroughVictim,
            outcomes.Select(kv => (kv.Key, Count: survivor.Node.Classifier.Count(kv.Key) - kv.Value)).Where(x => x.Count > 0).ToDictionary(x => x.Key, x => x.Count));
    }

    /// <summary>6. Every host ARPs again: who answers now, and with which vMACs.</summary>
    public ReArpResult ReArp()
    {
        var counts = Segment.Hosts.ToDictionary(h => h, h => h.ArpReplies);
        foreach (var h in Segment.Hosts)
            Segment.FromHost(h.ArpRequest(GroupVip));
        var answered = Segment.Hosts.Where(h => h.ArpReplies > counts[h] && h.LastArpReply is { } r && r.Ip == GroupVip).ToList();
        var avg = Segment.Live.FirstOrDefault(g => g.Group.State == GatewayState.Active) ?? Segment.Live.First();
        return new ReArpResult(Segment.Hosts.Count, answered.Count, CountBy(answered.Select(h => h.LastArpReply!.Value.From.Name)), ArpRows(answered, avg));
    }

    public void Dispose() => Segment.Dispose();

    private string? Check(Connection c, List<(LabBackend Backend, LabSegmentSeen Segment)> delivered, List<LabSegmentSeen> answers)
    {
        if (delivered.Count == 0)
            return "no segment reached a backend";
        if (delivered.Count > 1)
            return $"{delivered.Count} copies reached backends";
        var (backend, s) = delivered[0];
        var was = c.Rewrite!;
        if (backend != c.Backend)
            return $"reached {backend.Id} instead of {c.Backend!.Id}";
        if (s.DstMac != was.DstMac || s.SrcIp != was.SrcIp || s.SrcPort != was.SrcPort || s.DstIp != was.DstIp || s.DstPort != was.DstPort || s.Ttl != was.Ttl)
            return "the NAT rewrite differs from the one before the crash";
        if (answers.Any(a => (a.Flags & TcpFlags.Rst) != 0))
            return $"{backend.Id} reset it";
        if (!answers.Any(a => FromService(a, c.Vmac) && a.Flags == TcpFlags.Ack))
            return "the backend's acknowledgement did not reach the host";
        return null;
    }

    // The host accepts a segment only from the service address and port, through the vMAC it uses as gateway, intact.
    private bool FromService(LabSegmentSeen s, MacAddress vmac) =>
        s.SrcMac == vmac && s.SrcIp == Service.VirtualIp && s.SrcPort == Service.Port && s.ChecksumsOk;

    private List<(LabBackend Backend, LabSegmentSeen Segment)> Delivered(LabHost h, int from) =>
        Segment.Backends.Log.Skip(from).Where(d => d.Segment.SrcIp == h.Ip && d.Segment.SrcPort == h.Port).ToList();

    private IEnumerable<Connection> Established() => _connections.Where(c => c.Backend is not null);

    private bool Converged()
    {
        var states = Segment.Gateways.Select(g => g.Group).ToList();
        return states.Count(s => s.State == GatewayState.Active) == 1
            && states.Count(s => s.State == GatewayState.Standby) == states.Count - 1
            && states.All(s => s.Forwarders.Count == states.Count && s.Forwarders.Any(f => f.Owned && f.State == ForwarderState.Active));
    }

    private List<LabForwarderRow> Forwarders(LabGateway seenBy)
    {
        var rows = new List<LabForwarderRow>();
        foreach (var f in seenBy.Group.Forwarders.OrderBy(f => f.Number))
        {
            var vmac = new MacAddress(f.Vmac);
            rows.Add(new LabForwarderRow(f.Number, vmac, OwnerName(f.OwnerMac), Segment.Live.FirstOrDefault(g => g.Forwards(vmac))?.Name ?? "nobody"));
        }
        return rows;
    }

    private List<ArpRow> ArpRows(List<LabHost> answered, LabGateway seenBy)
    {
        var byVmac = answered.GroupBy(h => h.LastArpReply!.Value.Vmac).ToDictionary(g => g.Key, g => g.Count());
        var rows = Forwarders(seenBy).Select(f => new ArpRow(f.Vmac, f.Owner, f.ForwardedBy, byVmac.GetValueOrDefault(f.Vmac))).ToList();
        // A vMAC the AVG no longer lists still shows if hosts got it.
        foreach (var (vmac, n) in byVmac)
        {
            if (rows.All(r => r.Vmac != vmac))
                rows.Add(new ArpRow(vmac, "unknown", Segment.Live.FirstOrDefault(g => g.Forwards(vmac))?.Name ?? "nobody", n));
        }
        return rows;
    }

    private string OwnerName(ulong mac) => Segment.Gateways.FirstOrDefault(g => g.Config.Port0Mac.Value == mac)?.Name ?? new MacAddress(mac).ToString();

    private static Dictionary<string, int> CountBy(IEnumerable<string> names)
    {
        var d = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var n in names)
            d[n] = d.GetValueOrDefault(n) + 1;
        return d;
    }

    private static ulong Hits(DataplaneCounters c) => c.Port0.FlowHit + c.Port1.FlowHit;

    private static ulong Misses(DataplaneCounters c) => c.Port0.FlowMiss + c.Port1.FlowMiss;

    private sealed class Connection(LabHost host, MacAddress vmac)
    {
        public LabHost Host { get; } = host;

        public MacAddress Vmac { get; } = vmac;

        public LabBackend? Backend { get; set; }

        public LabSegmentSeen? Rewrite { get; set; }

        public LabGateway? Gateway { get; set; }
    }
}
