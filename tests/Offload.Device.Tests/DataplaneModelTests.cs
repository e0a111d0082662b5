using System.Buffers.Binary;
using Offload.HwModel;

namespace Offload.Device.Tests;

/// <summary>The rest of <see cref="Dataplane"/> against the model: groups and slots, vMACs, watchdog, host-queue edges.</summary>
[Category("Model")]
public class DataplaneModelTests
{
    private static readonly MacAddress Port0Mac = MacAddress.Parse("02:00:00:00:00:10");
    private static readonly MacAddress Host = MacAddress.Parse("02:aa:00:00:00:01");
    private const uint Vip = 0x0A00_00FE;

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

    [Test]
    public void Arp_requests_for_a_group_VIP_are_answered_round_robin_from_its_slot_table()
    {
        var cfg = new DataplaneConfig(_g);
        cfg.PortMacs[0] = Port0Mac;
        var slots = new byte[_g.Slots];
        for (int i = 0; i < slots.Length; i++)
            slots[i] = (byte)(1 + (i % 3));
        cfg.Groups[2] = new GroupConfig(Vip, GroupId: 7, ArpMode.RoundRobin, CopyRequests: false, Enabled: true, slots);
        _dp.Apply(cfg);

        for (int i = 0; i < 4; i++)
            _dev.Model.PushFrame(0, ArpRequest(Host, 0x0A00_0001, Vip));
        _dev.Model.RunUntilIdle(100_000);
        var forwarders = new List<int>();
        while (_dev.Model.PopFrame(0) is { } reply)
        {
            Assert.That(MacAddress.FromBytes(reply), Is.EqualTo(Host));
            var src = MacAddress.FromBytes(reply.AsSpan(6));
            Assert.That(src.Value & ~0x3FFFFUL, Is.EqualTo(MacAddress.Glbp(0, 0).Value), "a GLBP vMAC");
            Assert.That((int)((src.Value >> 8) & 0x3FF), Is.EqualTo(7), "the group's GID");
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(28)), Is.EqualTo(Vip), "SPA = VIP");
            forwarders.Add((int)(src.Value & 0xFF));
        }
        Assert.That(forwarders, Is.EqualTo(new[] { 1, 2, 3, 1 }));
        Assert.Multiple(() =>
        {
            Assert.That(_dp.ReadArpCounter(2, 1), Is.EqualTo(2));
            Assert.That(_dp.ReadArpCounter(2, 2), Is.EqualTo(1));
            Assert.That(_dp.ReadArpCounter(2, 3), Is.EqualTo(1));
            Assert.That(_dp.ReadArpCounter(2, 4), Is.Zero);
            Assert.That(_dp.ReadCounters().Port0.ArpReplies, Is.EqualTo(4));
        });
    }

    [Test]
    public void A_disabled_group_sends_requests_to_the_host()
    {
        var cfg = new DataplaneConfig(_g);
        cfg.Groups[0] = new GroupConfig(Vip, 1, ArpMode.RoundRobin, false, Enabled: false, new byte[_g.Slots]);
        _dp.Apply(cfg);
        _dev.Model.PushFrame(0, ArpRequest(Host, 0x0A00_0001, Vip));
        _dev.Model.RunUntilIdle(100_000);
        Assert.That(_dev.Model.TxPending(0), Is.Zero);
        var buf = new byte[_g.MaxFrame];
        Assert.That(_dp.TryReceiveHost(buf, out var meta, out _), Is.True);
        Assert.That(meta.Reason, Is.EqualTo(HostReason.Arp));
    }

    [Test]
    public void Frames_to_a_valid_vMAC_reach_the_lookup_and_others_are_not_for_us()
    {
        var cfg = new DataplaneConfig(_g);
        var vmac = MacAddress.Glbp(7, 2);
        cfg.Vmacs[5] = vmac;
        _dp.Apply(cfg);
        var key = new FlowKey(0, 0x0A00_0001, 0x0A00_0064, 17, 1000, 2000);
        _dev.Model.PushFrame(0, Packets.Ipv4(vmac, Host, key));
        _dev.Model.PushFrame(0, Packets.Ipv4(MacAddress.Glbp(7, 3), Host, key));
        _dev.Model.RunUntilIdle(100_000);
        var c = _dp.ReadCounters().Port0;
        Assert.That(c.FlowMiss, Is.EqualTo(1));
        Assert.That(c.DropNotForUs, Is.EqualTo(1));
    }

    [Test]
    public void Watchdog_expires_without_kicks_and_a_kick_clears_it()
    {
        _dp.SetWatchdog(200);
        Assert.That(_dp.ReadWatchdog().Expired, Is.False);
        _dev.Model.Run(500);
        var s = _dp.ReadWatchdog();
        Assert.That(s, Is.EqualTo(new WatchdogStatus(200, true, 1)));
        _dp.Kick();
        Assert.That(_dp.ReadWatchdog().Expired, Is.False);
        _dp.SetWatchdog(0);
        _dev.Model.Run(500);
        Assert.That(_dp.ReadWatchdog(), Is.EqualTo(new WatchdogStatus(0, false, 1)));
    }

    [Test]
    public void A_host_frame_larger_than_the_buffer_stays_at_the_head()
    {
        _dev.Model.PushFrame(0, Packets.Ipv4(MacAddress.Broadcast, Host, new FlowKey(0, 1, 2, 17, 3, 4), payload: 100));
        _dev.Model.RunUntilIdle(100_000);
        Assert.Throws<ArgumentException>(() => _dp.TryReceiveHost(new byte[20], out _, out _));
        var buf = new byte[200];
        Assert.That(_dp.TryReceiveHost(buf, out var meta, out int len), Is.True);
        Assert.That(meta.Reason, Is.EqualTo(HostReason.Broadcast));
        Assert.That(len, Is.EqualTo(14 + 20 + 8 + 100));
    }

    [Test]
    public void Send_host_refuses_when_the_queue_is_full_and_everything_accepted_is_sent()
    {
        _dev.Model.SetTxReady(1, 0);
        var frame = new byte[1000];
        frame[0] = 0x02;
        int accepted = 0;
        while (_dp.SendHost(1, frame))
        {
            accepted++;
            Assert.That(accepted, Is.LessThan(1000), "the host TX queue never filled");
        }
        Assert.That(accepted * 1016, Is.LessThanOrEqualTo(_g.HostTxDepth * _g.DataWidth / 8));
        _dev.Model.SetTxReady(1, uint.MaxValue);
        _dev.Model.RunUntilIdle(1_000_000);
        Assert.That(_dev.Model.TxPending(1), Is.EqualTo(accepted));
        var c = _dp.ReadCounters();
        Assert.That(c.HostTxFrames, Is.EqualTo((ulong)accepted));
        Assert.That(c.HostTxDrops, Is.Zero);
    }

    [Test]
    public void Counters_clear_on_write()
    {
        _dev.Model.PushFrame(0, new byte[10]);
        _dev.Model.RunUntilIdle(100_000);
        Assert.That(_dp.ReadCounters().Port0.DropRunt, Is.EqualTo(1));
        _dp.ClearCounters();
        Assert.That(_dp.ReadCounters(), Is.EqualTo(new DataplaneCounters(PortCounters.FromValues(new ulong[16]), PortCounters.FromValues(new ulong[16]), 0, 0)));
    }

    private static byte[] ArpRequest(MacAddress sha, uint spa, uint tpa)
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
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(28), spa);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(38), tpa);
        return f;
    }
}

