using Offload.Protocol.Glbp;

namespace Offload.Group.Tests;

/// <summary>Load-based ARP: members carry their load in Offload's load TLV, the Active AVG builds its slots from it.</summary>
public class LoadTlvTests
{
    private Lab _lab = null!;

    [SetUp]
    public void SetUp() => _lab = new Lab();

    [TearDown]
    public void TearDown() => _lab.Dispose();

    private static GlbpGroupOptions LoadBased(GlbpGroupOptions o) => o with { LoadBalancing = GlbpLoadBalancing.LoadBased };

    /// <summary>gw1 becomes the AVG alone, then the others join one by one (forwarder n belongs to gw n).</summary>
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

    private static List<GlbpOffloadLoad> LoadsIn(byte[]? message)
    {
        Assert.That(message, Is.Not.Null);
        Assert.That(GlbpPacket.TryDecode(message, out GlbpPacket p).IsOk, Is.True);
        var loads = new List<GlbpOffloadLoad>();
        foreach (GlbpOffloadLoad l in p.OffloadLoads)
            loads.Add(l);
        return loads;
    }

    private static int[] Shares(byte[] slots, int forwarders) => [.. Enumerable.Range(1, forwarders).Select(f => slots.Count(s => s == f))];

    [Test]
    public void A_load_based_member_carries_its_measured_load_in_its_hellos()
    {
        var nodes = Converged(3, LoadBased);
        Assert.That(LoadsIn(nodes[1].LastSent), Is.Empty, "nothing before the first measurement");
        nodes[1].Group.SetLocalLoad(300.4, 40);
        _lab.RunSeconds(3.5);
        Assert.That(LoadsIn(nodes[1].LastSent), Is.EqualTo(new[] { new GlbpOffloadLoad(2, 300, 40) }));
    }

    [Test]
    public void Other_balancing_modes_send_no_load_tlv()
    {
        var nodes = Converged(2);
        nodes[1].Group.SetLocalLoad(300, 40);
        _lab.RunSeconds(3.5);
        Assert.That(LoadsIn(nodes[1].LastSent), Is.Empty);
        nodes[1].Group.SetLoadBalancing(GlbpLoadBalancing.LoadBased);
        _lab.RunSeconds(3.5);
        Assert.That(LoadsIn(nodes[1].LastSent), Has.Count.EqualTo(1));
    }

    [Test]
    public void The_Active_AVG_builds_its_slot_table_from_the_loads_members_report()
    {
        var nodes = Converged(3, LoadBased);
        int[] equal = Shares(nodes[0].Plane.Slots, 3);
        Assert.That(equal.Max() - equal.Min(), Is.LessThanOrEqualTo(1), "no load known: equal shares");

        nodes[0].Group.SetLocalLoad(100, 0);
        nodes[1].Group.SetLocalLoad(300, 0);
        nodes[2].Group.SetLocalLoad(100, 0);
        _lab.RunSeconds(3.5);

        Assert.That(nodes[0].Group.TryGetForwarderLoad(2, out var load), Is.True);
        Assert.That(load, Is.EqualTo(new GlbpForwarderLoad(300, 0)));
        var expected = new byte[SlotTableBuilder.SlotCount];
        SlotTableBuilder.BuildLoadBased([1, 2, 3], [100, 100, 100], [100 / 500.0, 300 / 500.0, 100 / 500.0], expected);
        Assert.That(nodes[0].Plane.Slots, Is.EqualTo(expected));
        int[] shares = Shares(nodes[0].Plane.Slots, 3);
        Assert.That(shares[1] * 2, Is.LessThan(shares[0]), "three times the load, a third of the slots");
        Assert.That(nodes[1].Plane.ArpEnabled, Is.False, "members only report; the AVG answers");
    }

    [Test]
    public void Flows_count_as_much_as_packets()
    {
        var nodes = Converged(3, LoadBased);
        nodes[0].Group.SetLocalLoad(100, 10);
        nodes[1].Group.SetLocalLoad(100, 10);
        nodes[2].Group.SetLocalLoad(100, 80);
        _lab.RunSeconds(3.5);
        var expected = new byte[SlotTableBuilder.SlotCount];
        SlotTableBuilder.BuildLoadBased([1, 2, 3], [100, 100, 100], [1 / 3.0 + 0.1, 1 / 3.0 + 0.1, 1 / 3.0 + 0.8], expected);
        Assert.That(nodes[0].Plane.Slots, Is.EqualTo(expected));
        int[] shares = Shares(nodes[0].Plane.Slots, 3);
        Assert.That(shares[2], Is.LessThan(shares[0]));
    }

