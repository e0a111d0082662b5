using Offload.Protocol.Glbp;

namespace Offload.Group.Tests;

/// <summary>AVF assignment, takeover, redirect and timeout, weighting; Cisco defaults unless stated.</summary>
public class ForwarderTests
{
    private Lab _lab = null!;

    [SetUp]
    public void SetUp() => _lab = new Lab();

    [TearDown]
    public void TearDown() => _lab.Dispose();

    private static GlbpForwarderInfo Fwd(Lab.Node node, byte number) => node.Group.Snapshot().Forwarders.Single(f => f.Number == number);

    /// <summary>gw1 becomes the AVG alone, then the others join one by one.</summary>
    private List<Lab.Node> Converged(int count, Func<GlbpGroupOptions, GlbpGroupOptions>? configure = null)
    {
        var nodes = new List<Lab.Node> { _lab.Add(1, o => (configure?.Invoke(o) ?? o) with { Priority = 200 }) };
        _lab.RunSeconds(25);
        for (int h = 2; h <= count; h++)
        {
            nodes.Add(_lab.Add(h, configure));
            _lab.RunSeconds(5);
        }
        _lab.RunSeconds(30);
        return nodes;
    }

    [Test]
    public void The_snapshot_shows_the_weighting_of_whoever_forwards_each_forwarder()
    {
        var nodes = Converged(3);
        nodes[1].Group.SetWeighting(60);
        nodes[2].Group.SetWeighting(80);
        _lab.RunSeconds(10);
        var seen = nodes[0].Group.Snapshot().Forwarders.ToDictionary(f => f.OwnerMac, f => f.Weighting);
        Assert.That(seen, Is.EqualTo(new Dictionary<ulong, byte> { [Lab.Mac(1)] = 100, [Lab.Mac(2)] = 60, [Lab.Mac(3)] = 80 }));

        // gw3 goes: gw1 or gw2 holds its forwarder now, and the table shows the holder's weighting.
        _lab.Crash(nodes[2]);
        _lab.RunSeconds(15);
        var taken = nodes[0].Group.Snapshot().Forwarders.Single(f => f.OwnerMac == Lab.Mac(3));
        Assert.That(taken.Weighting, Is.EqualTo(taken.State == ForwarderState.Active ? 100 : 60));
    }

    [Test]
    public void The_AVG_assigns_forwarders_in_the_order_it_hears_members_and_stops_at_four()
    {
        var nodes = Converged(5);
        var table = nodes[0].Group.Snapshot().Forwarders;
        Assert.That(table.Select(f => f.Number), Is.EqualTo(new byte[] { 1, 2, 3, 4 }));
        Assert.That(table.Select(f => f.OwnerMac), Is.EqualTo(new[] { Lab.Mac(1), Lab.Mac(2), Lab.Mac(3), Lab.Mac(4) }));
        Assert.That(table.Select(f => f.Vmac), Is.EqualTo(new ulong[] { 0x0007_B400_0101, 0x0007_B400_0102, 0x0007_B400_0103, 0x0007_B400_0104 }));
        for (int i = 0; i < 4; i++)
            Assert.That(nodes[i].Plane.Vmacs, Is.EqualTo(new[] { table[i].Vmac }), $"gw{i + 1} forwards its own vMAC");
        Assert.That(nodes[4].Plane.Vmacs, Is.Empty, "the fifth member is only a secondary");
        foreach (var n in nodes)
            Assert.That(n.Group.Snapshot().Forwarders.Select(f => f.OwnerMac), Is.EqualTo(table.Select(f => f.OwnerMac)), $"{n} learned the table");
        _lab.AssertEveryVmacForwardedOnce();
    }

    [Test]
    public void More_than_four_forwarders_when_configured()
    {
        var nodes = Converged(6, o => o with { MaxForwarders = 255 });
        Assert.That(nodes[0].Group.Snapshot().Forwarders, Has.Count.EqualTo(6));
        _lab.AssertEveryVmacForwardedOnce();
    }

