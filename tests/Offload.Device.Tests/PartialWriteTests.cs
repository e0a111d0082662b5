using System.Buffers.Binary;

namespace Offload.Device.Tests;

/// <summary>
/// The partial writes a GLBP group needs (one vMAC filter entry or a set, one group table entry with its slots), on
/// the model: each changes only what it names, and the data plane acts on it at once.
/// </summary>
[Category("Model")]
public class PartialWriteTests
{
    private static readonly MacAddress Host = MacAddress.Parse("02:aa:00:00:00:01");
    private const uint Vip = 0x0A00_00FE;
    private static readonly FlowKey Key = new(0, 0x0A00_0001, 0x0A00_0064, 17, 1000, 2000);

    private ModelDevice _dev = null!;
    private Dataplane _dp = null!;
    private DataplaneGeometry _g = null!;

    [SetUp]
    public void SetUp()
    {
        _dev = ModelDevice.Create(64);
        _dp = new Dataplane(_dev);
        _g = _dp.ReadGeometry();
    }

    [TearDown]
    public void TearDown() => _dev?.Dispose();

    /// <summary>Sends one IPv4 frame to each MAC; true where it reached the flow lookup (a miss), false where it was not for us.</summary>
    private bool[] Accepted(params MacAddress[] macs)
    {
        var result = new bool[macs.Length];
        for (int i = 0; i < macs.Length; i++)
        {
            ulong before = _dp.ReadCounters().Port0.FlowMiss;
            ulong dropped = _dp.ReadCounters().Port0.DropNotForUs;
            _dev.Model.PushFrame(0, Packets.Ipv4(macs[i], Host, Key));
            _dev.Model.RunUntilIdle(100_000);
            var c = _dp.ReadCounters().Port0;
            Assert.That((c.FlowMiss - before) + (c.DropNotForUs - dropped), Is.EqualTo(1UL), "each frame is either looked up or dropped");
            result[i] = c.FlowMiss > before;
        }
        return result;
    }

    private List<int> ArpForwarders(int requests)
    {
        for (int i = 0; i < requests; i++)
            _dev.Model.PushFrame(0, ArpRequest(Host, Vip));
        _dev.Model.RunUntilIdle(100_000);
        var forwarders = new List<int>();
        while (_dev.Model.PopFrame(0) is { } reply)
            forwarders.Add(reply[27]);
        return forwarders;
    }

    [Test]
    public void WriteVmac_sets_and_clears_one_entry_and_leaves_the_others()
    {
        var cfg = new DataplaneConfig(_g);
        var kept = MacAddress.Glbp(1, 1);
        cfg.Vmacs[0] = kept;
        _dp.Apply(cfg);
        var added = MacAddress.Glbp(1, 2);

        Assert.That(Accepted(kept, added), Is.EqualTo(new[] { true, false }));
        _dp.WriteVmac(7, added);
        Assert.That(Accepted(kept, added), Is.EqualTo(new[] { true, true }));
        _dp.WriteVmac(7, null);
        Assert.That(Accepted(kept, added), Is.EqualTo(new[] { true, false }));
        Assert.That(_dev.Read(Reg.VmacHi + (7 * Reg.VmacHiStride)), Is.Zero, "a cleared entry is invalid");
    }

