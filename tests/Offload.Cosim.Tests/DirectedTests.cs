using System.Buffers.Binary;
using Offload.Device;
using Offload.HwModel;
using Offload.Protocol;
using Offload.Reference;
using Offload.Unit.Tests;
using static Offload.Device.RegConst;
using static Offload.Unit.Tests.TestNet;

namespace Offload.Cosim.Tests;

/// <summary>
/// One case per behaviour of docs/dataplane.md, each run through the model and the reference; every output,
/// every counter and the ARP counters must agree. Each case also checks the reference took the intended path,
/// so a case cannot silently stop testing what it is named for.
/// </summary>
[TestFixture(64)]
[TestFixture(32)]
[NonParallelizable]
public class DirectedTests(int dataWidth)
{
    private CosimHarness _h = null!;

    [OneTimeSetUp]
    public void CreateModel() => _h = CosimHarness.Create(dataWidth);

    [OneTimeTearDown]
    public void DisposeModel() => _h?.Dispose();

    private DataplaneConfig Start(Action<DataplaneConfig>? tweak = null) =>
        _h.Start(g =>
        {
            var c = Config(g);
            c.SyncPort = 4000;
            tweak?.Invoke(c);
            return c;
        });

    private void Send(int port, byte[] frame, string expectedPath)
    {
        var r = _h.Send(port, frame);
        Assert.That(r.Path, Does.StartWith(expectedPath), "the reference took another path than this case is about");
    }

