using System.Buffers.Binary;
using Offload.Device;
using Offload.Group;
using Offload.Protocol;
using Offload.Protocol.Glbp;

namespace Offload.Gateway.Cosim.Tests;

/// <summary>
/// The GLBP group driving real data planes: three gateways, each a Verilator model, on one simulated segment.
/// gw1 (priority 200) becomes the Active AVG, gw2 (150) the Standby, gw3 (100) a plain member; forwarders are
/// numbered in the order the AVG heard them (gw1 → 1, gw2 → 2, gw3 → 3).
/// </summary>
[Category("Model")]
public class GatewayCosimTests
{
    private SegmentRig _rig = null!;

    [TearDown]
    public void TearDown() => _rig?.Dispose();

    private List<SegmentRig.Gw> Converge(GlbpLoadBalancing balancing = GlbpLoadBalancing.RoundRobin, TimeSpan? meter = null)
    {
        _rig = new SegmentRig { Balancing = balancing, MeterInterval = meter };
        var gws = new List<SegmentRig.Gw> { _rig.Add(1, 200) };
        _rig.RunSeconds(8);
        gws.Add(_rig.Add(2, 150));
        _rig.RunSeconds(2);
        gws.Add(_rig.Add(3, 100));
        _rig.RunSeconds(10);
        return gws;
    }

    private static int ForwarderOf(MacAddress vmac) => (int)(vmac.Value & 0xFF);

