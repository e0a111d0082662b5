using System.Buffers.Binary;
using System.Globalization;
using Offload.Balancer.Classification;
using Offload.Balancer.Tracking;
using Offload.Device;
using Offload.HwModel;
using Offload.Protocol;
using Offload.Protocol.Pcap;
using Offload.Reference;
using Spectre.Console;

namespace Offload.Cli;

/// <summary>
/// The main job for now: one gateway's data plane on the Verilator model. Hosts on the segment ARP for
/// the group's virtual IP and get vMACs spread by weight; they open TCP connections to a service; the
/// first packet of each misses and is punted to the real balancer (classifier, weighted Maglev, session
/// tracker), which installs a flow pair (NAT to a backend and back) and re-sends the punted packet through
/// the host queue; every later packet is forwarded by the table alone, and the FIN events end the sessions.
/// Every output is checked against the reference model.
/// </summary>
internal static class Demo
{
    public static readonly MacAddress Port0Mac = MacAddress.Parse("02:0f:00:00:00:01");
    public static readonly MacAddress Port1Mac = MacAddress.Parse("02:0f:00:00:01:01");
    public const uint Vip = 0x0A00_0001;          // 10.0.0.1: the group's virtual gateway address
    public const uint HostDependentVip = 0x0A00_0002;
    public const uint ServiceIp = 0xC000_020A;    // 192.0.2.10:80, the service the hosts reach
    public const ushort ServicePort = 80;
    public const ushort GroupId = 1;

    /// <summary>This box forwards for forwarders 1 and 2; 3 and 4 belong to the other gateways of the group.</summary>
    public static readonly int[] LocalForwarders = [1, 2];
    public static readonly (byte Forwarder, int Weight)[] Weights = [(1, 100), (2, 100), (3, 50), (4, 50)];
    public static readonly (uint Ip, MacAddress Mac, int Weight)[] Backends =
    [
        (0xC633_6401, MacAddress.Parse("02:00:00:00:01:01"), 2),  // 198.51.100.1
        (0xC633_6402, MacAddress.Parse("02:00:00:00:01:02"), 1),
        (0xC633_6403, MacAddress.Parse("02:00:00:00:01:03"), 1),
    ];
    public const ushort BackendPort = 8080;

    public static DataplaneConfig Tables(DataplaneGeometry g)
    {
        var cfg = new DataplaneConfig(g);
        cfg.PortMacs[0] = Port0Mac;
        cfg.PortMacs[1] = Port1Mac;
        for (int i = 0; i < LocalForwarders.Length; i++)
            cfg.Vmacs[i] = MacAddress.Glbp(GroupId, LocalForwarders[i]);
        cfg.Groups[0] = new GroupConfig(Vip, GroupId, ArpMode.RoundRobin, CopyRequests: false, Enabled: true, SlotTable.FromWeights(Weights, g.Slots));
        cfg.Groups[1] = new GroupConfig(HostDependentVip, GroupId + 1, ArpMode.HostDependent, CopyRequests: true, Enabled: true,
            SlotTable.FromWeights([(1, 1), (2, 1)], g.Slots));
        for (int b = 0; b < Backends.Length; b++)
            cfg.NextHops[b] = new NextHop(1, Backends[b].Mac, Port1Mac);
        return cfg;
    }

    private static MacAddress HostMac(int i) => new(0x0200_0000_1000UL + (ulong)i);

    private static uint HostIp(int i) => 0x0A00_0064 + (uint)i;  // 10.0.0.100 + i

    /// <summary>The first act (one data plane against the reference model), then the second (<see cref="DemoFailover"/>) unless skipped.</summary>
    public static int Run(int width, int hosts, DirectoryInfo? outDir, bool failover = true)
    {
        int rc = FirstAct(width, hosts, outDir);
        if (!failover)
            return rc;
        int second = DemoFailover.Run(hosts);
        return rc != 0 ? rc : second;
    }