    [Test]
    public void Small_load_changes_stay_inside_the_hysteresis_and_rewrite_nothing()
    {
        var nodes = Converged(3, LoadBased);
        nodes[0].Group.SetLocalLoad(100, 0);
        nodes[1].Group.SetLocalLoad(300, 0);
        nodes[2].Group.SetLocalLoad(100, 0);
        _lab.RunSeconds(3.5);
        int updates = nodes[0].Group.LoadUpdates;
        int writes = nodes[0].Plane.ArpWrites;
        byte[] slots = nodes[0].Plane.Slots;

        foreach (double pps in new[] { 330.0, 280, 360, 300 })
        {
            nodes[1].Group.SetLocalLoad(pps, 0);
            _lab.RunSeconds(3.5);
        }
        Assert.That(nodes[0].Group.LoadUpdates, Is.EqualTo(updates), "within 25% of the load in use");
        Assert.That(nodes[0].Plane.ArpWrites, Is.EqualTo(writes));
        Assert.That(nodes[0].Plane.Slots, Is.EqualTo(slots));

        nodes[1].Group.SetLocalLoad(450, 0);
        _lab.RunSeconds(3.5);
        Assert.That(nodes[0].Group.LoadUpdates, Is.EqualTo(updates + 1));
        Assert.That(nodes[0].Plane.ArpWrites, Is.EqualTo(writes + 1));
        Assert.That(Shares(nodes[0].Plane.Slots, 3)[1], Is.LessThan(Shares(slots, 3)[1]));
    }

    [Test]
    public void A_member_forwarding_two_vMACs_splits_its_load_between_them()
    {
        var nodes = Converged(3, LoadBased);
        _lab.Crash(nodes[2]);
        _lab.RunSeconds(15);
        var held = nodes[1].Group.Snapshot().Forwarders.Where(f => f.State == ForwarderState.Active).Select(f => f.Number).ToList();
        Assert.That(held, Is.EqualTo(new byte[] { 2, 3 }), "gw2 (the higher address) took forwarder 3 over");
        nodes[1].Group.SetLocalLoad(400, 10);
        _lab.RunSeconds(3.5);
        Assert.That(LoadsIn(nodes[1].LastSent), Is.EqualTo(new[] { new GlbpOffloadLoad(2, 200, 5), new GlbpOffloadLoad(3, 200, 5) }));
        Assert.That(nodes[0].Group.TryGetForwarderLoad(3, out var load), Is.True);
        Assert.That(load, Is.EqualTo(new GlbpForwarderLoad(200, 5)));
    }

    [Test]
    public void A_load_for_a_forwarder_the_sender_does_not_hold_is_ignored()
    {
        var nodes = Converged(2, LoadBased);
        nodes[0].Group.SetLocalLoad(50, 0);
        var buffer = new byte[200];
        var w = new GlbpWriter(buffer, new GlbpHeader(Lab.GroupNumber, Lab.Mac(2)));
        w.WriteHello(new GlbpHello(GlbpVgState.Standby, 100, 3000, 10000, 600, 14400, Lab.VirtualIp));
        w.WriteForwarder(new GlbpForwarder(2, GlbpVfState.Active, 167, 100, GlbpVirtualMac.Create(Lab.GroupNumber, 2)));
        w.WriteOffloadLoad(new GlbpOffloadLoad(1, 9999, 9999));
        w.WriteOffloadLoad(new GlbpOffloadLoad(2, 70, 0));
        Assert.That(nodes[0].Group.Receive(w.Written, Lab.Ip(2)), Is.EqualTo(GlbpReceiveResult.Accepted));
        Assert.That(nodes[0].Group.TryGetForwarderLoad(1, out var own), Is.True);
        Assert.That(own, Is.EqualTo(new GlbpForwarderLoad(50, 0)), "forwarder 1 is the AVG's own: gw2 cannot report for it");
        Assert.That(nodes[0].Group.TryGetForwarderLoad(2, out var two), Is.True);
        Assert.That(two, Is.EqualTo(new GlbpForwarderLoad(70, 0)));
    }

    [Test]
    public void A_bad_local_load_is_refused()
    {
        var node = _lab.Add(1);
        Assert.That(() => node.Group.SetLocalLoad(double.NaN, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => node.Group.SetLocalLoad(-1, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => node.Group.SetLocalLoad(double.PositiveInfinity, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => node.Group.SetLocalLoad(1, -1), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