    [Test]
    public void Only_the_Active_AVG_answers_ARP_and_its_slots_cover_every_forwarder()
    {
        var nodes = Converged(3);
        Assert.That(nodes.Select(n => n.Plane.ArpEnabled), Is.EqualTo(new[] { true, false, false }));
        Assert.That(nodes[0].Plane.Slots[..6], Is.EqualTo(new byte[] { 1, 2, 3, 1, 2, 3 }));
        Assert.That(nodes[0].Plane.Mode, Is.EqualTo(GlbpLoadBalancing.RoundRobin));
    }

    [Test]
    public void A_failed_forwarder_is_taken_over_after_hold_by_the_secondary_with_the_highest_weighting()
    {
        var nodes = Converged(4);
        nodes[2].Group.SetWeighting(120);
        _lab.RunSeconds(5);
        ulong vmac2 = nodes[1].OwnVmac;
        int writesBefore = nodes[2].Plane.VmacWrites;
        _lab.Crash(nodes[1]);
        _lab.RunSeconds(6.9);
        Assert.That(_lab.Live.Count(n => n.Plane.Vmacs.Contains(vmac2)), Is.Zero, "not before the hold time");
        _lab.RunSeconds(3.2);
        Assert.That(nodes[2].Plane.Vmacs, Is.EquivalentTo(new[] { nodes[2].OwnVmac, vmac2 }), "gw3 has the highest weighting");
        Assert.That(nodes[2].Plane.VmacWrites, Is.EqualTo(writesBefore + 1));
        _lab.RunSeconds(30);
        _lab.AssertEveryVmacForwardedOnce();
        Assert.That(nodes[0].Plane.Slots, Does.Contain((byte)2), "still handed out before the redirect time");
    }

    [Test]
    public void Equal_weightings_pick_the_highest_address()
    {
        var nodes = Converged(4);
        ulong vmac1 = nodes[0].OwnVmac;
        _lab.Crash(nodes[0]); // the AVG itself
        _lab.RunSeconds(15);
        Assert.That(nodes[3].Plane.Vmacs, Does.Contain(vmac1));
        Assert.That(_lab.ActiveNode(), Is.SameAs(nodes[3]).Or.SameAs(nodes[2]));
        _lab.AssertEveryVmacForwardedOnce();
        Assert.That(_lab.ActiveNode().Group.Snapshot().Forwarders.Select(f => f.Number), Is.EqualTo(new byte[] { 1, 2, 3, 4 }), "no renumbering on AVG failover");
    }

    [Test]
    public void After_redirect_the_AVG_stops_handing_out_the_vMAC_and_after_timeout_it_is_removed_and_reassigned()
    {
        var nodes = Converged(3);
        ulong vmac3 = nodes[2].OwnVmac;
        _lab.Crash(nodes[2]);
        _lab.RunSeconds(20);
        Assert.That(_lab.Live.Count(n => n.Plane.Vmacs.Contains(vmac3)), Is.EqualTo(1));
        Assert.That(nodes[0].Plane.Slots, Does.Contain((byte)3));

        _lab.RunSeconds(591); // the owner is lost at most a hold time after the crash: redirect by crash + 610 s
        Assert.That(Fwd(nodes[0], 3).Redirected, Is.True);
        Assert.That(nodes[0].Plane.Slots, Does.Not.Contain((byte)3), "redirect expired: no new hosts get it");
        Assert.That(nodes[0].Plane.Slots[..4], Is.EqualTo(new byte[] { 1, 2, 1, 2 }));
        Assert.That(_lab.Live.Count(n => n.Plane.Vmacs.Contains(vmac3)), Is.EqualTo(1), "hosts that have it are still served");
        Assert.That(_lab.Events.OfType<ForwarderNotice>().Any(e => e.Kind == ForwarderNoticeKind.Redirected && e.Forwarder == 3), Is.True);

        _lab.RunSeconds(13800); // timeout by crash + 14410 s
        Assert.That(_lab.Live.Count(n => n.Plane.Vmacs.Contains(vmac3)), Is.Zero, "timeout: the vMAC is gone");
        foreach (var n in _lab.Live)
            Assert.That(n.Group.Snapshot().Forwarders.Select(f => f.Number), Is.EqualTo(new byte[] { 1, 2 }), $"{n}");

        var newcomer = _lab.Add(4);
        _lab.RunSeconds(15);
        Assert.That(Fwd(nodes[0], 3).OwnerMac, Is.EqualTo(Lab.Mac(4)), "the freed number goes to the next member");
        Assert.That(newcomer.Plane.Vmacs, Is.EqualTo(new[] { vmac3 }));
        _lab.AssertEveryVmacForwardedOnce();
    }

