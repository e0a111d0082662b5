using System.Buffers.Binary;
using Offload.HwModel;

namespace Offload.Device.Tests;

/// <summary>
/// The Verilator model through the device layer. These need hwmodel/build/libofmodel_w*.so (built by
/// `dotnet build` through Offload.HwModel.csproj); without it they fail with the library's path and how to build it.
/// </summary>
[TestFixture(64)]
[TestFixture(32)]
[Category("Model")]
public class ModelSmokeTests(int width)
{
    private static readonly MacAddress Port0Mac = MacAddress.Parse("02:00:00:00:00:10");
    private static readonly MacAddress Port1Mac = MacAddress.Parse("02:00:00:00:01:10");
    private static readonly MacAddress Host = MacAddress.Parse("02:aa:00:00:00:01");
    private static readonly MacAddress Backend = MacAddress.Parse("02:bb:00:00:00:02");

    private ModelDevice _dev = null!;
    private Dataplane _dp = null!;

    [SetUp]
    public void SetUp()
    {
        _dev = ModelDevice.Create(width);
        _dp = new Dataplane(_dev);
    }

    [TearDown]
    public void TearDown()
    {
        if (_dev is not null)
        {
            Assert.Multiple(() =>
            {
                Assert.That(_dev.Model.TxViolations(0), Is.Zero, "AXI-Stream rule broken on tx0");
                Assert.That(_dev.Model.TxViolations(1), Is.Zero, "AXI-Stream rule broken on tx1");
            });
            _dev.Dispose();
        }
    }

    [Test]
    public void Id_version_and_scratch_answer()
    {
        Assert.That(_dev.Read(Reg.Id), Is.EqualTo(RegConst.IdValue));
        Assert.That(_dev.Read(Reg.Version), Is.EqualTo(RegConst.VersionValue));
        Assert.That(_dev.Read(Reg.Scratch), Is.Zero, "SCRATCH resets to 0");
        _dev.Write(Reg.Scratch, 0xDEADBEEF);
        Assert.That(_dev.Read(Reg.Scratch), Is.EqualTo(0xDEADBEEFu));
        Span<CsrOp> ops = [CsrOp.Write(Reg.Scratch, 1), CsrOp.Read(Reg.Scratch), CsrOp.Write(Reg.Scratch, 2), CsrOp.Read(Reg.Scratch), CsrOp.Read(Reg.Id)];
        Span<uint> r = stackalloc uint[ops.Length];
        _dev.Batch(ops, r);
        Assert.That(r.ToArray(), Is.EqualTo(new uint[] { 0, 1, 0, 2, RegConst.IdValue }));
    }

    [Test]
    public void Unmapped_read_returns_zero_and_every_access_is_acked()
    {
        Assert.That(_dev.Read(0xFFFC), Is.Zero);
        _dev.Write(0xFFFC, 1);
    }

    [Test]
    public void Param_registers_describe_the_build()
    {
        var g = _dp.ReadGeometry();
        TestContext.Out.WriteLine($"{g}, lookup latency {_dp.LookupLatency}");
        Assert.Multiple(() =>
        {
            Assert.That(g.DataWidth, Is.EqualTo(width));
            Assert.That(g.Buckets, Is.GreaterThan(0));
            Assert.That(g.Buckets & (g.Buckets - 1), Is.Zero, "buckets are a power of two (bucket = low bits of the CRC)");
            Assert.That(g.Ways, Is.EqualTo(4));
            Assert.That(g.Stash, Is.EqualTo(4));
            Assert.That(g.Slots, Is.EqualTo(256));
            Assert.That(g.MaxFrame, Is.EqualTo(9600));
            Assert.That(g.Groups, Is.InRange(1, Reg.GroupVipCount));
            Assert.That(g.Vmacs, Is.InRange(1, Reg.VmacLoCount));
            Assert.That(g.NextHops, Is.InRange(1, 256));
            Assert.That(g.HostRxDepth, Is.GreaterThan(0));
            Assert.That(g.HostTxDepth, Is.GreaterThan(0));
            Assert.That(_dp.LookupLatency, Is.GreaterThan(0));
        });
    }

    [Test]
    public void Wrong_id_is_reported_clearly()
    {
        using var dev = new FakeBus(0x12345678);
        var e = Assert.Throws<DeviceException>(() => new Dataplane(dev).ReadGeometry());
        Assert.That(e!.Message, Does.Contain("0x12345678").And.Contain("OFLD"));
    }