    private static int FirstAct(int width, int hosts, DirectoryInfo? outDir)
    {
        using var run = new ModelRun(width, build: Tables);
        var g = run.Dataplane.Geometry;
        AnsiConsole.MarkupLine($"[bold]Offload data plane on the Verilator model[/] (DATA_W={g.DataWidth}, flow table {g.TotalEntries} entries, lookup latency {run.Dataplane.LookupLatency} cycles)");
        AnsiConsole.MarkupLine($"Group {GroupId}: virtual IP {Ipv4Address.Format(Vip)}, forwarders 1–4 weighted 100/100/50/50; this box forwards for vMACs {string.Join(", ", LocalForwarders.Select(f => MacAddress.Glbp(GroupId, f)))}.");
        AnsiConsole.WriteLine();

        // 1. ARP: every host asks for the virtual IP; the responder answers from the weighted slot table.
        Cli.Rule($"1. {hosts} hosts ARP for {Ipv4Address.Format(Vip)} (round-robin over weighted slots)");
        var learned = new MacAddress[hosts];
        for (int h = 0; h < hosts; h++)
        {
            var req = FrameBuilder.BuildArp(new EthernetHeader(MacAddress.Broadcast.Value, HostMac(h).Value), ArpPacket.Request(HostMac(h).Value, HostIp(h), Vip));
            run.Send(0, req);
            var outs = run.Flush();
            var reply = outs.FirstOrDefault(o => o.Port == 0);
            learned[h] = reply is null ? default : MacAddress.FromBytes(reply.Frame.AsSpan(22, 6));
        }
        var perForwarder = learned.GroupBy(m => (int)(m.Value & 0xFF)).ToDictionary(x => x.Key, x => x.Count());
        var arpTable = new Table().AddColumns("forwarder", "vMAC", "weight", "hosts answered", "hardware reply counter", "forwarded by");
        foreach (var (fwd, weight) in Weights)
        {
            arpTable.AddRow(fwd.ToString(CultureInfo.InvariantCulture), MacAddress.Glbp(GroupId, fwd).ToString(), weight.ToString(CultureInfo.InvariantCulture),
                perForwarder.GetValueOrDefault(fwd).ToString(CultureInfo.InvariantCulture),
                run.Dataplane.ReadArpCounter(0, fwd).ToString(CultureInfo.InvariantCulture),
                LocalForwarders.Contains(fwd) ? "this box" : "another gateway");
        }
        AnsiConsole.Write(arpTable);

        // Host-dependent mode: the same host always gets the same vMAC.
        int stable = 0;
        for (int h = 0; h < hosts; h++)
        {
            MacAddress first = default;
            for (int k = 0; k < 2; k++)
            {
                var req = FrameBuilder.BuildArp(new EthernetHeader(MacAddress.Broadcast.Value, HostMac(h).Value), ArpPacket.Request(HostMac(h).Value, HostIp(h), HostDependentVip));
                run.Send(0, req);
                var reply = run.Flush().FirstOrDefault(o => o.Port == 0);
                var mac = reply is null ? default : MacAddress.FromBytes(reply.Frame.AsSpan(22, 6));
                if (k == 0)
                    first = mac;
                else if (mac == first)
                    stable++;
            }
        }
        AnsiConsole.MarkupLine($"Host-dependent group {GroupId + 1} ({Ipv4Address.Format(HostDependentVip)}): {stable} of {hosts} hosts got the same vMAC on both requests (each request also copied to the host queue).");
        AnsiConsole.WriteLine();

        // 2. The real control plane: a NAT service on the service address with weighted Maglev over the backends.
        // It talks to the model through a tap that hands it the host frames the comparison with the reference
        // model has already taken, and passes what it re-injects back through the same comparison.
        var clock = new ManualClock();
        var tap = new HostQueueTap(run.Device);
        var dataplane = new Dataplane(tap);
        var services = new ServiceTable(dataplane, [Port0Mac, Port1Mac], clock, dynamicNextHops: new Range(16, g.NextHops));
        var service = services.Add(new ServiceConfig(new ServiceKey(ServiceIp, 6, ServicePort), ForwardingMode.Nat, SchedulerKind.Maglev));
        for (int b = 0; b < Backends.Length; b++)
            service.SetBackend(new BackendConfig(BackendId(b), Backends[b].Ip, BackendPort, (byte)b, Backends[b].Mac, Backends[b].Weight));
        var tracker = new SessionTracker(run.Flows, services);
        var classifier = new Classifier(dataplane, services, tracker);
        var loop = new BalancerLoop(dataplane, classifier, tracker);
        Sync(run, services);

        Cli.Rule($"2. Hosts connect to {Ipv4Address.Format(ServiceIp)}:{ServicePort} (NAT service, Maglev weights {string.Join("/", Backends.Select(b => b.Weight))})");
        var before = run.Dataplane.ReadCounters();
        for (int h = 0; h < hosts; h++)
        {
            ushort sport = (ushort)(40000 + h);
            int mark = run.Outputs.Count;
            run.Send(0, Tcp(learned[h], HostMac(h), HostIp(h), ServiceIp, sport, ServicePort, TcpFlags.Syn));
            run.Flush();
            // Addressed to another gateway's vMAC, a SYN is dropped here as not ours; that gateway forwards it.
            RunBalancer(run, tap, loop, services, mark);
        }
        var after = run.Dataplane.ReadCounters();
        AnsiConsole.MarkupLine($"{after.Port0.FlowMiss - before.Port0.FlowMiss} first packets missed the table and were punted; the classifier installed {classifier.Count(ClassifyOutcome.Installed)} NAT connections (forward and return entries) and re-injected each first packet; " +
            $"{after.Port0.DropNotForUs - before.Port0.DropNotForUs} went to vMACs of other gateways and were dropped here as not ours.");
        ReportOtherOutcomes(classifier);

        // 3. Established traffic: both directions hit in hardware; the last packet of each side carries a FIN.
        const int dataPackets = 8;
        var connections = tracker.Sessions.Where(s => s.Reverse is not null && s.Backend is not null)
            .Select(s => (Host: (int)(s.Forward.SrcIp - HostIp(0)), s.Forward, Reverse: s.Reverse!.Value, Backend: s.Backend!))
            .OrderBy(c => c.Host).ToList();
        before = run.Dataplane.ReadCounters();
        int established = run.Outputs.Count;
        foreach (var (h, fwd, rev, backend) in connections)
        {
            for (int k = 0; k < dataPackets; k++)
            {
                bool last = k == dataPackets - 1;
                run.Send(0, Tcp(learned[h], HostMac(h), fwd.SrcIp, fwd.DstIp, fwd.SrcPort, fwd.DstPort,
                    (byte)(TcpFlags.Ack | (last ? TcpFlags.Fin : TcpFlags.Psh)), payload: 100 + (k * 50)));
                run.Send(1, Tcp(Port1Mac, backend.Config.Mac, rev.SrcIp, rev.DstIp, rev.SrcPort, rev.DstPort,
                    (byte)(TcpFlags.Ack | (last ? TcpFlags.Fin : TcpFlags.Psh)), payload: 400));
            }
        }
        run.Flush();
        after = run.Dataplane.ReadCounters();
        ulong hits = after.Port0.FlowHit + after.Port1.FlowHit - before.Port0.FlowHit - before.Port1.FlowHit;
        ulong fins = after.Port0.FinRst + after.Port1.FinRst - before.Port0.FinRst - before.Port1.FinRst;
        ulong misses = after.Port0.FlowMiss + after.Port1.FlowMiss - before.Port0.FlowMiss - before.Port1.FlowMiss;
        AnsiConsole.MarkupLine($"{connections.Count * dataPackets * 2} packets of established connections: {hits} forwarded by the flow table without the classifier, {misses} missed; {fins} FIN events reported to the host.");
        var perBackend = connections.GroupBy(c => c.Backend.Id).OrderBy(x => x.Key, StringComparer.Ordinal)
            .Select(x => $"{Ipv4Address.Format(x.First().Backend.Config.Address)} (weight {x.First().Backend.Config.Weight}): {x.Count()}");
        AnsiConsole.MarkupLine($"Connections per backend: {string.Join(", ", perBackend)}");

        // The FIN events reach the tracker; once the linger has passed, the entries go.
        int entriesBefore = run.Flows.Count;
        RunBalancer(run, tap, loop, services, established);
        clock.Advance(tracker.Options.FinLinger + TimeSpan.FromSeconds(1));
        RunBalancer(run, tap, loop, services, run.Outputs.Count);
        AnsiConsole.MarkupLine($"The tracker saw {tracker.Counters.FinRstEvents} FIN events and, after the {tracker.Options.FinLinger.TotalSeconds:0} s linger (virtual clock), ended {tracker.Counters.EndedFinRst} sessions: flow table {entriesBefore} → {run.Flows.Count} entries.");
        AnsiConsole.WriteLine();

        // 4. What the hardware counted, next to the reference model.
        Cli.Rule("3. Counters (model | reference agrees)");
        var ct = new Table().AddColumns("counter", "port 0", "port 1", "reference");
        foreach (var (name, a, b, agree) in run.Counters())
        {
            if (a == 0 && b == 0 && agree)
                continue;
            ct.AddRow(name, a.ToString(CultureInfo.InvariantCulture), b.ToString(CultureInfo.InvariantCulture), agree ? "[green]same[/]" : "[red]differs[/]");
        }
        AnsiConsole.Write(ct);
        var diffs = run.Flows.VerifyAgainstHardware();
        AnsiConsole.MarkupLine($"Flow table: {run.Flows.Count} entries, shadow copy {(diffs.Count == 0 ? "[green]equals[/]" : $"[red]differs in {diffs.Count} entries from[/]")} the hardware table read back.");
        AnsiConsole.MarkupLine($"Model: {run.Cycles:N0} cycles simulated.");

        if (outDir is not null)
            WritePcaps(run.Outputs, Path.Combine(outDir.FullName, "demo"));

        bool countersAgree = run.Counters().All(c => c.Agree);
        if (run.FirstMismatch is null && countersAgree && diffs.Count == 0)
        {
            AnsiConsole.MarkupLine($"[green]Model and reference model agree on all {run.Compared} outputs and every counter.[/]");
            return 0;
        }
        AnsiConsole.MarkupLine($"[red]Model and reference model disagree:[/] {Markup.Escape(run.FirstMismatch ?? "counters differ")}");
        return 1;
    }