    [Test]
    public void A_returning_owner_reclaims_its_vMAC_after_the_forwarder_preempt_delay()
    {
        var nodes = Converged(3);
        ulong vmac2 = nodes[1].OwnVmac;
        _lab.Crash(nodes[1]);
        _lab.RunSeconds(30);
        var back = _lab.Restart(nodes[1]);
        _lab.RunSeconds(2);
        Assert.That(back.Plane.Vmacs, Is.Empty, "the secondary keeps it during the preempt delay");
        Assert.That(_lab.Live.Count(n => n.Plane.Vmacs.Contains(vmac2)), Is.EqualTo(1));
        _lab.RunSeconds(25);
        Assert.That(back.Plane.Vmacs, Is.Empty, "the 30 s delay runs from when it heard the holder");
        _lab.RunSeconds(10);
        Assert.That(back.Plane.Vmacs, Is.EqualTo(new[] { vmac2 }));
        _lab.AssertEveryVmacForwardedOnce();
        Assert.That(Fwd(nodes[0], 2).Redirected, Is.False);
    }

    [Test]
    public void Without_forwarder_preemption_the_secondary_keeps_the_vMAC()
    {
        var nodes = Converged(2, o => o with { ForwarderPreempt = false });
        ulong vmac2 = nodes[1].OwnVmac;
        _lab.Crash(nodes[1]);
        _lab.RunSeconds(30);
        var back = _lab.Restart(nodes[1]);
        _lab.RunSeconds(120);
        Assert.That(back.Plane.Vmacs, Is.Empty);
        Assert.That(nodes[0].Plane.Vmacs, Does.Contain(vmac2));
    }

    [Test]
    public void Weighting_below_the_lower_threshold_gives_up_forwarding_until_it_reaches_the_upper_one()
    {
        var nodes = Converged(3, o => o with { LowerThreshold = 60, UpperThreshold = 90 });
        var gw2 = nodes[1];
        ulong vmac2 = gw2.OwnVmac;
        gw2.Group.Track(10, 30);
        gw2.Group.Track(11, 30);
        gw2.Group.SetTrackedObject(10, up: false);
        _lab.RunSeconds(1);
        Assert.That(gw2.Group.Snapshot().Weighting, Is.EqualTo(70));
        Assert.That(gw2.Plane.Vmacs, Is.EqualTo(new[] { vmac2 }), "70 is above the lower threshold");

        gw2.Group.SetTrackedObject(11, up: false);
        _lab.Deliver();
        Assert.That(gw2.Plane.Vmacs, Is.Empty, "40: gives up at once");
        Assert.That(nodes[2].Plane.Vmacs, Does.Contain(vmac2), "a secondary took it without waiting for the hold time");

        gw2.Group.SetTrackedObject(11, up: true);
        _lab.RunSeconds(60);
        Assert.That(gw2.Plane.Vmacs, Is.Empty, "70 is below the upper threshold: stays off");

        gw2.Group.SetTrackedObject(10, up: true);
        _lab.RunSeconds(29);
        Assert.That(gw2.Plane.Vmacs, Is.Empty, "back at 100, waiting for the forwarder preempt delay");
        _lab.RunSeconds(2);
        Assert.That(gw2.Plane.Vmacs, Is.EqualTo(new[] { vmac2 }));
        _lab.AssertEveryVmacForwardedOnce();
    }