    [Test]
    public void Frame_hitting_a_flow_leaves_rewritten_on_the_next_hops_port()
    {
        var g = _dp.ReadGeometry();
        var cfg = BaseConfig(g);
        var key = new FlowKey(0, 0x0A00_0001, 0x0A00_0064, 17, 40000, 53);
        var ftm = new FlowTableManager(_dev, g, FlowTableStart.AssumeEmpty);
        _dp.Apply(cfg);
        _dev.Write(Reg.TsShift, 0);
        int index = ftm.Insert(key, new FlowAction(NextHop: 3, TtlDecrement: true));
        uint written = ftm.ReadLastSeen(index);
        _dev.Model.Run(1000);

        var frame = Packets.Ipv4(Port0Mac, Host, key, ttl: 64);
        _dev.Model.PushFrame(0, frame);
        ulong ran = _dev.Model.RunUntilIdle(100_000);
        Assert.That(ran, Is.LessThan(100_000), "the model never went idle");

        Assert.That(_dev.Model.TxPending(0), Is.Zero, "nothing leaves on port 0");
        var output = _dev.Model.PopFrame(1);
        Assert.That(output, Is.Not.Null, "the frame left on port 1 (next hop 3)");
        Assert.Multiple(() =>
        {
            Assert.That(output!, Has.Length.EqualTo(frame.Length));
            Assert.That(MacAddress.FromBytes(output!), Is.EqualTo(Backend), "destination MAC from the next hop");
            Assert.That(MacAddress.FromBytes(output!.AsSpan(6)), Is.EqualTo(Port1Mac), "source MAC from the next hop");
            Assert.That(output![Packets.EthHeader + 8], Is.EqualTo(63), "TTL decremented");
            Assert.That(Packets.Ipv4HeaderChecksumOk(output!), Is.True, "IPv4 header checksum updated");
            Assert.That(Packets.L4ChecksumOk(output!), Is.True, "UDP checksum still valid");
            Assert.That(output!.AsSpan(12).ToArray(), Is.EqualTo(WithTtl(frame, 63).AsSpan(12).ToArray()), "nothing else changed");
        });
        var c = _dp.ReadCounters();
        Assert.Multiple(() =>
        {
            Assert.That(c.Port0.RxFrames, Is.EqualTo(1));
            Assert.That(c.Port0.RxBytes, Is.EqualTo((ulong)frame.Length));
            Assert.That(c.Port0.FlowHit, Is.EqualTo(1));
            Assert.That(c.Port0.FlowMiss, Is.Zero);
            Assert.That(c.Port1.TxFrames, Is.EqualTo(1));
            Assert.That(c.Port1.TxBytes, Is.EqualTo((ulong)frame.Length));
        });
        Assert.That(ftm.ReadLastSeen(key), Is.GreaterThan(written + 1000), "LAST_SEEN moved to the hit's TIME (TS_SHIFT 0)");
        Assert.That(ftm.EntryAt(index)?.Key, Is.EqualTo(key));
    }

    [TestCase(NatMode.Destination, 6)]
    [TestCase(NatMode.Source, 6)]
    [TestCase(NatMode.Destination, 17)]
    [TestCase(NatMode.Source, 17)]
    public void Nat_rewrites_address_and_port_and_keeps_checksums_valid(NatMode nat, int proto)
    {
        var g = _dp.ReadGeometry();
        _dp.Apply(BaseConfig(g));
        var ftm = new FlowTableManager(_dev, g, FlowTableStart.AssumeEmpty);
        var key = new FlowKey(0, 0x0A00_0001, 0xC0A8_0A0A, (byte)proto, 40000, 80);
        ftm.Insert(key, new FlowAction(3, TtlDecrement: true, Nat: nat, NatIp: 0xAC10_0005, NatPort: 8080));
        _dev.Model.PushFrame(0, Packets.Ipv4(Port0Mac, Host, key, payload: 33));
        _dev.Model.RunUntilIdle(100_000);
        var o = _dev.Model.PopFrame(1);
        Assert.That(o, Is.Not.Null);
        var ip = o.AsSpan(Packets.EthHeader);
        uint src = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        uint dst = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        ushort sport = BinaryPrimitives.ReadUInt16BigEndian(ip[20..]);
        ushort dport = BinaryPrimitives.ReadUInt16BigEndian(ip[22..]);
        Assert.Multiple(() =>
        {
            if (nat == NatMode.Destination)
            {
                Assert.That((src, sport), Is.EqualTo((key.SrcIp, key.SrcPort)));
                Assert.That((dst, dport), Is.EqualTo((0xAC10_0005u, (ushort)8080)));
            }
            else
            {
                Assert.That((src, sport), Is.EqualTo((0xAC10_0005u, (ushort)8080)));
                Assert.That((dst, dport), Is.EqualTo((key.DstIp, key.DstPort)));
            }
            Assert.That(Packets.Ipv4HeaderChecksumOk(o!), Is.True, "IPv4 header checksum");
            Assert.That(Packets.L4ChecksumOk(o!), Is.True, "TCP/UDP checksum");
        });
    }