    private static string BackendId(int b) => string.Create(CultureInfo.InvariantCulture, $"backend-{b + 1}");

    // Hands the host frames the model produced since output `mark` (already compared with the reference) to the
    // balancer loop, then sends what the classifier re-injected through the run, so the reference model sees the
    // same host TX frames, and gives the reference the tables the control plane wrote.
    private static void RunBalancer(ModelRun run, HostQueueTap tap, BalancerLoop loop, ServiceTable services, int mark)
    {
        for (int i = mark; i < run.Outputs.Count; i++)
        {
            var o = run.Outputs[i];
            if (o.IsHost && o.Metadata is { } meta)
                tap.Receive(meta, o.Frame);
        }
        while (loop.Poll() > 0)
        {
        }
        Sync(run, services);
        foreach (var (port, frame) in tap.TakeSent())
            run.SendHost(port, frame);
        run.Flush();
    }

    private static void Sync(ModelRun run, ServiceTable services)
    {
        run.Flows.CopyTo(run.Config);
        for (int i = 0; i < run.Config.NextHops.Length; i++)
        {
            if (services.NextHops.Get(i) is { } nh)
                run.Config.NextHops[i] = nh;
        }
    }

    private static void ReportOtherOutcomes(Classifier classifier)
    {
        var others = Enum.GetValues<ClassifyOutcome>().Where(o => o != ClassifyOutcome.Installed && classifier.Count(o) > 0)
            .Select(o => $"{o}: {classifier.Count(o)}").ToList();
        if (others.Count > 0)
            AnsiConsole.MarkupLine($"Other classifier outcomes: {string.Join(", ", others)}");
    }