    [Test]
    public void A_tracked_object_down_lowers_the_weighting_the_AVG_uses_for_weighted_slots()
    {
        var nodes = Converged(2, o => o with { LoadBalancing = GlbpLoadBalancing.Weighted });
        Assert.That(nodes[0].Plane.Slots.Count(s => s == 2), Is.EqualTo(128));
        nodes[1].Group.Track(1, 50);
        nodes[1].Group.SetTrackedObject(1, up: false);
        _lab.Deliver();
        Assert.That(nodes[0].Plane.Slots.Count(s => s == 2), Is.EqualTo(85), "weights 100:50");
        Assert.That(nodes[0].Plane.Mode, Is.EqualTo(GlbpLoadBalancing.Weighted));
    }

    [Test]
    public void Load_based_slots_follow_reported_load_and_host_dependent_mode_reaches_the_plane()
    {
        var nodes = Converged(2, o => o with { LoadBalancing = GlbpLoadBalancing.LoadBased });
        nodes[0].Group.SetForwarderLoad(1, 30);
        nodes[0].Group.SetForwarderLoad(2, 10);
        Assert.That(nodes[0].Plane.Slots.Count(s => s == 2), Is.EqualTo(192));
        nodes[0].Group.SetLoadBalancing(GlbpLoadBalancing.HostDependent);
        Assert.That(nodes[0].Plane.Mode, Is.EqualTo(GlbpLoadBalancing.HostDependent));
        Assert.That(nodes[0].Plane.Slots.Count(s => s == 2), Is.EqualTo(128));
    }

    [Test]
    public void Steady_state_writes_nothing_to_the_plane()
    {
        var nodes = Converged(3);
        var writes = nodes.Select(n => (n.Plane.VmacWrites, n.Plane.ArpWrites)).ToList();
        _lab.Run(TimeSpan.FromHours(1));
        Assert.That(nodes.Select(n => (n.Plane.VmacWrites, n.Plane.ArpWrites)), Is.EqualTo(writes));
    }

    private static List<GlbpForwarder> Tlvs(byte[]? message)
    {
        Assert.That(GlbpPacket.TryDecode(message, out GlbpPacket p).IsOk, Is.True);
        var list = new List<GlbpForwarder>();
        foreach (var f in p.Forwarders)
            list.Add(f);
        return list;
    }

    [Test]
    public void A_stand_in_advertises_135_and_counts_the_redirect_and_timeout_down_and_the_owner_returns_with_167()
    {
        var nodes = Converged(2);
        _lab.Crash(nodes[1]);
        _lab.RunSeconds(100);
        GlbpForwarder standIn = Tlvs(nodes[0].LastSent).Single(t => t.Forwarder == 2);
        Assert.That((standIn.State, standIn.Role), Is.EqualTo((GlbpVfState.Active, GlbpForwarderRole.Secondary)));
        Assert.That(GlbpOwnership.IsStandIn(standIn), Is.True);
        // Lost a hold time (10 s) after the crash, so 90 s ago, give or take the last hello (3 s).
        Assert.That(standIn.RedirectRemaining, Is.InRange(510, 514));
        Assert.That(standIn.TimeoutRemaining, Is.EqualTo(standIn.RedirectRemaining + 13800));

        var back = _lab.Restart(nodes[1]);
        _lab.RunSeconds(45);
        var reclaimed = Tlvs(back.LastSent).Single(t => t.Forwarder == 2);
        Assert.That((reclaimed.State, reclaimed.Role, reclaimed.TimeoutRemaining, reclaimed.RedirectRemaining),
            Is.EqualTo((GlbpVfState.Active, GlbpForwarderRole.Primary, (ushort)14400, (ushort)600)), "the restarted owner learned its number from the AVG's record");
        var released = Tlvs(nodes[0].LastSent).Single(t => t.Forwarder == 2);
        Assert.That((released.State, released.Role, released.TimeoutRemaining), Is.EqualTo((GlbpVfState.Listen, GlbpForwarderRole.Secondary, (ushort)14400)));
        _lab.AssertEveryVmacForwardedOnce();
    }