    [Test]
    public void Fin_is_forwarded_and_reported_with_flow_index_and_flags_and_ttl_expiry_is_punted()
    {
        var g = _dp.ReadGeometry();
        _dp.Apply(BaseConfig(g));
        var ftm = new FlowTableManager(_dev, g, FlowTableStart.AssumeEmpty);
        var key = new FlowKey(0, 0x0A00_0001, 0x0A00_0064, 6, 40000, 80);
        int index = ftm.Insert(key, new FlowAction(3, TtlDecrement: true));
        _dev.Model.PushFrame(0, Packets.Ipv4(Port0Mac, Host, key, tcpFlags: 0x11));
        _dev.Model.PushFrame(0, Packets.Ipv4(Port0Mac, Host, key, ttl: 1));
        _dev.Model.RunUntilIdle(100_000);
        Assert.That(_dev.Model.TxPending(1), Is.EqualTo(1), "the FIN is forwarded, the TTL-1 frame is not");
        var buf = new byte[g.MaxFrame];
        Assert.That(_dp.TryReceiveHost(buf, out var ev, out int evLen), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(ev.Reason, Is.EqualTo(HostReason.FinRst));
            Assert.That(evLen, Is.Zero);
            Assert.That(ev.FlowIndex, Is.EqualTo(index));
            Assert.That(ev.TcpFlags, Is.EqualTo(0x11));
        });
        Assert.That(_dp.TryReceiveHost(buf, out var ttl, out int ttlLen), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(ttl.Reason, Is.EqualTo(HostReason.Ttl));
            Assert.That(ttl.FlowIndex, Is.EqualTo(index));
            Assert.That(ttlLen, Is.EqualTo(60));
        });
        var c = _dp.ReadCounters().Port0;
        Assert.That((c.FinRst, c.TtlExpired, c.FlowHit), Is.EqualTo((1UL, 1UL, 2UL)));
    }

    [Test]
    public void Miss_goes_to_the_host_queue_with_its_metadata()
    {
        var g = _dp.ReadGeometry();
        _dp.Apply(BaseConfig(g));
        var keys = new[] { new FlowKey(0, 0x0A00_0001, 0x0A00_0064, 6, 40000, 80), new FlowKey(0, 0x0A00_0002, 0x0A00_0064, 17, 40001, 53) };
        var frames = keys.Select((k, i) => Packets.Ipv4(Port0Mac, Host, k, payload: 10 + (i * 3))).ToArray();
        foreach (var f in frames)
            _dev.Model.PushFrame(0, f);
        _dev.Model.RunUntilIdle(100_000);
        ulong now = _dp.ReadTime();

        var buf = new byte[g.MaxFrame];
        for (int i = 0; i < frames.Length; i++)
        {
            Assert.That(_dp.TryReceiveHost(buf, out var meta, out int len), Is.True, $"frame {i} punted");
            Assert.Multiple(() =>
            {
                Assert.That(meta.Reason, Is.EqualTo(HostReason.Miss));
                Assert.That(meta.IngressPort, Is.Zero);
                Assert.That(len, Is.EqualTo(frames[i].Length));
                Assert.That(buf.AsSpan(0, len).ToArray(), Is.EqualTo(frames[i]));
                Assert.That(meta.Time, Is.InRange(1UL, now));
            });
        }
        Assert.That(_dp.TryReceiveHost(buf, out _, out _), Is.False);
        var c = _dp.ReadCounters();
        Assert.That(c.Port0.FlowMiss, Is.EqualTo(2));
        Assert.That(c.Port0.Punt, Is.EqualTo(2));
    }

    [TestCase(60)]
    [TestCase(61)]
    [TestCase(63)]
    [TestCase(1514)]
    public void Host_frame_is_sent_on_the_requested_port(int length)
    {
        var frame = new byte[length];
        new Random(length).NextBytes(frame);
        Assert.That(_dp.SendHost(1, frame), Is.True);
        _dev.Model.RunUntilIdle(100_000);
        Assert.That(_dev.Model.PopFrame(1), Is.EqualTo(frame));
        Assert.That(_dev.Model.TxPending(0), Is.Zero);
        var c = _dp.ReadCounters();
        Assert.That(c.HostTxFrames, Is.EqualTo(1));
        Assert.That(c.Port1.TxFrames, Is.EqualTo(1));
    }

    [Test]
    public void Back_to_back_minimum_frames_that_hit_are_never_stalled()
    {
        var g = _dp.ReadGeometry();
        _dp.Apply(BaseConfig(g));
        var ftm = new FlowTableManager(_dev, g, FlowTableStart.AssumeEmpty);
        var keys = TestKeys.Random(64, seed: 11).Select(k => k with { InPort = 0 }).ToList();
        foreach (var k in keys)
            ftm.Insert(k, new FlowAction(3));
        const int n = 2000;
        for (int i = 0; i < n; i++)
            _dev.Model.PushFrame(0, Packets.Ipv4(Port0Mac, Host, keys[i % keys.Count], payload: 0));
        _dev.Model.ClearStats();
        _dev.Model.RunUntilIdle(1_000_000);
        var s0 = _dev.Model.GetPortStats(0);
        var s1 = _dev.Model.GetPortStats(1);
        TestContext.Out.WriteLine($"{s0} {s1}");
        Assert.Multiple(() =>
        {
            Assert.That(s0.RxFrames, Is.EqualTo(n));
            Assert.That(s0.RxStallCycles, Is.Zero, "tready dropped on back-to-back minimum frames");
            Assert.That(s1.TxFrames, Is.EqualTo(n));
        });
    }

    [Test]
    public void Back_to_back_minimum_frames_on_both_ports_at_once_are_never_stalled()
    {
        // Both ports finish their frames in the same cycles, so both want the shared lookup engine at once.
        var g = _dp.ReadGeometry();
        var cfg = BaseConfig(g);
        cfg.NextHops[4] = new NextHop(0, Host, Port0Mac);
        _dp.Apply(cfg);
        var ftm = new FlowTableManager(_dev, g, FlowTableStart.AssumeEmpty);
        var k0 = new FlowKey(0, 0x0A00_0001, 0x0A01_0001, 17, 12345, 80);
        var k1 = k0 with { InPort = 1 };
        ftm.Insert(k0, new FlowAction(3));
        ftm.Insert(k1, new FlowAction(4));
        const int n = 32;
        for (int i = 0; i < n; i++)
        {
            _dev.Model.PushFrame(0, Packets.Ipv4(Port0Mac, Host, k0, payload: 0));
            _dev.Model.PushFrame(1, Packets.Ipv4(Port1Mac, Backend, k1, payload: 0));
        }
        _dev.Model.ClearStats();
        _dev.Model.RunUntilIdle(1_000_000);
        var s0 = _dev.Model.GetPortStats(0);
        var s1 = _dev.Model.GetPortStats(1);
        TestContext.Out.WriteLine($"{s0} {s1}");
        Assert.Multiple(() =>
        {
            Assert.That(s0.RxStallCycles, Is.Zero, "port 0 tready dropped while both ports received back-to-back minimum frames that hit");
            Assert.That(s1.RxStallCycles, Is.Zero, "port 1 tready dropped while both ports received back-to-back minimum frames that hit");
            Assert.That(s0.TxFrames, Is.EqualTo(n));
            Assert.That(s1.TxFrames, Is.EqualTo(n));
        });
    }

    private DataplaneConfig BaseConfig(DataplaneGeometry g)
    {
        var cfg = new DataplaneConfig(g);
        cfg.PortMacs[0] = Port0Mac;
        cfg.PortMacs[1] = Port1Mac;
        cfg.NextHops[3] = new NextHop(1, Backend, Port1Mac);
        return cfg;
    }

    private static byte[] WithTtl(byte[] frame, byte ttl)
    {
        var f = (byte[])frame.Clone();
        f[Packets.EthHeader + 8] = ttl;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(Packets.EthHeader + 10), 0);
        uint s = 0;
        for (int i = 0; i < 20; i += 2)
            s += BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(Packets.EthHeader + i));
        while (s >> 16 != 0)
            s = (s & 0xFFFF) + (s >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(Packets.EthHeader + 10), (ushort)~s);
        return f;
    }

    private sealed class FakeBus(uint id) : IDevice
    {
        public string Transport => "fake";

        public uint Read(uint address) => address == Reg.Id ? id : 0;

        public void Write(uint address, uint value)
        {
        }

        public void Batch(ReadOnlySpan<CsrOp> ops, Span<uint> results)
        {
            for (int i = 0; i < ops.Length; i++)
                results[i] = ops[i].Kind == CsrOpKind.Read ? Read(ops[i].Address) : 0;
        }

        public void Dispose()
        {
        }
    }
}