    /// <summary>Checks a reply is the hardware's ARP reply for the VIP to host <paramref name="host"/>; returns its sender MAC.</summary>
    private static MacAddress CheckArpReply(byte[] reply, int host)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(MacAddress.FromBytes(reply), Is.EqualTo(SegmentRig.HostMac(host)), "to the requester");
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(12)), Is.EqualTo(EtherType.Arp));
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(20)), Is.EqualTo(ArpPacket.OperationReply));
            Assert.That(MacAddress.FromBytes(reply.AsSpan(22)), Is.EqualTo(MacAddress.FromBytes(reply.AsSpan(6))), "SHA = Ethernet source");
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(28)), Is.EqualTo(SegmentRig.VirtualIp), "SPA = VIP");
        }
        return MacAddress.FromBytes(reply.AsSpan(22));
    }

    /// <summary>Hosts first .. first+count-1 ARP for the VIP one after another; every reply must come from <paramref name="answerer"/>.</summary>
    private List<MacAddress> Resolve(SegmentRig.Gw answerer, int first, int count)
    {
        var got = new List<MacAddress>();
        for (int h = first; h < first + count; h++)
        {
            var outs = _rig.FromHost(SegmentRig.ArpRequest(h));
            Assert.That(outs.Select(o => o.From), Is.EqualTo(new[] { answerer }), $"host {h}: only the Active AVG's model answers");
            got.Add(CheckArpReply(outs[0].Frame, h));
        }
        _rig.Settle();
        return got;
    }

    [Test]
    public void The_group_converges_over_hellos_that_pass_through_the_models()
    {
        var gws = Converge();
        Assert.That(gws.Select(g => g.Group.State), Is.EqualTo(new[] { GatewayState.Active, GatewayState.Standby, GatewayState.Listen }));
        foreach (var g in gws)
        {
            Assert.That(g.Group.Snapshot().Forwarders.Select(f => f.Number), Is.EqualTo(new byte[] { 1, 2, 3 }), $"{g} learned the table");
            Assert.That(g.OwnForwarder, Is.EqualTo((byte)g.N), $"{g} owns the forwarder assigned in join order");
            Assert.That(g.Plane.VmacsOf(SegmentRig.GroupNumber), Is.EqualTo(new[] { g.OwnVmac }), $"{g}'s filter holds its own vMAC");
        }

        // Every hello on the segment left a model's port 0 as the multicast frame Cisco sends, from that gateway.
        var hellos = _rig.Segment.Where(s => GlbpFrame.TryGetMessage(s.Frame, out _, out _)).ToList();
        foreach (var g in gws)
        {
            var mine = hellos.Where(h => h.From == g).Select(h => h.Frame).ToList();
            Assert.That(mine, Has.Count.GreaterThan(5), $"{g} sent hellos through its host TX queue");
            Assert.That(g.Dataplane.ReadCounters().HostTxFrames, Is.EqualTo((ulong)mine.Count), $"{g}: every host TX frame reached the segment");
            Assert.That(g.Transport.Dropped, Is.Zero);
            foreach (byte[] f in mine)
            {
                Assert.That(MacAddress.FromBytes(f), Is.EqualTo(new MacAddress(GlbpProtocol.MulticastMac)));
                // From the gateway's own MAC while it forwards nothing, else from a vMAC it forwards, as Cisco sends.
                var source = MacAddress.FromBytes(f.AsSpan(6));
                Assert.That(source == SegmentRig.PortMac(g.N) || GlbpVirtualMac.TryParse(source.Value, out _, out _), Is.True, $"{g}: hello from {source}");
                Assert.That(f[22], Is.EqualTo(GlbpProtocol.Ttl), "TTL 255");
                Assert.That(GlbpFrame.TryGetMessage(f, out uint src, out var message), Is.True);
                Assert.That(src, Is.EqualTo(SegmentRig.Ip(g.N)));
                Assert.That(BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(34)), Is.EqualTo(GlbpProtocol.Port), "UDP source port");
                Assert.That(GlbpPacket.TryDecode(message, out var p).IsOk, Is.True);
                Assert.That(p.Header.OwnerMac, Is.EqualTo(SegmentRig.PortMac(g.N).Value));
            }
            // ... and arrived at the others through their host RX queues, as BCAST punts.
            Assert.That(g.Host.GlbpDelivered, Is.GreaterThan(5), $"{g} got GLBP from its host queue");
            Assert.That(g.Host.GlbpMalformed, Is.Zero);
            Assert.That(g.Port0.Punt, Is.GreaterThanOrEqualTo((ulong)g.Host.GlbpDelivered));
        }
    }

    [Test]
    public void A_hosts_ARP_request_gets_the_vMAC_the_group_chose_from_the_Active_AVGs_hardware_round_robin()
    {
        var gws = Converge();
        var responder = gws[0].Plane.ResponderOf(SegmentRig.GroupNumber);
        Assert.That(responder, Is.Not.Null, "the Active AVG enabled its responder");
        Assert.That(responder!.Mode, Is.EqualTo(ArpMode.RoundRobin));
        var equal = new byte[SlotTableBuilder.SlotCount];
        SlotTableBuilder.BuildEqual([1, 2, 3], equal);
        Assert.That(responder.Slots, Is.EqualTo(equal), "the group's round-robin table over the three forwarders, as written");
        Assert.That(gws[1].Plane.ResponderOf(SegmentRig.GroupNumber), Is.Null, "the Standby's responder is off");
        Assert.That(gws[2].Plane.ResponderOf(SegmentRig.GroupNumber), Is.Null);
        ulong repliesBefore = gws[0].Port0.ArpReplies;

        var got = Resolve(gws[0], 1, 7);

        // The pointer restarts at slot 0 on every CFG write, so the replies walk the slot table the group wrote.
        Assert.That(gws[0].Plane.ResponderOf(SegmentRig.GroupNumber)!.Writes, Is.EqualTo(responder.Writes), "no rewrite meanwhile");
        var expected = responder.Slots.Take(7).Select(s => MacAddress.Glbp(SegmentRig.GroupNumber, s)).ToList();
        Assert.That(got, Is.EqualTo(expected));
        Assert.That(got.Take(3).Select(ForwarderOf), Is.EquivalentTo(new[] { 1, 2, 3 }), "three hosts in a row spread over the three forwarders");
        Assert.That(gws[0].Port0.ArpReplies - repliesBefore, Is.EqualTo(7UL));
        foreach (var g in gws.Skip(1))
        {
            Assert.That(g.Port0.ArpReplies, Is.Zero, $"{g} never answers");
            Assert.That(g.Other.Count(o => o.Meta.Reason == HostReason.Arp), Is.EqualTo(7), $"{g} punts the requests it does not answer");
        }
        Assert.That(gws[0].Dataplane.ReadArpCounter(0, 1) + gws[0].Dataplane.ReadArpCounter(0, 2) + gws[0].Dataplane.ReadArpCounter(0, 3),
            Is.EqualTo(7u), "per-forwarder reply counters of the group's table entry");
    }

    [Test]
    public void Host_dependent_ARP_gives_each_host_the_vMAC_its_MAC_hashes_to_every_time()
    {
        var gws = Converge(GlbpLoadBalancing.HostDependent);
        var responder = gws[0].Plane.ResponderOf(SegmentRig.GroupNumber)!;
        Assert.That(responder.Mode, Is.EqualTo(ArpMode.HostDependent));
        var first = Resolve(gws[0], 1, 12);
        var again = Resolve(gws[0], 1, 12);
        Assert.That(again, Is.EqualTo(first), "same host, same vMAC");
        for (int h = 1; h <= 12; h++)
        {
            byte slot = responder.Slots[(int)(FlowHash.CrcA(SegmentRig.HostMac(h)) % (uint)responder.Slots.Length)];
            Assert.That(first[h - 1], Is.EqualTo(MacAddress.Glbp(SegmentRig.GroupNumber, slot)), $"host {h}");
        }
        Assert.That(first.Distinct().Count(), Is.GreaterThan(1), "twelve hosts do not all hash to one forwarder");
    }

    [Test]
    public void A_frame_to_a_members_vMAC_is_taken_by_that_member_and_dropped_by_the_others()
    {
        var gws = Converge();
        var before = gws.Select(g => g.Port0).ToList();
        var outs = _rig.FromHost(SegmentRig.ToGateway(gws[1].OwnVmac, 1));
        Assert.That(outs, Is.Empty);
        _rig.Settle();
        var after = gws.Select(g => g.Port0).ToList();

        Assert.That(after[1].FlowMiss - before[1].FlowMiss, Is.EqualTo(1UL), "gw2 looked it up");
        Assert.That(gws[1].Other.Select(o => o.Meta.Reason), Is.EqualTo(new[] { HostReason.Miss }), "and punted the miss to its host loop");
        Assert.That(MacAddress.FromBytes(gws[1].Other[0].Frame), Is.EqualTo(gws[1].OwnVmac));
        foreach (int i in new[] { 0, 2 })
        {
            Assert.That(after[i].DropNotForUs - before[i].DropNotForUs, Is.EqualTo(1UL), $"{gws[i]} drops it as not for us");
            Assert.That(after[i].FlowMiss, Is.EqualTo(before[i].FlowMiss));
        }
    }

    [Test]
    public void When_the_Active_AVG_crashes_the_Standbys_model_answers_with_the_same_vMAC_set_within_hold_plus_one_hello()
    {
        var gws = Converge();
        var set = Resolve(gws[0], 1, 6).ToHashSet();
        Assert.That(set, Has.Count.EqualTo(3));

        _rig.Crash(gws[0]);
        _rig.Run(SegmentRig.Hold + SegmentRig.Hello);

        Assert.That(gws[1].Group.State, Is.EqualTo(GatewayState.Active));
        Assert.That(gws[1].Plane.ResponderOf(SegmentRig.GroupNumber), Is.Not.Null);
        Assert.That(gws[2].Plane.ResponderOf(SegmentRig.GroupNumber), Is.Null);
        var after = Resolve(gws[1], 20, 6);
        Assert.That(after.ToHashSet(), Is.EquivalentTo(set), "the crashed gateway's vMAC is still handed out (taken over, before redirect)");
        Assert.That(_rig.Live.Count(g => g.Plane.VmacsOf(SegmentRig.GroupNumber).Contains(MacAddress.Glbp(SegmentRig.GroupNumber, 1))),
            Is.EqualTo(1), "and exactly one survivor forwards it");
    }

    [Test]
    public void A_crashed_members_vMAC_moves_into_a_survivors_filter_and_its_frames_are_accepted_there()
    {
        var gws = Converge();
        MacAddress vmac3 = gws[2].OwnVmac;
        _rig.Crash(gws[2]);
        _rig.Run(SegmentRig.Hold + SegmentRig.Hello);

        var holders = _rig.Live.Where(g => g.Plane.VmacsOf(SegmentRig.GroupNumber).Contains(vmac3)).ToList();
        Assert.That(holders, Has.Count.EqualTo(1), "one survivor took the vMAC over");
        var before = _rig.Live.Select(g => g.Port0).ToList();
        _rig.FromHost(SegmentRig.ToGateway(vmac3, 5));
        _rig.Settle();
        var live = _rig.Live.ToList();
        for (int i = 0; i < live.Count; i++)
        {
            var now = live[i].Port0;
            if (live[i] == holders[0])
            {
                Assert.That(now.FlowMiss - before[i].FlowMiss, Is.EqualTo(1UL), $"{live[i]} accepts it");
                Assert.That(live[i].Other.Last().Meta.Reason, Is.EqualTo(HostReason.Miss));
            }
            else
            {
                Assert.That(now.DropNotForUs - before[i].DropNotForUs, Is.EqualTo(1UL), $"{live[i]} does not");
            }
        }
    }

    [Test]
    public void Load_based_slot_tables_move_slots_away_from_the_forwarder_whose_counters_show_traffic()
    {
        var gws = Converge(GlbpLoadBalancing.LoadBased, meter: TimeSpan.FromSeconds(1));
        var idle = gws[0].Plane.ResponderOf(SegmentRig.GroupNumber)!.Slots;
        int[] idleCounts = [.. Enumerable.Range(1, 3).Select(f => idle.Count(s => s == f))];
        Assert.That(idleCounts.Max() - idleCounts.Min(), Is.LessThanOrEqualTo(1), "idle group: equal shares");

        // Hosts send through each gateway's vMAC: 50 frames a second to gw1 and gw3, 200 to gw2. They miss the
        // (empty) flow table, which is what the meters count, with hits, on port 0.
        int[] perSecond = [50, 200, 50];
        for (int second = 0; second < 6; second++)
        {
            for (int i = 0; i < 3; i++)
            {
                for (int k = 0; k < perSecond[i]; k++)
                    gws[i].Model.PushFrame(0, SegmentRig.ToGateway(gws[i].OwnVmac, 1 + i, (ushort)(1000 + k)));
                _rig.Settle();
            }
            _rig.RunSeconds(1);
        }

        foreach (var g in gws)
            Assert.That(g.Meter!.PacketsPerSecond, Is.EqualTo(perSecond[g.N - 1]).Within(1e-9), $"{g}'s meter reads its counters");
        Assert.That(gws[0].Group.TryGetForwarderLoad(2, out var load2), Is.True, "the AVG got gw2's load TLV");
        Assert.That(load2.PacketsPerSecond, Is.EqualTo(200));
        var carried = _rig.Segment.Where(s => s.From == gws[1] && GlbpFrame.TryGetMessage(s.Frame, out _, out _)).Select(s => s.Frame).Last();
        GlbpFrame.TryGetMessage(carried, out _, out var message);
        GlbpPacket.TryDecode(message, out var hello);
        var loads = new List<GlbpOffloadLoad>();
        foreach (var l in hello.OffloadLoads)
            loads.Add(l);
        Assert.That(loads, Is.EqualTo(new[] { new GlbpOffloadLoad(2, 200, 0) }), "gw2's hello on the segment carries its load");

        var slots = gws[0].Plane.ResponderOf(SegmentRig.GroupNumber)!.Slots;
        int[] counts = [.. Enumerable.Range(1, 3).Select(f => slots.Count(s => s == f))];
        Assert.That(counts[1], Is.LessThan(idleCounts[1] / 2), "the loaded forwarder lost most of its slots");
        Assert.That(counts[0], Is.GreaterThan(idleCounts[0]));
        Assert.That(counts[2], Is.GreaterThan(idleCounts[2]));
        Assert.That(counts[1] * 3, Is.LessThan(counts[0]), "a quarter of the others' load earns them several times the slots");

        // The hardware answers from the new table.
        var got = Resolve(gws[0], 30, 8);
        Assert.That(got, Is.EqualTo(slots.Take(8).Select(s => MacAddress.Glbp(SegmentRig.GroupNumber, s))));
    }
}