    public static byte[] Tcp(MacAddress dst, MacAddress src, uint sip, uint dip, ushort sport, ushort dport, byte flags, int payload = 0) =>
        FrameBuilder.BuildTcp(new EthernetHeader(dst.Value, src.Value), new Ipv4Header(sip, dip, 6), new TcpHeader(sport, dport) { Flags = flags }, new byte[payload]);

    /// <summary>Writes OUT.port0.pcap, OUT.port1.pcap and OUT.host.pcap (host frames without their metadata).</summary>
    public static void WritePcaps(IReadOnlyList<PipelineOutput> outputs, string stem)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(stem));
        if (dir is not null)
            Directory.CreateDirectory(dir);
        for (int d = 0; d < 3; d++)
        {
            string path = $"{stem}.{(d == 2 ? "host" : $"port{d}")}.pcap";
            string tmp = path + ".tmp";
            int n = 0;
            using (var w = PcapWriter.Create(tmp))
            {
                foreach (var o in outputs.Where(o => o.Port == d && o.Frame.Length > 0))
                    w.Write(o.Frame, n++ * 1000L);
            }
            File.Move(tmp, path, overwrite: true);
            AnsiConsole.MarkupLine($"wrote {Markup.Escape(path)} ({n} frames)");
        }
    }

    /// <summary>Virtual time for the balancer: the demo moves it on where it says so.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    /// <summary>
    /// The model's registers for the balancer, except the two host queues: HOST_RX serves the frames the run took
    /// from the model (so both the reference comparison and the balancer see each one), and HOST_TX keeps what the
    /// balancer commits so the run can send it to the model and the reference model alike.
    /// </summary>
    private sealed class HostQueueTap(IDevice inner) : IDevice
    {
        private readonly Queue<byte[]> _rx = new();
        private readonly List<(int Port, byte[] Frame)> _sent = [];
        private readonly List<byte> _tx = [];
        private int _rxOffset;

        public string Transport => inner.Transport;

        public void Receive(HostMetadata meta, byte[] frame)
        {
            var entry = new byte[HostMetadata.Size + frame.Length];
            meta.WriteTo(entry);
            frame.CopyTo(entry, HostMetadata.Size);
            _rx.Enqueue(entry);
        }

        public List<(int Port, byte[] Frame)> TakeSent()
        {
            var sent = _sent.ToList();
            _sent.Clear();
            return sent;
        }

        public uint Read(uint address)
        {
            switch (address)
            {
                case Reg.HostRxLen:
                    return _rx.TryPeek(out var head) ? (uint)head.Length : 0;
                case Reg.HostRxData:
                    if (!_rx.TryPeek(out var entry))
                        return 0;
                    uint word = 0;
                    for (int b = 0; b < 4; b++)
                        word = (word << 8) | (_rxOffset + b < entry.Length ? entry[_rxOffset + b] : 0u);
                    _rxOffset += 4;
                    if (_rxOffset >= entry.Length)
                    {
                        _rx.Dequeue();
                        _rxOffset = 0;
                    }
                    return word;
                case Reg.HostTxFree:
                    return 1u << 20;
                default:
                    return inner.Read(address);
            }
        }

        public void Write(uint address, uint value)
        {
            switch (address)
            {
                case Reg.HostTxData:
                    Span<byte> w = stackalloc byte[4];
                    BinaryPrimitives.WriteUInt32BigEndian(w, value);
                    foreach (byte b in w)
                        _tx.Add(b);
                    break;
                case Reg.HostTxCommit:
                    // The commit rules of the hardware are the run's to apply: it sends the frame through Dataplane.SendHost.
                    if (value >= HostMetadata.Size + 14 && value <= _tx.Count)
                        _sent.Add((_tx[0], _tx.Skip(HostMetadata.Size).Take((int)value - HostMetadata.Size).ToArray()));
                    _tx.Clear();
                    break;
                default:
                    inner.Write(address, value);
                    break;
            }
        }

        public void Batch(ReadOnlySpan<CsrOp> ops, Span<uint> results)
        {
            // Runs of ordinary registers stay one batch on the model; host-queue registers are answered here.
            int i = 0;
            while (i < ops.Length)
            {
                int j = i;
                while (j < ops.Length && !IsHostQueue(ops[j].Address))
                    j++;
                if (j > i)
                {
                    inner.Batch(ops[i..j], results.IsEmpty ? default : results[i..j]);
                    i = j;
                    continue;
                }
                uint v = ops[i].Kind == CsrOpKind.Read ? Read(ops[i].Address) : Op(ops[i]);
                if (!results.IsEmpty)
                    results[i] = v;
                i++;
            }
        }

        public void Dispose()
        {
        }

        private uint Op(CsrOp op)
        {
            Write(op.Address, op.Value);
            return 0;
        }

        private static bool IsHostQueue(uint address) => address is Reg.HostRxLen or Reg.HostRxData or Reg.HostTxData or Reg.HostTxCommit or Reg.HostTxFree;
    }
}