    [Test]
    public void A_member_that_joins_while_a_stand_in_counts_down_retires_the_vMAC_with_the_others()
    {
        var nodes = Converged(3);
        ulong vmac3 = nodes[2].OwnVmac;
        _lab.Crash(nodes[2]);
        _lab.RunSeconds(14000);
        var late = _lab.Add(4);
        _lab.RunSeconds(60);
        Assert.That(late.Group.Snapshot().Forwarders.Select(f => f.Number), Does.Contain((byte)3), "it learned the forwarder from the stand-in");
        _lab.RunSeconds(400); // crash + 14460 s: past every member's time-out, including the late one's had it counted alone
        foreach (var n in _lab.Live)
            Assert.That(n.Group.Snapshot().Forwarders.Any(f => f.Vmac == vmac3 && f.OwnerMac == Lab.Mac(3)), Is.False, $"{n} retired it");
    }

    [Test]
    public void Members_that_start_together_pick_different_numbers_by_MAC_rank()
    {
        var a = _lab.Add(1, start: false);
        var b = _lab.Add(2, start: false);
        a.Group.Start();
        b.Group.Start();
        _lab.RunSeconds(60);
        Assert.That(a.Group.Snapshot().Forwarders.Select(f => (f.Number, f.OwnerMac)), Is.EqualTo(new[] { ((byte)1, Lab.Mac(1)), ((byte)2, Lab.Mac(2)) }));
        Assert.That(_lab.Events.OfType<ForwarderStateChanged>().Count(e => e.To == ForwarderState.Active), Is.EqualTo(2), "no claim had to be given up");
        _lab.AssertEveryVmacForwardedOnce();
    }

    [Test]
    public void Two_members_claiming_one_number_settle_it_by_MAC()
    {
        // Cut off from each other for their first hold time, both take forwarder 1; when they meet, the higher MAC
        // keeps it and the other picks again.
        _lab.Link = (_, _) => false;
        var a = _lab.Add(1);
        var b = _lab.Add(2);
        _lab.RunSeconds(15);
        Assert.That((a.Plane.Vmacs.Single(), b.Plane.Vmacs.Single()), Is.EqualTo((0x0007_B400_0101ul, 0x0007_B400_0101ul)));
        _lab.Link = (_, _) => true;
        _lab.RunSeconds(60);
        var table = a.Group.Snapshot().Forwarders;
        Assert.That(table.Select(f => (f.Number, f.OwnerMac)), Is.EqualTo(new[] { ((byte)1, Lab.Mac(2)), ((byte)2, Lab.Mac(1)) }));
        Assert.That(b.Group.Snapshot().Forwarders.Select(f => (f.Number, f.OwnerMac)), Is.EqualTo(table.Select(f => (f.Number, f.OwnerMac))));
        _lab.AssertEveryVmacForwardedOnce();
    }

    [Test]
    public void Request_Response_messages_without_a_Hello_are_applied_from_a_member_already_heard()
    {
        var nodes = Converged(2);
        var buffer = new byte[200];
        var w = new GlbpWriter(buffer, new GlbpHeader(Lab.GroupNumber, Lab.Mac(2)));
        w.WriteForwarder(new GlbpForwarder(2, GlbpVfState.Listen, 167, 100, GlbpVirtualMac.Create(Lab.GroupNumber, 2)) { TimeoutRemaining = 14400, RedirectRemaining = 600 });
        Assert.That(nodes[0].Group.Receive(w.Written, Lab.Ip(9)), Is.EqualTo(GlbpReceiveResult.NoHello), "a stranger's needs a Hello first");
        Assert.That(nodes[0].Group.Receive(w.Written, Lab.Ip(2)), Is.EqualTo(GlbpReceiveResult.Accepted));
        Assert.That(Fwd(nodes[0], 2).State, Is.EqualTo(ForwarderState.Listen), "gw1 did not take it: the owner is alive");
    }
}