    [Test]
    public void WriteVmacs_applies_a_set_in_one_call_and_refuses_an_index_outside_the_table_before_writing_anything()
    {
        var a = MacAddress.Glbp(2, 1);
        var b = MacAddress.Glbp(2, 2);
        var c = MacAddress.Glbp(2, 3);
        _dp.WriteVmacs([(0, a), (1, b)]);
        Assert.That(Accepted(a, b, c), Is.EqualTo(new[] { true, true, false }));

        // A vMAC moving from entry 1 to entry 2 while entry 0 is cleared.
        _dp.WriteVmacs([(0, null), (1, null), (2, b), (3, c)]);
        Assert.That(Accepted(a, b, c), Is.EqualTo(new[] { false, true, true }));

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => _dp.WriteVmacs([(4, a), (_g.Vmacs, a)]));
        Assert.That(e!.Message, Does.Contain($"index {_g.Vmacs}"));
        Assert.That(Accepted(a), Is.EqualTo(new[] { false }), "nothing of the refused batch was written");
    }

    [Test]
    public void WriteGroup_installs_one_group_with_its_slots_and_a_rewrite_restarts_the_pointer()
    {
        var cfg = new DataplaneConfig(_g);
        var other = new byte[_g.Slots];
        other.AsSpan().Fill(9);
        cfg.Groups[0] = new GroupConfig(0x0A00_0099, 5, ArpMode.RoundRobin, false, true, other);
        _dp.Apply(cfg);

        var slots = new byte[_g.Slots];
        for (int i = 0; i < slots.Length; i++)
            slots[i] = (byte)(1 + (i % 3));
        _dp.WriteGroup(3, new GroupConfig(Vip, 7, ArpMode.RoundRobin, false, true, slots));
        Assert.That(ArpForwarders(4), Is.EqualTo(new[] { 1, 2, 3, 1 }));

        slots.AsSpan().Fill(4);
        slots[0] = 6;
        _dp.WriteGroup(3, new GroupConfig(Vip, 7, ArpMode.RoundRobin, false, true, slots));
        Assert.That(ArpForwarders(3), Is.EqualTo(new[] { 6, 4, 4 }), "new slots, from slot 0 again");
        Assert.That(_dev.Read(Reg.GroupVip), Is.EqualTo(0x0A00_0099u), "group 0 untouched");
        Assert.That((_dev.Read(Reg.GroupCfg) >> RegField.GroupCfgEnLsb) & 1, Is.EqualTo(1u));
        Assert.That(_dev.Read(Reg.GroupVip + (3 * Reg.GroupVipStride)), Is.EqualTo(Vip));
        Assert.That((_dev.Read(Reg.GroupCfg + (3 * Reg.GroupCfgStride)) >> RegField.GroupCfgGidLsb) & 0x3FF, Is.EqualTo(7u));
    }

    [Test]
    public void WriteGroup_disabled_or_cleared_stops_answering_and_requests_go_to_the_host()
    {
        var slots = new byte[_g.Slots];
        slots.AsSpan().Fill(2);
        _dp.WriteGroup(1, new GroupConfig(Vip, 7, ArpMode.HostDependent, true, true, slots));
        Assert.That(ArpForwarders(1), Is.EqualTo(new[] { 2 }));
        var buf = new byte[_g.MaxFrame];
        Assert.That(_dp.TryReceiveHost(buf, out var copy, out _), Is.True);
        Assert.That(copy.Reason, Is.EqualTo(HostReason.ArpCopy), "COPY bit written");
        Assert.That(copy.Aux, Is.EqualTo(1u), "aux = group index");

        _dp.WriteGroup(1, new GroupConfig(Vip, 7, ArpMode.HostDependent, false, Enabled: false, slots));
        Assert.That(ArpForwarders(1), Is.Empty);
        Assert.That(_dp.TryReceiveHost(buf, out var meta, out _), Is.True);
        Assert.That(meta.Reason, Is.EqualTo(HostReason.Arp));

        _dp.WriteGroup(1, null);
        Assert.That(_dev.Read(Reg.GroupVip + Reg.GroupVipStride), Is.Zero);
        Assert.That(_dev.Read(Reg.GroupCfg + Reg.GroupCfgStride), Is.Zero);
        Assert.That(ArpForwarders(1), Is.Empty);
    }

    [Test]
    public void WriteGroup_refuses_a_slot_table_of_the_wrong_size_and_an_index_outside_the_table()
    {
        var e = Assert.Throws<ArgumentException>(() => _dp.WriteGroup(0, new GroupConfig(Vip, 1, ArpMode.RoundRobin, false, true, new byte[3])));
        Assert.That(e!.Message, Does.Contain($"the hardware has {_g.Slots}"));
        Assert.Throws<ArgumentOutOfRangeException>(() => _dp.WriteGroup(_g.Groups, null));
        Assert.Throws<ArgumentOutOfRangeException>(() => _dp.WriteGroup(-1, null));
    }

    private static byte[] ArpRequest(MacAddress sha, uint tpa)
    {
        var f = new byte[60];
        MacAddress.Broadcast.WriteTo(f);
        sha.WriteTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 1);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 0x0800);
        f[18] = 6;
        f[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(20), 1);
        sha.WriteTo(f.AsSpan(22));
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(28), 0x0A00_0001);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(38), tpa);
        return f;
    }

    [Test]
    public void Next_hops_read_back_what_was_written()
    {
        var hops = new[]
        {
            new NextHop(1, MacAddress.Parse("02:bb:00:00:00:07"), MacAddress.Parse("02:0f:00:00:01:01")),
            new NextHop(0, MacAddress.Parse("ff:fe:fd:fc:fb:fa"), MacAddress.Glbp(1023, 255)),
        };
        int last = _g.NextHops - 1;
        _dp.WriteNextHop(3, hops[0]);
        _dp.WriteNextHop(last, hops[1]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(_dp.ReadNextHop(3), Is.EqualTo(hops[0]));
            Assert.That(_dp.ReadNextHop(last), Is.EqualTo(hops[1]));
            Assert.That(_dp.ReadNextHop(4), Is.EqualTo(new NextHop(0, default, default)), "never written: zero after reset");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => _dp.ReadNextHop(_g.NextHops));
    }

    [Test]
    public void The_vmac_filter_reads_back_what_was_written()
    {
        var a = MacAddress.Glbp(7, 1);
        var b = MacAddress.Parse("02:12:34:56:78:9a");
        _dp.WriteVmacs([(0, a), (_g.Vmacs - 1, b), (5, MacAddress.Glbp(7, 2))]);
        _dp.WriteVmac(5, null);
        var read = _dp.ReadVmacs();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(read, Has.Length.EqualTo(_g.Vmacs));
            Assert.That(read[0], Is.EqualTo(a));
            Assert.That(read[_g.Vmacs - 1], Is.EqualTo(b));
            Assert.That(read[5], Is.Null, "invalidated");
            Assert.That(read.Count(m => m is not null), Is.EqualTo(2));
        }
    }
}
