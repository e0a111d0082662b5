using System.Globalization;
using Offload.Device;
using Offload.Protocol;
using Offload.Protocol.Pcap;
using Offload.Reference;
using Spectre.Console;

namespace Offload.Cli;

/// <summary>
/// The main job for now: one gateway's data plane on the Verilator model. Hosts on the segment ARP for
/// the group's virtual IP and get vMACs spread by weight; they open TCP connections to a service; the
/// first packet of each misses and is punted, a flow pair is installed (NAT to a backend and back), the
/// punted packet is re-sent through the host queue, and every later packet is forwarded by the table
/// alone. Every output is checked against the reference model.
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
    public static readonly (uint Ip, MacAddress Mac)[] Backends =
    [
        (0xC633_6401, MacAddress.Parse("02:00:00:00:01:01")),  // 198.51.100.1
        (0xC633_6402, MacAddress.Parse("02:00:00:00:01:02")),
        (0xC633_6403, MacAddress.Parse("02:00:00:00:01:03")),
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

    public static int Run(int width, int hosts, DirectoryInfo? outDir)
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

        // 2. First packets: misses go to the classifier, which installs a NAT flow pair and re-sends.
        Cli.Rule($"2. Hosts open TCP connections to {Ipv4Address.Format(ServiceIp)}:{ServicePort}");
        var connections = new List<(int Host, FlowKey Forward, FlowKey Reverse, int Backend)>();
        int notOurs = 0;
        for (int h = 0; h < hosts; h++)
        {
            ushort sport = (ushort)(40000 + h);
            var key = new FlowKey(0, HostIp(h), ServiceIp, 6, sport, ServicePort);
            var syn = Tcp(learned[h], HostMac(h), HostIp(h), ServiceIp, sport, ServicePort, TcpFlags.Syn);
            run.Send(0, syn);
            var outs = run.Flush();
            var miss = outs.FirstOrDefault(o => o.IsHost && o.Metadata?.Reason == RegConst.ReasonMiss);
            if (miss is null)
            {
                notOurs++;  // addressed to another gateway's vMAC: this box drops it, that gateway forwards it
                continue;
            }
            // Stand-in for the classifier (a later issue): pick a backend by the key's hash.
            int b = (int)(FlowHash.CrcA(key) % (uint)Backends.Length);
            var (bip, _) = Backends[b];
            int hostNh = 16 + h;
            run.WriteNextHop(hostNh, new NextHop(0, HostMac(h), learned[h]));
            var reverse = new FlowKey(1, bip, HostIp(h), 6, BackendPort, sport);
            run.Install(key, new FlowAction((byte)b, TtlDecrement: true, NatMode.Destination, bip, BackendPort));
            run.Install(reverse, new FlowAction((byte)hostNh, TtlDecrement: true, NatMode.Source, ServiceIp, ServicePort));
            // Re-send the punted first packet, rewritten by the same rules the table now applies.
            var rewriter = new ReferencePipeline(run.Config);
            var rewritten = rewriter.Process(0, miss.Frame).Outputs.First(o => o.Port == 1).Frame;
            run.SendHost(1, rewritten);
            run.Flush();
            connections.Add((h, key, reverse, b));
        }
        AnsiConsole.MarkupLine($"{connections.Count} first packets missed the table and were classified; {notOurs} went to vMACs of other gateways and were dropped here as not ours.");

        // 3. Established traffic: both directions hit in hardware.
        const int dataPackets = 8;
        ulong hitsBefore = run.Dataplane.ReadCounters().Port0.FlowHit + run.Dataplane.ReadCounters().Port1.FlowHit;
        foreach (var (h, fwd, rev, b) in connections)
        {
            for (int k = 0; k < dataPackets; k++)
            {
                bool last = k == dataPackets - 1;
                run.Send(0, Tcp(learned[h], HostMac(h), fwd.SrcIp, fwd.DstIp, fwd.SrcPort, fwd.DstPort,
                    (byte)(TcpFlags.Ack | (last ? TcpFlags.Fin : TcpFlags.Psh)), payload: 100 + (k * 50)));
                run.Send(1, Tcp(Port1Mac, Backends[b].Mac, rev.SrcIp, rev.DstIp, rev.SrcPort, rev.DstPort,
                    (byte)(TcpFlags.Ack | (last ? TcpFlags.Fin : TcpFlags.Psh)), payload: 400));
            }
        }
        run.Flush();
        var counters = run.Dataplane.ReadCounters();
        ulong hits = counters.Port0.FlowHit + counters.Port1.FlowHit - hitsBefore;
        AnsiConsole.MarkupLine($"{connections.Count * dataPackets * 2} packets of established connections: {hits} forwarded by the flow table without the classifier; {counters.Port0.FinRst + counters.Port1.FinRst} FIN events reported to the host.");
        var perBackend = connections.GroupBy(c => c.Backend).OrderBy(x => x.Key).Select(x => $"{Ipv4Address.Format(Backends[x.Key].Ip)}: {x.Count()}");
        AnsiConsole.MarkupLine($"Connections per backend: {string.Join(", ", perBackend)}");
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
}