/// <summary>The binding's own contract, on the model.</summary>
[Category("Model")]
public class HwModelBindingTests
{
    [Test]
    public void Unknown_width_is_refused() =>
        Assert.That(() => HwModel.HwModel.Create(16), Throws.TypeOf<ArgumentOutOfRangeException>());

    [Test]
    public void Both_widths_load_in_one_process_and_report_their_width()
    {
        using var a = HwModel.HwModel.Create(64);
        using var b = HwModel.HwModel.Create(32);
        Assert.That(a.CsrRead(Reg.ParamDataW), Is.EqualTo(64));
        Assert.That(b.CsrRead(Reg.ParamDataW), Is.EqualTo(32));
    }

    [Test]
    public void Batch_results_shorter_than_the_ops_are_refused()
    {
        using var m = HwModel.HwModel.Create();
        Assert.Throws<ArgumentException>(() => m.CsrBatch([1, 0, 0, 1, 0, 0], new uint[1]));
    }

    [Test]
    public void A_frame_too_big_for_the_buffer_stays_queued_and_reset_drops_everything()
    {
        using var dev = ModelDevice.Create();
        var dp = new Dataplane(dev);
        Assert.That(dp.SendHost(0, new byte[100]), Is.True);
        dev.Model.RunUntilIdle(10_000);
        Assert.That(dev.Model.TxPending(0), Is.EqualTo(1));
        Assert.Throws<ArgumentException>(() => dev.Model.PopFrame(0, new byte[99]));
        Assert.That(dev.Model.PopFrame(0, new byte[100]), Is.EqualTo(100));
        Assert.That(dev.Model.PopFrame(0, new byte[100]), Is.EqualTo(-1));

        dev.Model.PushFrame(1, new byte[64]);
        dev.Model.Reset();
        Assert.That(dev.Model.RxPending(1), Is.Zero);
        Assert.That(dev.Model.GetPortStats(1), Is.EqualTo(default(PortStats)));
        Assert.That(dev.Read(Reg.Id), Is.EqualTo(RegConst.IdValue));
    }

    [Test]
    public void Disposed_model_throws_instead_of_crashing()
    {
        var m = HwModel.HwModel.Create();
        m.Dispose();
        Assert.Throws<ObjectDisposedException>(() => m.Run(1));
    }
}