    private static byte[] Tagged(byte[] frame, ushort tci)
    {
        byte[] f = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(f);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), tci);
        frame.AsSpan(12).CopyTo(f.AsSpan(16));
        return f;
    }

    private static byte[] WithIpChecksum(byte[] f, int l3 = 14)
    {
        int ihl = (f[l3] & 0xF) * 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 10), 0);
        if (ihl >= 20 && l3 + ihl <= f.Length)
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 10), InternetChecksum.Compute(f.AsSpan(l3, ihl)));
        return f;
    }

    // ----- parsing -----

    [Test]
    public void Runts_of_every_short_length()
    {
        Start();
        for (int len = 1; len < 14; len++)
            Send(len % 2, new byte[len], "drop: len");
        for (int len = 14; len < 18; len++)
        {
            byte[] f = new byte[len];
            f[12] = 0x81;
            Send(0, f, "drop: vlan len");
        }
        _h.Check();
    }

    [Test]
    public void Oversize_is_dropped_and_max_frame_is_kept()
    {
        Start();
        int max = _h.Geometry.MaxFrame;
        Send(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 80, payload: max - 54 + 1), "drop: len");
        Send(1, Tcp(Port1Mac, ClientIp, ServiceIp, 1, 80, payload: max - 54 + 64), "drop: len");
        Send(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 80, payload: max - 54), "punt MISS");
        Send(1, Udp(Port1Mac, ClientIp, ServiceIp, 1, 80, payload: 9000 - 42), "punt MISS");
        _h.Check();
    }

    [Test]
    public void Destination_classes_and_other_ethertypes()
    {
        Start(c => c.Vmacs[5] = MacAddress.Parse("02:dd:00:00:00:05"));
        byte[] v6 = new byte[40];
        Send(0, FrameBuilder.BuildEthernet(Eth(Port0Mac, ClientMac), EtherType.Ipv6, v6), "punt OTHER");
        Send(1, FrameBuilder.BuildEthernet(Eth(Port1Mac, ClientMac), EtherType.Ipv6, v6), "punt OTHER");
        Send(0, FrameBuilder.BuildEthernet(Eth(Port1Mac, ClientMac), EtherType.Ipv6, v6), "drop: ethertype");
        Send(0, FrameBuilder.BuildEthernet(Eth(MacAddress.Broadcast, ClientMac), 0x88CC, v6), "punt OTHER");
        Send(0, FrameBuilder.BuildEthernet(Eth(GlbpHelloMac, ClientMac), 0x88CC, v6), "punt OTHER");
        Send(1, FrameBuilder.BuildEthernet(Eth(MacAddress.Parse("02:dd:00:00:00:05"), ClientMac), 0x1234, []), "punt OTHER");
        Send(1, FrameBuilder.BuildEthernet(Eth(StrangerMac, ClientMac), 0x1234, []), "drop: ethertype");
        Send(0, FrameBuilder.BuildEthernet(Eth(Port0Mac, ClientMac, vlan: 7), EtherType.Vlan, v6), "punt OTHER");
        Send(0, FrameBuilder.BuildEthernet(Eth(Vmac(3), ClientMac, vlan: 0xFFFF), 0x0801, new byte[1]), "punt OTHER");
        _h.Check();
    }

    // ----- IPv4 classification -----

    [Test]
    public void Ipv4_classification_steps_in_order()
    {
        Start();
        byte[] good = Tcp(Port0Mac, ClientIp, ServiceIp, 1000, 80);
        byte[] T(Action<byte[]> tweak, bool fixChecksum = true)
        {
            byte[] f = (byte[])good.Clone();
            tweak(f);
            return fixChecksum ? WithIpChecksum(f) : f;
        }
        // 1. not for us beats everything
        Send(0, T(f => { StrangerMac.WriteTo(f); f[14] = 0x65; }), "drop: ipv4 class other");
        // 2. malformed
        Send(0, good[..33], "drop: ipv4 len");
        Send(0, T(f => f[14] = 0x65), "drop: ipv4 version");
        Send(0, T(f => f[14] = 0x44), "drop: ipv4 version");
        Send(1, T(f => { Port1Mac.WriteTo(f); BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 19); }), "drop: ipv4 version");
        Send(0, T(f => BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 47)), "drop: ipv4 version");
        // 3. checksum (and malformed beats it)
        Send(0, T(f => f[25] ^= 0x10, false), "drop: ipv4 header sum");
        Send(0, T(f => { f[25] ^= 0x10; BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 99); }, false), "drop: ipv4 version");
        // 4. broadcast / multicast, before the GLBP port
        Send(0, Udp(GlbpHelloMac, ClientIp, Ipv4Address.Parse("224.0.0.102"), 3222, 3222, payload: 20), "punt BCAST");
        Send(1, Udp(MacAddress.Broadcast, ClientIp, 0xFFFF_FFFF, 68, 67, payload: 300), "punt BCAST");
        // 5. options (checksum not checked) and fragments
        byte[] opts = FrameBuilder.BuildIpv4(Eth(Port0Mac, ClientMac), new Ipv4Header(ClientIp, ServiceIp, IpProtocol.Tcp) { Options = new byte[] { 1, 1, 1, 0, 7, 3, 4, 0 } }, new byte[20]);
        opts[25] ^= 0x5A;
        Send(0, opts, "punt EXCEPTION");
        foreach (ushort ff in new ushort[] { 0x2000, 0x0001, 0x3FFF, 0x6000 })
            Send(0, FrameBuilder.BuildUdp(Eth(Vmac(2), ClientMac), new Ipv4Header(ClientIp, ServiceIp, IpProtocol.Udp) { FlagsFragment = ff }, 5, 6, new byte[30]), "punt EXCEPTION");
        Send(0, FrameBuilder.BuildUdp(Eth(Vmac(2), ClientMac), new Ipv4Header(ClientIp, ServiceIp, IpProtocol.Udp) { FlagsFragment = 0x4000 }, 5, 6, new byte[30]), "punt MISS");
        // 6. L4 too short
        Send(0, T(f => BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 39)), "drop: protocol 6");
        Send(0, T(f => { f[23] = 17; BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 27); }), "drop: protocol 17");
        Send(0, T(f => { f[23] = 17; BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 28); }), "punt MISS");
        Send(0, T(f => { f[23] = 1; BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 20); }), "punt MISS");
        // 7. GLBP and sync
        Send(0, Udp(Port0Mac, ClientIp, ServiceIp, 3222, 3222), "punt PROTO");
        Send(1, Udp(Port1Mac, BackendIp, ServiceIp, 9, 4000), "punt PROTO");
        Send(1, Udp(Port1Mac, BackendIp, ServiceIp, 4000, 9), "punt MISS");
        Send(0, Tcp(Port0Mac, ClientIp, ServiceIp, 9, 3222), "punt MISS");
        // 8. miss
        Send(1, Tcp(Vmac(1), BackendIp, ClientIp, 80, 1000, vlan: 12), "punt MISS");
        _h.Check();
    }

    [Test]
    public void Bad_checksum_on_tagged_frames_and_to_vmacs()
    {
        Start();
        byte[] f = Udp(Vmac(3), ClientIp, ServiceIp, 1, 2, payload: 100, vlan: 0x0ABC);
        f[18 + 11] ^= 0x01;
        Send(0, f, "drop: ipv4 header sum");
        byte[] g = Udp(MacAddress.Broadcast, ClientIp, ServiceIp, 1, 2, payload: 100);
        g[14 + 10] ^= 0x80;
        Send(1, g, "drop: ipv4 header sum");
        _h.Check();
    }

    // ----- flow hits and rewrite -----

    [Test]
    public void Hit_forwards_with_new_macs_on_both_ports_and_vlan_kept()
    {
        Start(c =>
        {
            Place(c, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 1234, 80), new FlowAction(ToBackend));
            Place(c, new FlowKey(1, BackendIp, ClientIp, IpProtocol.Tcp, 80, 1234), new FlowAction(ToClient));
            Place(c, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Udp, 1, 2), new FlowAction(ToBackend, TtlDecrement: true));
            Place(c, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Icmp, 0, 0), new FlowAction(ToBackend, TtlDecrement: true));
        });
        for (int size = 0; size < 1500; size += 37)
        {
            Send(0, Tcp(Vmac(1 + (size % 3)), ClientIp, ServiceIp, 1234, 80, payload: size), "hit");
            Send(1, Tcp(Port1Mac, BackendIp, ClientIp, 80, 1234, payload: size, src: BackendMac), "hit");
        }
        Send(0, Udp(Vmac(1), ClientIp, ServiceIp, 1, 2, payload: 20, vlan: 0x0123), "hit");
        byte[] padded = Udp(Vmac(1), ClientIp, ServiceIp, 1, 2);
        padded[^1] = 0xEE;
        Send(0, padded, "hit");
        Send(0, FrameBuilder.BuildIpv4(Eth(Port0Mac, ClientMac), new Ipv4Header(ClientIp, ServiceIp, IpProtocol.Icmp), [8, 0, 0xF7, 0xFF, 0, 0, 0, 0], 60), "hit");
        // The key includes the ingress port.
        Send(1, Tcp(Port1Mac, ClientIp, ServiceIp, 1234, 80), "punt MISS");
        _h.Check();
    }

    private static byte[] Textbook()
    {
        byte[] f = new byte[14 + 0x73];
        Port0Mac.WriteTo(f);
        ClientMac.WriteTo(f.AsSpan(6));
        f[12] = 0x08;
        Convert.FromHexString("450000730000400040110000c0a80001c0a800c7").CopyTo(f, 14);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), 0xB861);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(34), 5000);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(36), 53);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(38), 0x73 - 20);
        return f;
    }

    [Test]
    public void Ttl_decrement_and_nat_checksums()
    {
        byte[] zeroing = Udp(Port0Mac, ClientIp, Vip2, 5000, 53, payload: 8);
        ushort c0 = BinaryPrimitives.ReadUInt16BigEndian(zeroing.AsSpan(40));
        ushort zeroPort = (ushort)~InternetChecksum.Fold((uint)(ushort)~c0 + 0xFFCA);
        Start(c =>
        {
            // The RFC 1624 textbook header, TTL only, on port 0; TTL + destination NAT on port 1.
            Place(c, new FlowKey(0, 0xC0A80001, 0xC0A800C7, IpProtocol.Udp, 5000, 53), new FlowAction(ToBackend, TtlDecrement: true));
            Place(c, new FlowKey(1, 0xC0A80001, 0xC0A800C7, IpProtocol.Udp, 5000, 53), new FlowAction(ToBackend, true, NatMode.Destination, BackendIp, 8053));
            Place(c, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 40000, 80), new FlowAction(ToBackend, true, NatMode.Destination, BackendIp, 8080));
            Place(c, new FlowKey(1, BackendIp, ClientIp, IpProtocol.Udp, 8053, 5353), new FlowAction(ToClient, false, NatMode.Source, ServiceIp, 53));
            Place(c, new FlowKey(1, BackendIp, ClientIp, IpProtocol.Tcp, 8080, 40000), new FlowAction(ToClient, true, NatMode.Source, ServiceIp, 0));
            Place(c, new FlowKey(0, ClientIp, Vip, IpProtocol.Udp, 7, 7), new FlowAction(ToBackend, false, (NatMode)3, BackendIp, 99));
            Place(c, new FlowKey(0, ClientIp, Vip, IpProtocol.Icmp, 0, 0), new FlowAction(ToBackend, true, NatMode.Destination, BackendIp, 7));
            Place(c, new FlowKey(0, ClientIp, Vip2, IpProtocol.Udp, 5000, 53), new FlowAction(ToBackend, false, NatMode.Destination, Vip2, zeroPort));
        });
        Send(0, Textbook(), "hit");
        byte[] t1 = Textbook();
        Port1Mac.WriteTo(t1);
        Send(1, t1, "hit");
        Send(0, Tcp(Vmac(3), ClientIp, ServiceIp, 40000, 80, payload: 33, ttl: 20), "hit");
        Send(0, Tcp(Vmac(3), ClientIp, ServiceIp, 40000, 80, TcpFlags.Syn, ttl: 2), "hit");
        Send(1, Udp(Port1Mac, BackendIp, ClientIp, 8053, 5353, payload: 3, src: BackendMac), "hit");
        Send(1, Udp(Port1Mac, BackendIp, ClientIp, 8053, 5353, payload: 77, checksum: false, src: BackendMac), "hit");
        Send(1, Tcp(Port1Mac, BackendIp, ClientIp, 8080, 40000, payload: 1000, src: BackendMac), "hit");
        Send(0, Udp(Port0Mac, ClientIp, Vip, 7, 7, payload: 5), "hit");
        Send(0, FrameBuilder.BuildIpv4(Eth(Port0Mac, ClientMac), new Ipv4Header(ClientIp, Vip, IpProtocol.Icmp), [8, 0, 0xF7, 0xFF, 0, 0, 0, 0], 60), "hit");
        var r = _h.Send(0, zeroing);
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(r.Outputs.Single().Frame.AsSpan(40)), Is.EqualTo(0xFFFF), "the case must make the UDP checksum 0");
        _h.Check();
    }

    /// <summary>
    /// A header whose checksum is sent as 0xFFFF (the other form of zero) with a NAT that writes the address it
    /// already has: eqn. 3 over every rewritten word gives ~(0 + 0xFFFF + 0xFFFF) = 0x0000, where comparing old and
    /// new first would keep 0xFFFF. The contract sums "every changed word"; both are valid checksums, but the
    /// model and the reference must agree on one.
    /// </summary>
    [Test]
    public void Checksum_sent_as_ffff_with_a_nat_that_changes_nothing()
    {
        byte[] f = Udp(Port0Mac, ClientIp, ServiceIp, 5000, 53, payload: 10);
        ushort c = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(24));
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(18));
        // Adding the checksum to another word makes the rest of the header sum to 0xFFFF, so its checksum is 0.
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(18), InternetChecksum.Fold((uint)id + c));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), 0);
        Assert.That(InternetChecksum.Compute(f.AsSpan(14, 20)), Is.Zero, "the header's checksum computes to 0");
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), 0xFFFF);
        Assert.That(InternetChecksum.IsValid(f.AsSpan(14, 20)), Is.True);
        Start(cfg => Place(cfg, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Udp, 5000, 53), new FlowAction(ToBackend, false, NatMode.Destination, ServiceIp, 0)));
        var r = _h.Send(0, f);
        TestContext.Out.WriteLine($"reference checksum 0x{BinaryPrimitives.ReadUInt16BigEndian(r.Outputs.Single().Frame.AsSpan(24)):x4}");
        _h.Check();
    }

    [Test]
    public void Ttl_expiry_goes_to_the_host()
    {
        int index = 0;
        Start(c => index = Place(c, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 1, 2), new FlowAction(ToBackend, TtlDecrement: true)));
        Send(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2, ttl: 1), "punt TTL");
        Send(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2, ttl: 0, vlan: 3), "punt TTL");
        Send(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2, TcpFlags.Fin, ttl: 1), "punt TTL");
        Send(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2, ttl: 2), "hit");
        _h.Check();
        Assert.That(_h.Reference.Counter(0, CntTtlExpired), Is.EqualTo(3));
        Assert.That(index, Is.GreaterThanOrEqualTo(0));
    }

    [Test]
    public void Fin_and_rst_send_events_with_the_flags()
    {
        Start(c =>
        {
            Place(c, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 1, 2), new FlowAction(ToBackend));
            Place(c, new FlowKey(1, BackendIp, ClientIp, IpProtocol.Tcp, 2, 1), new FlowAction(ToClient, true, NatMode.Source, ServiceIp, 5));
        });
        foreach (byte flags in new byte[] { TcpFlags.Fin, TcpFlags.Rst, TcpFlags.Fin | TcpFlags.Ack, 0xFF, TcpFlags.Syn, TcpFlags.Ack, 0xFA })
        {
            Send(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2, flags), "hit");
            Send(1, Tcp(Port1Mac, BackendIp, ClientIp, 2, 1, flags, payload: 200, vlan: 9), "hit");
        }
        _h.Check();
        Assert.That(_h.Reference.Counter(0, CntFinRst), Is.EqualTo(4));
    }

    [Test]
    public void Lookup_searches_both_sub_tables_and_the_stash_and_lowest_index_wins()
    {
        var keys = Enumerable.Range(0, 6).Select(i => new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, (ushort)(100 + i), 80)).ToArray();
        Start(c =>
        {
            var g = c.Geometry;
            int A(FlowKey k) => (int)(FlowHash.CrcA(k) % (uint)g.Buckets);
            int B(FlowKey k) => (int)(FlowHash.CrcB(k) % (uint)g.Buckets);
            c.Flows[g.Index(0, A(keys[0]), 3)] = (keys[0], new FlowAction(ToBackend));
            c.Flows[g.Index(1, B(keys[1]), 1)] = (keys[1], new FlowAction(ToBackend));
            c.Flows[g.MainEntries + g.Stash - 1] = (keys[2], new FlowAction(ToBackend));
            // key 3 in the stash and in sub-table 1: sub-table 1 (lower index) wins
            c.Flows[g.MainEntries] = (keys[3], new FlowAction(ToClient));
            c.Flows[g.Index(1, B(keys[3]), 0)] = (keys[3], new FlowAction(ToBackend));
            // key 4 in both sub-tables: sub-table 0 wins
            c.Flows[g.Index(1, B(keys[4]), 3)] = (keys[4], new FlowAction(ToClient));
            c.Flows[g.Index(0, A(keys[4]), 2)] = (keys[4], new FlowAction(ToBackend));
            // key 5 in a bucket its hashes do not point at: never found
            int wrong = Enumerable.Range(0, g.Buckets).First(x => x != A(keys[5]) && x != B(keys[5]));
            c.Flows[g.Index(0, wrong, 0)] = (keys[5], new FlowAction(ToBackend));
        });
        for (int i = 0; i < 5; i++)
            Send(0, Tcp(Port0Mac, ClientIp, ServiceIp, (ushort)(100 + i), 80), "hit");
        Send(0, Tcp(Port0Mac, ClientIp, ServiceIp, 105, 80), "punt MISS");
        _h.Check();
    }

    [Test]
    public void Last_seen_changes_only_on_hit()
    {
        int hit = 0, idle = 0;
        Start(c =>
        {
            hit = Place(c, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 1, 2), new FlowAction(ToBackend));
            idle = Place(c, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 3, 4), new FlowAction(ToBackend));
        });
        uint shift = _h.Device.Read(Reg.TsShift);
        var hitBefore = _h.ReadEntry(hit);
        var idleBefore = _h.ReadEntry(idle);
        Assert.That(hitBefore.Valid && idleBefore.Valid, Is.True);
        _h.Model.Run(8UL << (int)shift);
        Send(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2), "hit");
        _h.Check();
        ulong now = _h.Dataplane.ReadTime() >> (int)shift;
        var hitAfter = _h.ReadEntry(hit);
        var idleAfter = _h.ReadEntry(idle);
        Assert.Multiple(() =>
        {
            Assert.That(_h.Reference.Hits, Is.EquivalentTo(new[] { hit }));
            Assert.That(hitAfter.LastSeen, Is.GreaterThanOrEqualTo(hitBefore.LastSeen + 8), "LAST_SEEN of the hit entry");
            Assert.That(hitAfter.LastSeen, Is.LessThanOrEqualTo((uint)now));
            Assert.That(idleAfter.LastSeen, Is.EqualTo(idleBefore.LastSeen), "LAST_SEEN of an entry not hit");
            Assert.That(hitAfter.Key, Is.EqualTo(hitBefore.Key));
        });
    }

    // ----- ARP -----

    [Test]
    public void Arp_replies_exactly_with_and_without_vlan()
    {
        Start();
        byte[] longReq = FrameBuilder.BuildArp(Eth(MacAddress.Broadcast, ClientMac), ArpPacket.Request(ClientMac.Value, ClientIp, Vip), 200);
        longReq[150] = 0x77;
        var cases = new (int Port, byte[] Frame)[]
        {
            (0, ArpRequest(Vip)),
            (1, ArpRequest(Vip, vlan: 0xA00B, dst: Port1Mac)),
            (0, ArpRequest(Vip, dst: Vmac(2), sender: StrangerMac, senderIp: 0x0A0000FE)),
            (0, ArpRequest(Vip)[..42]),
            (1, ArpRequest(Vip, vlan: 1)[..46]),
            (0, longReq),
        };
        foreach (var (port, frame) in cases)
        {
            Send(port, frame, "arp reply");
            // Group 0 is round-robin and asked on both ports: the order the two ports are served in is not
            // part of the contract, so each request runs alone.
            _h.Flush();
        }
        _h.Check();
    }

    [Test]
    public void Arp_that_is_not_answerable()
    {
        Start(c => c.Groups[2] = new GroupConfig(Vip2, 44, ArpMode.RoundRobin, true, Enabled: false, WeightedSlots(c.Geometry.Slots)));
        Send(0, ArpRequest(Vip, dst: GlbpHelloMac), "punt ARP");
        Send(0, ArpRequest(Ipv4Address.Parse("10.0.0.9")), "punt ARP");
        Send(0, ArpRequest(Vip2), "punt ARP");
        Send(1, FrameBuilder.BuildArp(Eth(Port1Mac, BackendMac), ArpPacket.Reply(BackendMac.Value, BackendIp, Port1Mac.Value, Vip)), "punt ARP");
        foreach (int at in new[] { 0, 1, 2, 3, 4, 5, 6, 7 })
        {
            byte[] odd = ArpRequest(Vip);
            odd[14 + at] ^= 0x40;
            Send(0, odd, "punt ARP");
        }
        Send(0, ArpRequest(Vip, dst: StrangerMac), "drop: arp class other");
        Send(1, ArpRequest(Vip)[..41], "drop: arp len");
        Send(0, ArpRequest(Vip, dst: StrangerMac, vlan: 1)[..45], "drop: arp len");
        _h.Check();
    }

    [Test]
    public void Round_robin_walks_weighted_slots_and_wraps_and_cfg_write_restarts_it()
    {
        Start();
        for (int i = 0; i < 300; i++)
            Send(0, ArpRequest(Vip, sender: MacAddress.Parse($"02:aa:00:00:{i >> 8:x2}:{i & 0xFF:x2}")), "arp reply");
        _h.Check();
        // A CFG write resets the pointer.
        var grp = _h.Config.Groups[0]!;
        uint cfg = 1u | ((uint)grp.GroupId << RegField.GroupCfgGidLsb);
        _h.Device.Write(Reg.GroupCfg, cfg);
        _h.Reference.WriteGroupConfig(0);
        for (int i = 0; i < 5; i++)
            Send(0, ArpRequest(Vip), "arp reply");
        _h.Check();
    }

    [Test]
    public void Host_dependent_mode_and_copy_bit_and_lowest_group()
    {
        Start(c =>
        {
            byte[] slots = Enumerable.Range(0, c.Geometry.Slots).Select(i => (byte)((i * 7) % 250 + 1)).ToArray();
            c.Groups[1] = new GroupConfig(Vip2, 1023, ArpMode.HostDependent, CopyRequests: true, Enabled: true, slots);
            // Same VIP as group 1 at a higher index: never answers.
            c.Groups[4] = new GroupConfig(Vip2, 3, ArpMode.RoundRobin, false, true, WeightedSlots(c.Geometry.Slots));
            c.Groups[3] = new GroupConfig(ServiceIp, 0, ArpMode.RoundRobin, true, true, WeightedSlots(c.Geometry.Slots));
        });
        var rng = new Random(7);
        for (int i = 0; i < 200; i++)
        {
            var sender = new MacAddress((ulong)rng.NextInt64(0, 1L << 48) & 0xFEFF_FFFF_FFFF);
            Send(i % 2, ArpRequest(Vip2, sender: sender, vlan: i % 3 == 0 ? (ushort)i : null), "arp reply");
        }
        Send(1, ArpRequest(ServiceIp, dst: Port1Mac), "arp reply");
        Send(1, ArpRequest(ServiceIp, dst: Port1Mac), "arp reply");
        _h.Check();
    }

    // ----- host TX -----

    [Test]
    public void Host_tx_sends_frames_out_either_port()
    {
        Start();
        for (int len = 14; len <= 1518; len += 61)
        {
            byte[] f = TestNet.Payload(len);
            _h.SendHost(len % 2, f);
        }
        // The largest frames only where the host TX queue can hold them (HOST_TX_DEPTH words of DATA_W).
        foreach (int len in new[] { 2000, 4000, 9000, _h.Geometry.MaxFrame })
        {
            if (_h.FitsHostTx(len))
                _h.SendHost(len % 2, TestNet.Payload(len));
            else
                TestContext.Out.WriteLine($"DATA_W={dataWidth}: a {len}-byte frame does not fit the {_h.Geometry.HostTxDepth}-word host TX queue; not sent");
        }
        _h.Check();
    }

    [Test]
    public void Invalid_host_tx_commits_are_dropped_and_counted()
    {
        Start();
        byte[] W(int bytes, int port)
        {
            byte[] w = TestNet.Payload(bytes);
            w[0] = (byte)port;
            w.AsSpan(1, 15).Clear();
            return w;
        }
        Assert.That(_h.HostTransmitRaw(W(48, 0), 29).Dropped, Is.True);
        Assert.That(_h.HostTransmitRaw(W(48, 0), 0).Dropped, Is.True);
        Assert.That(_h.HostTransmitRaw(W(48, 1), 52).Dropped, Is.True);
        Assert.That(_h.HostTransmitRaw(W(64, 2), 64).Dropped, Is.True);
        Assert.That(_h.HostTransmitRaw(W(64, 0x80), 60).Dropped, Is.True);
        int max = _h.Geometry.MaxFrame;
        if (_h.FitsHostTx(max + 4))
            Assert.That(_h.HostTransmitRaw(W((16 + max + 4) & ~3, 1), 16 + max + 1).Dropped, Is.True);
        _h.Flush();
        // Valid ones after the drops: exact length, and a commit shorter than what was written.
        Assert.That(_h.HostTransmitRaw(W(32, 1), 30).Dropped, Is.False);
        Assert.That(_h.HostTransmitRaw(W(64, 0), 61).Dropped, Is.False);
        if (_h.FitsHostTx(max))
            Assert.That(_h.HostTransmitRaw(W(16 + max, 1), 16 + max).Dropped, Is.False);
        _h.Check();
    }

    // ----- counters -----

    [Test]
    public void Counters_clear_on_a_write_of_lo_and_arp_counters_can_be_set()
    {
        Start();
        Send(0, ArpRequest(Vip), "arp reply");
        Send(0, new byte[5], "drop");
        Send(1, Tcp(Port1Mac, BackendIp, ClientIp, 1, 2), "punt MISS");
        _h.SendHost(1, TestNet.Payload(100));
        _h.Check();
        foreach (int i in new[] { CntRxFrames, CntTxBytes, CntDropRunt })
        {
            _h.Device.Write(Reg.CntPortLo + ((uint)i * Reg.CntPortLoStride), 0);
            _h.Reference.ClearCounter(0, i);
        }
        _h.Device.Write(Reg.CntPortLo + RegConst.CntPortStride + ((uint)CntPunt * Reg.CntPortLoStride), 0);
        _h.Reference.ClearCounter(1, CntPunt);
        _h.Device.Write(Reg.CntGlobalLo + ((uint)CntGlobalHostTxFrames * Reg.CntGlobalLoStride), 0);
        _h.Reference.ClearGlobalCounter(CntGlobalHostTxFrames);
        // Writing a HI register does nothing.
        _h.Device.Write(Reg.CntPortHi + ((uint)CntRxBytes * Reg.CntPortHiStride), 0);
        _h.CompareCounters("after clearing some ");

        _h.Device.Batch([CsrOp.Write(Reg.ArpcntAddr, 2), CsrOp.Write(Reg.ArpcntData, 1000), CsrOp.Write(Reg.ArpcntData, 2000)], default);
        _h.Reference.SetArpCounter(0, 2, 1000);
        _h.Reference.SetArpCounter(0, 3, 2000);
        for (int i = 0; i < 4; i++)
            Send(0, ArpRequest(Vip), "arp reply");
        _h.Check();

        _h.Dataplane.ClearCounters();
        _h.Reference.ClearAllCounters();
        _h.ClearArpCounters();
        Send(1, ArpRequest(Vip, dst: Port1Mac), "arp reply");
        _h.Check();
    }

    // ----- host queue full, watchdog -----

    [Test]
    public void Full_host_queue_drops_and_counts_while_forwarding_goes_on()
    {
        Start(c => Place(c, new FlowKey(1, BackendIp, ClientIp, IpProtocol.Tcp, 80, 1000), new FlowAction(ToClient, true)));
        var misses = Enumerable.Range(0, 100).Select(i => Tcp(Port0Mac, ClientIp, ServiceIp, (ushort)(2000 + i), 80, payload: 1000)).ToList();
        var hits = Enumerable.Range(0, 100).Select(i => Tcp(Port1Mac, BackendIp, ClientIp, 80, 1000, payload: i)).ToList();
        var expectedOut = new List<byte[]>();
        for (int i = 0; i < 100; i++)
        {
            _h.Model.PushFrame(0, misses[i]);
            _h.Model.PushFrame(1, hits[i]);
            expectedOut.Add(_h.Reference.Process(1, hits[i]).Outputs.Single().Frame);
        }
        Assert.That(_h.Model.RunUntilIdle(20_000_000), Is.LessThan(20_000_000UL));
        var forwarded = new List<byte[]>();
        while (_h.Model.PopFrame(0) is { } o)
            forwarded.Add(o);
        Assert.That(_h.Model.PopFrame(1), Is.Null);
        var received = new List<byte[]>();
        byte[] buf = new byte[16384];
        while (_h.Dataplane.TryReceiveHost(buf, out var meta, out int len))
        {
            Assert.That(meta.Reason, Is.EqualTo(HostReason.Miss));
            received.Add(buf[..len]);
        }
        var p0 = _h.Dataplane.ReadCounters().Port0;
        TestContext.Out.WriteLine($"DATA_W={dataWidth}: {received.Count} of 100 punts fit a {_h.HostQueueBytes}-byte host queue");
        Assert.Multiple(() =>
        {
            Assert.That(forwarded, Is.EqualTo(expectedOut), "every hit is forwarded, whatever the host queue does");
            Assert.That(received, Has.Count.InRange(1, 99));
            Assert.That(received, Is.EqualTo(misses.Take(received.Count)), "the queue keeps the first punts, in order");
            Assert.That(p0.Punt, Is.EqualTo((ulong)received.Count));
            Assert.That(p0.DropHostFull, Is.EqualTo(100UL - (ulong)received.Count));
            Assert.That(p0.FlowMiss, Is.EqualTo(100));
            Assert.That(p0.RxFrames, Is.EqualTo(100));
        });
    }

    [Test]
    public void Watchdog_expiry_keeps_forwarding_and_punting()
    {
        Start(c => Place(c, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 1, 2), new FlowAction(ToBackend, true, NatMode.Destination, BackendIp, 8080)));
        _h.Dataplane.SetWatchdog(500);
        _h.Model.Run(2000);
        var w = _h.Dataplane.ReadWatchdog();
        Assert.That(w.Expired, Is.True, "WDOG_STATUS.EXPIRED");
        Assert.That(w.Expiries, Is.EqualTo(1));
        Send(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2), "hit");
        Send(0, Tcp(Port0Mac, ClientIp, ServiceIp, 3, 4), "punt MISS");
        Send(0, ArpRequest(Vip), "arp reply");
        Send(1, Udp(Port1Mac, BackendIp, ServiceIp, 3222, 3222), "punt PROTO");
        _h.Check();
        _h.Dataplane.SetWatchdog(0);
        Assert.That(_h.Dataplane.ReadWatchdog().Expired, Is.False, "a kick clears EXPIRED");
    }

    // ----- line rate -----

    [Test]
    public void Back_to_back_minimum_hit_frames_on_both_ports_never_stall_ingress()
    {
        Start(c =>
        {
            for (ushort i = 0; i < 8; i++)
            {
                Place(c, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Udp, i, 80), new FlowAction(ToBackend, true, NatMode.Destination, BackendIp, 8080));
                Place(c, new FlowKey(1, BackendIp, ClientIp, IpProtocol.Udp, 8080, i), new FlowAction(ToClient, true, NatMode.Source, ServiceIp, 80));
            }
        });
        _h.BatchSize = 4000;
        _h.Model.ClearStats();
        for (int n = 0; n < 1000; n++)
        {
            _h.Send(0, Udp(Vmac(1), ClientIp, ServiceIp, (ushort)(n % 8), 80));
            _h.Send(1, Udp(Port1Mac, BackendIp, ClientIp, 8080, (ushort)(n % 8), src: BackendMac));
        }
        _h.Flush();
        var s0 = _h.Model.GetPortStats(0);
        var s1 = _h.Model.GetPortStats(1);
        TestContext.Out.WriteLine($"DATA_W={dataWidth}: port 0 {s0}, port 1 {s1}");
        Assert.Multiple(() =>
        {
            Assert.That(s0.RxFrames, Is.EqualTo(1000));
            Assert.That(s0.RxStallCycles, Is.Zero, "port 0 ingress tready dropped");
            Assert.That(s1.RxStallCycles, Is.Zero, "port 1 ingress tready dropped");
            Assert.That(_h.Model.TxViolations(0) + _h.Model.TxViolations(1), Is.Zero, "AXI-Stream rule breaks on egress");
        });
        _h.CompareCounters();
    }
}
