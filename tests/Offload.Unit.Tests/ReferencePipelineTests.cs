using System.Buffers.Binary;
using Offload.Device;
using Offload.Protocol;
using Offload.Reference;
using static Offload.Device.RegConst;
using static Offload.Unit.Tests.TestNet;

namespace Offload.Unit.Tests;

public class ReferencePipelineTests
{
    private DataplaneConfig _config = null!;
    private ReferencePipeline _pipe = null!;

    [SetUp]
    public void SetUp()
    {
        _config = Config();
        _pipe = new ReferencePipeline(_config);
    }

    private static string Hex(byte[] b) => Convert.ToHexString(b).ToLowerInvariant();

    private void AssertDropped(int port, byte[] frame, int counter)
    {
        var r = _pipe.Process(port, frame);
        Assert.Multiple(() =>
        {
            Assert.That(r.Outputs, Is.Empty, r.Path);
            Assert.That(r.DropCounter, Is.EqualTo(counter), r.Path);
            Assert.That(_pipe.Counter(port, counter), Is.EqualTo(1));
            Assert.That(_pipe.Counter(port, CntRxFrames), Is.EqualTo(1));
            Assert.That(_pipe.Counter(port, CntRxBytes), Is.EqualTo((ulong)frame.Length));
        });
    }

    private HostMetadata AssertPunted(int port, byte[] frame, int reason, uint aux = 0)
    {
        var r = _pipe.Process(port, frame);
        Assert.That(r.Outputs, Has.Count.EqualTo(1), r.Path);
        var o = r.Outputs[0];
        Assert.Multiple(() =>
        {
            Assert.That(o.IsHost, Is.True, r.Path);
            Assert.That(o.Metadata, Is.EqualTo(new HostMetadata((byte)reason, (byte)port, (ushort)frame.Length, aux)), r.Path);
            Assert.That(o.Frame, Is.EqualTo(frame));
            Assert.That(_pipe.Counter(port, CntPunt), Is.EqualTo(1));
        });
        return o.Metadata!.Value;
    }

    private byte[] AssertForwarded(int port, byte[] frame, int egress)
    {
        var r = _pipe.Process(port, frame);
        var outs = r.Outputs.Where(o => !o.IsHost).ToList();
        Assert.That(outs, Has.Count.EqualTo(1), r.Path);
        Assert.That(outs[0].Port, Is.EqualTo(egress), r.Path);
        return outs[0].Frame;
    }

    // ----- parsing -----

    [Test]
    public void Frame_shorter_than_14_is_a_runt() => AssertDropped(0, new byte[13], CntDropRunt);

    [Test]
    public void Tagged_frame_shorter_than_18_is_a_runt()
    {
        byte[] f = new byte[17];
        f[12] = 0x81;
        AssertDropped(1, f, CntDropRunt);
    }

    [Test]
    public void Frame_longer_than_max_frame_is_oversize_but_counted_received()
    {
        byte[] f = Tcp(Port0Mac, ClientIp, ServiceIp, 1, 80, payload: 9600 - 54 + 1);
        Assert.That(f, Has.Length.EqualTo(9601));
        AssertDropped(0, f, CntDropOversize);
    }

    [Test]
    public void Frame_of_exactly_max_frame_is_kept()
    {
        byte[] f = Tcp(Port0Mac, ClientIp, ServiceIp, 1, 80, payload: 9600 - 54);
        AssertPunted(0, f, ReasonMiss);
    }

    [Test]
    public void Unicast_to_someone_else_is_not_for_us()
    {
        AssertDropped(0, Tcp(StrangerMac, ClientIp, ServiceIp, 1, 80), CntDropNotForUs);
    }

    [Test]
    public void Own_mac_is_per_ingress_port()
    {
        // Port 1's MAC arriving on port 0 is someone else's.
        AssertDropped(0, Tcp(Port1Mac, ClientIp, ServiceIp, 1, 80), CntDropNotForUs);
    }

    [Test]
    public void Invalid_vmac_entry_does_not_match()
    {
        _config.Vmacs[2] = null;
        AssertDropped(0, Tcp(Vmac(3), ClientIp, ServiceIp, 1, 80), CntDropNotForUs);
    }

    [Test]
    public void Other_ethertype_to_us_goes_to_host_as_other_and_to_others_is_dropped()
    {
        byte[] ipv6 = FrameBuilder.BuildEthernet(Eth(Port0Mac, ClientMac), EtherType.Ipv6, new byte[40]);
        AssertPunted(0, ipv6, ReasonOther);
        _pipe.Reset();
        AssertDropped(0, FrameBuilder.BuildEthernet(Eth(StrangerMac, ClientMac), EtherType.Ipv6, new byte[40]), CntDropNotForUs);
    }

    [Test]
    public void Second_vlan_tag_is_just_an_ethertype()
    {
        byte[] qinq = FrameBuilder.BuildEthernet(Eth(MacAddress.Broadcast, ClientMac, vlan: 10), EtherType.Vlan, new byte[46]);
        AssertPunted(0, qinq, ReasonOther);
    }

    [Test]
    public void Fourteen_byte_frame_to_us_is_other()
    {
        byte[] f = FrameBuilder.BuildEthernet(Eth(Port0Mac, ClientMac), 0x88B5, []);
        Assert.That(f, Has.Length.EqualTo(14));
        AssertPunted(0, f, ReasonOther);
    }

    // ----- ARP -----

    [Test]
    public void Arp_request_for_vip_gets_the_exact_reply()
    {
        byte[] req = ArpRequest(Vip);
        var r = _pipe.Process(0, req);
        Assert.That(r.Outputs, Has.Count.EqualTo(1));
        Assert.That(r.Outputs[0].Port, Is.Zero);
        string expected =
            "02aa00000001" + "0007b4000501" + "0806" +
            "0001" + "0800" + "06" + "04" + "0002" +
            "0007b4000501" + "0a000001" +
            "02aa00000001" + "0a000064" +
            new string('0', 36);
        Assert.Multiple(() =>
        {
            Assert.That(Hex(r.Outputs[0].Frame), Is.EqualTo(expected));
            Assert.That(_pipe.Counter(0, CntArpReplies), Is.EqualTo(1));
            Assert.That(_pipe.Counter(0, CntTxFrames), Is.EqualTo(1));
            Assert.That(_pipe.Counter(0, CntTxBytes), Is.EqualTo(60));
            Assert.That(_pipe.Counter(0, CntPunt), Is.Zero);
            Assert.That(_pipe.ArpCounter(0, 1), Is.EqualTo(1));
            Assert.That(_pipe.RoundRobinPointer(0), Is.EqualTo(1));
        });
    }

    [Test]
    public void Tagged_arp_request_gets_a_64_byte_tagged_reply()
    {
        byte[] req = ArpRequest(Vip, vlan: 0xA00B);
        var r = _pipe.Process(1, req);
        string expected =
            "02aa00000001" + "0007b4000501" + "8100a00b" + "0806" +
            "0001080006040002" + "0007b4000501" + "0a000001" + "02aa00000001" + "0a000064" +
            new string('0', 36);
        Assert.That(r.Outputs.Single().Port, Is.EqualTo(1));
        Assert.That(Hex(r.Outputs.Single().Frame), Is.EqualTo(expected));
    }

    [Test]
    public void Reply_takes_the_arp_sender_not_the_ethernet_source()
    {
        byte[] req = FrameBuilder.BuildArp(Eth(MacAddress.Broadcast, StrangerMac), ArpPacket.Request(ClientMac.Value, ClientIp, Vip));
        var reply = _pipe.Process(0, req).Outputs.Single().Frame;
        Assert.That(MacAddress.FromBytes(reply), Is.EqualTo(ClientMac));
    }

    [Test]
    public void Round_robin_walks_the_slots_and_weights_follow_slot_counts()
    {
        var forwarders = new List<int>();
        for (int i = 0; i < 8; i++)
            forwarders.Add(_pipe.Process(0, ArpRequest(Vip)).Outputs.Single().Frame[11]);
        Assert.That(forwarders, Is.EqualTo(new[] { 1, 2, 2, 3, 1, 2, 2, 3 }));
        Assert.That(_pipe.ArpCounter(0, 2), Is.EqualTo(4));
        // A CFG write restarts the pointer.
        _pipe.WriteGroupConfig(0);
        Assert.That(_pipe.Process(0, ArpRequest(Vip)).Outputs.Single().Frame[11], Is.EqualTo(1));
    }

    [Test]
    public void Round_robin_pointer_wraps_at_slots()
    {
        for (int i = 0; i < 256; i++)
            _pipe.Process(0, ArpRequest(Vip));
        Assert.That(_pipe.RoundRobinPointer(0), Is.Zero);
        Assert.That(_pipe.ArpCounter(0, 1) + _pipe.ArpCounter(0, 2) + _pipe.ArpCounter(0, 3), Is.EqualTo(256));
        Assert.That(_pipe.ArpCounter(0, 2), Is.EqualTo(128));
    }

    [Test]
    public void Host_dependent_mode_picks_by_crc_of_the_sender_mac()
    {
        byte[] slots = Enumerable.Range(0, 256).Select(i => (byte)(i + 1)).ToArray();
        slots[255] = 7;
        _config.Groups[0] = _config.Groups[0]! with { Mode = ArpMode.HostDependent, Slots = slots };
        foreach (string mac in new[] { "02:aa:00:00:00:01", "02:aa:00:00:00:02", "00:11:22:33:44:55" })
        {
            var sender = MacAddress.Parse(mac);
            int slot = (int)(FlowHash.CrcA(sender) % 256);
            byte[] reply = _pipe.Process(0, ArpRequest(Vip, sender: sender)).Outputs.Single().Frame;
            Assert.That(reply[11], Is.EqualTo(slots[slot]), mac);
            // Same host, same answer.
            Assert.That(_pipe.Process(0, ArpRequest(Vip, sender: sender)).Outputs.Single().Frame[11], Is.EqualTo(slots[slot]));
        }
        Assert.That(_pipe.RoundRobinPointer(0), Is.Zero);
    }

    [Test]
    public void Crc_a_of_a_mac_is_msb_first_unreflected()
    {
        // Bit-serial CRC-32/MPEG-2 shape (init all ones, no reflection, no final xor) over the 48 bits.
        Assert.That(FlowHash.CrcA(MacAddress.Parse("00:00:00:00:00:00")), Is.EqualTo(Mpeg2(new byte[6])));
        Assert.That(FlowHash.CrcA(MacAddress.Parse("02:aa:00:00:00:01")), Is.EqualTo(Mpeg2(Convert.FromHexString("02aa00000001"))));

        static uint Mpeg2(byte[] data)
        {
            uint crc = 0xFFFF_FFFF;
            foreach (byte b in data)
            {
                crc ^= (uint)b << 24;
                for (int i = 0; i < 8; i++)
                    crc = (crc & 0x8000_0000) != 0 ? (crc << 1) ^ 0x04C1_1DB7 : crc << 1;
            }
            return crc;
        }
    }

    [Test]
    public void Copy_bit_also_sends_the_request_to_the_host_with_the_group_index()
    {
        _config.Groups[3] = new GroupConfig(Vip2, 9, ArpMode.RoundRobin, CopyRequests: true, Enabled: true, WeightedSlots());
        byte[] req = ArpRequest(Vip2);
        var r = _pipe.Process(0, req);
        Assert.That(r.Outputs, Has.Count.EqualTo(2));
        var host = r.Outputs.Single(o => o.IsHost);
        Assert.Multiple(() =>
        {
            Assert.That(host.Metadata, Is.EqualTo(new HostMetadata((byte)ReasonArpCopy, 0, 60, 3)));
            Assert.That(host.Frame, Is.EqualTo(req));
            Assert.That(MacAddress.FromBytes(r.Outputs.Single(o => !o.IsHost).Frame.AsSpan(6)), Is.EqualTo(MacAddress.Glbp(9, 1)));
            Assert.That(_pipe.Counter(0, CntPunt), Is.EqualTo(1));
            Assert.That(_pipe.ArpCounter(3, 1), Is.EqualTo(1));
        });
    }

    [Test]
    public void Lowest_enabled_group_wins_a_shared_vip()
    {
        _config.Groups[1] = new GroupConfig(Vip, 77, ArpMode.RoundRobin, false, true, WeightedSlots());
        _config.Groups[0] = _config.Groups[0]! with { Enabled = false };
        var reply = _pipe.Process(0, ArpRequest(Vip)).Outputs.Single().Frame;
        Assert.That(MacAddress.FromBytes(reply.AsSpan(6)), Is.EqualTo(MacAddress.Glbp(77, 1)));
        _config.Groups[0] = _config.Groups[0]! with { Enabled = true };
        reply = _pipe.Process(0, ArpRequest(Vip)).Outputs.Single().Frame;
        Assert.That(MacAddress.FromBytes(reply.AsSpan(6)), Is.EqualTo(Vmac(1)));
    }

    [Test]
    public void Arp_for_vip_sent_to_own_mac_or_vmac_is_answered()
    {
        Assert.That(_pipe.Process(0, ArpRequest(Vip, dst: Port0Mac)).Outputs.Single().IsHost, Is.False);
        Assert.That(_pipe.Process(0, ArpRequest(Vip, dst: Vmac(2))).Outputs.Single().IsHost, Is.False);
    }

    [Test]
    public void Arp_to_multicast_is_not_answered_but_punted()
    {
        AssertPunted(0, ArpRequest(Vip, dst: GlbpHelloMac), ReasonArp);
    }

    [Test]
    public void Arp_for_another_address_or_a_reply_or_odd_hardware_is_punted_as_arp()
    {
        AssertPunted(0, ArpRequest(Ipv4Address.Parse("10.0.0.9")), ReasonArp);
        _pipe.Reset();
        byte[] reply = FrameBuilder.BuildArp(Eth(Port0Mac, ClientMac), ArpPacket.Reply(ClientMac.Value, ClientIp, Port0Mac.Value, Vip));
        AssertPunted(0, reply, ReasonArp);
        _pipe.Reset();
        byte[] odd = ArpRequest(Vip);
        odd[14 + 4] = 8; // hlen
        AssertPunted(0, odd, ReasonArp);
    }

    [Test]
    public void Arp_for_vip_to_someone_else_is_not_for_us()
    {
        AssertDropped(0, ArpRequest(Vip, dst: StrangerMac), CntDropNotForUs);
    }

    [Test]
    public void Short_arp_is_malformed_even_when_not_for_us()
    {
        byte[] f = ArpRequest(Vip, dst: StrangerMac, vlan: 1)[..(18 + 27)];
        AssertDropped(0, f, CntDropMalformed);
        _pipe.Reset();
        byte[] ok = ArpRequest(Vip)[..(14 + 28)];
        Assert.That(_pipe.Process(0, ok).Outputs.Single().Frame, Has.Length.EqualTo(60));
    }

    // ----- IPv4 classification -----

    private static byte[] RawIpv4(MacAddress dst, Action<byte[]> tweak)
    {
        byte[] f = Tcp(dst, ClientIp, ServiceIp, 1000, 80);
        tweak(f);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), 0);
        int ihl = (f[14] & 0xF) * 4;
        if (ihl >= 20)
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), InternetChecksum.Compute(f.AsSpan(14, Math.Min(ihl, f.Length - 14))));
        return f;
    }

    [Test]
    public void Ipv4_malformed_cases()
    {
        var cases = new (string Name, byte[] Frame)[]
        {
            ("shorter than l3+20", Tcp(Port0Mac, ClientIp, ServiceIp, 1, 80)[..33]),
            ("version 6", RawIpv4(Port0Mac, f => f[14] = 0x65)),
            ("ihl 4", RawIpv4(Port0Mac, f => f[14] = 0x44)),
            ("total length < ihl*4", RawIpv4(Port0Mac, f => BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 19))),
            ("total length past the frame", RawIpv4(Port0Mac, f => BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 47))),
            ("tcp total length < 40", RawIpv4(Port0Mac, f => BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 39))),
            ("udp total length < 28", RawIpv4(Port0Mac, f => { f[23] = 17; BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 27); })),
        };
        foreach (var (name, frame) in cases)
        {
            _pipe.Reset();
            var r = _pipe.Process(0, frame);
            Assert.That(r.DropCounter, Is.EqualTo(CntDropMalformed), $"{name}: {r.Path}");
        }
    }

    [Test]
    public void Ipv4_to_someone_else_is_dropped_before_any_check()
    {
        AssertDropped(0, RawIpv4(StrangerMac, f => f[14] = 0x65), CntDropNotForUs);
    }

    [Test]
    public void Bad_header_checksum_is_dropped()
    {
        byte[] f = Tcp(Port0Mac, ClientIp, ServiceIp, 1, 80);
        f[25] ^= 1;
        AssertDropped(0, f, CntDropBadCsum);
    }

    [Test]
    public void Bad_checksum_beats_broadcast_but_not_malformed()
    {
        byte[] f = Tcp(MacAddress.Broadcast, ClientIp, ServiceIp, 1, 80);
        f[25] ^= 1;
        AssertDropped(0, f, CntDropBadCsum);
        _pipe.Reset();
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 200);
        AssertDropped(0, f, CntDropMalformed);
    }

    [Test]
    public void Broadcast_and_multicast_ipv4_go_to_host_before_the_glbp_port_check()
    {
        AssertPunted(0, Udp(GlbpHelloMac, ClientIp, Ipv4Address.Parse("224.0.0.102"), 3222, 3222), ReasonBcast);
        _pipe.Reset();
        AssertPunted(1, Udp(MacAddress.Broadcast, ClientIp, 0xFFFF_FFFF, 68, 67), ReasonBcast);
    }

    [Test]
    public void Options_skip_the_checksum_check_and_are_an_exception()
    {
        byte[] f = FrameBuilder.BuildIpv4(Eth(Port0Mac, ClientMac), new Ipv4Header(ClientIp, ServiceIp, IpProtocol.Tcp) { Options = new byte[] { 1, 1, 1, 0 } }, new byte[20]);
        f[25] ^= 0x55;
        AssertPunted(0, f, ReasonException);
    }

    [TestCase((ushort)0x2000)]
    [TestCase((ushort)0x0001)]
    [TestCase((ushort)0x6000)]
    public void Fragments_are_an_exception(ushort flagsFragment)
    {
        byte[] f = FrameBuilder.BuildUdp(Eth(Vmac(1), ClientMac), new Ipv4Header(ClientIp, ServiceIp, IpProtocol.Udp) { FlagsFragment = flagsFragment }, 1, 2, new byte[10]);
        AssertPunted(0, f, ReasonException);
    }

    [Test]
    public void Dont_fragment_alone_is_not_an_exception()
    {
        byte[] f = FrameBuilder.BuildUdp(Eth(Vmac(1), ClientMac), new Ipv4Header(ClientIp, ServiceIp, IpProtocol.Udp) { FlagsFragment = Ipv4Header.DontFragment }, 1, 2, new byte[10]);
        AssertPunted(0, f, ReasonMiss);
    }

    [Test]
    public void Glbp_and_sync_udp_go_to_host_as_proto()
    {
        AssertPunted(0, Udp(Port0Mac, ClientIp, ServiceIp, 3222, 3222), ReasonProto);
        _pipe.Reset();
        _config.SyncPort = 4000;
        AssertPunted(1, Udp(Port1Mac, BackendIp, ServiceIp, 9, 4000), ReasonProto);
        _pipe.Reset();
        // TCP to 3222 is ordinary traffic.
        AssertPunted(0, Tcp(Port0Mac, ClientIp, ServiceIp, 9, 3222), ReasonMiss);
    }

    [Test]
    public void Miss_goes_to_host_and_counts_ft_miss()
    {
        AssertPunted(0, Tcp(Vmac(2), ClientIp, ServiceIp, 1234, 80), ReasonMiss);
        Assert.That(_pipe.Counter(0, CntFtMiss), Is.EqualTo(1));
    }

    // ----- flow lookup and rewrite -----

    [Test]
    public void Hit_replaces_macs_and_keeps_everything_else()
    {
        var key = new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 1234, 80);
        int index = Place(_config, key, new FlowAction(ToBackend));
        byte[] f = Tcp(Vmac(1), ClientIp, ServiceIp, 1234, 80, payload: 100);
        byte[] o = AssertForwarded(0, f, 1);
        byte[] expected = (byte[])f.Clone();
        BackendMac.WriteTo(expected);
        Port1Mac.WriteTo(expected.AsSpan(6));
        Assert.Multiple(() =>
        {
            Assert.That(o, Is.EqualTo(expected));
            Assert.That(_pipe.Counter(0, CntFtHit), Is.EqualTo(1));
            Assert.That(_pipe.Counter(1, CntTxFrames), Is.EqualTo(1));
            Assert.That(_pipe.Counter(1, CntTxBytes), Is.EqualTo((ulong)f.Length));
            Assert.That(_pipe.Counter(0, CntTxFrames), Is.Zero);
            Assert.That(_pipe.Hits, Is.EquivalentTo(new[] { index }));
        });
    }

    [Test]
    public void Key_includes_the_ingress_port()
    {
        Place(_config, new FlowKey(1, ClientIp, ServiceIp, IpProtocol.Tcp, 1234, 80), new FlowAction(ToBackend));
        AssertPunted(0, Tcp(Vmac(1), ClientIp, ServiceIp, 1234, 80), ReasonMiss);
    }

    [Test]
    public void Non_tcp_udp_keys_use_zero_ports()
    {
        Place(_config, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Icmp, 0, 0), new FlowAction(ToBackend));
        byte[] icmp = FrameBuilder.BuildIpv4(Eth(Port0Mac, ClientMac), new Ipv4Header(ClientIp, ServiceIp, IpProtocol.Icmp), [8, 0, 0xF7, 0xFF, 0, 0, 0, 0], 60);
        AssertForwarded(0, icmp, 1);
    }

    // The textbook header 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7 (UDP, no UDP checksum):
    // TTL 64 -> 63 gives b961 (see ChecksumTests); with destination NAT to 10.1.0.10 as well,
    // ~(~b861 + ~4011 + 3f11 + ~c0a8 + ~00c7 + 0a01 + 000a) = ~(479e+bfee+3f11+3f57+ff38+0a01+000a) = ~8f39 = 70c6.
    private static byte[] Textbook(out FlowKey key)
    {
        byte[] f = new byte[14 + 0x73];
        TestNet.Port0Mac.WriteTo(f);
        ClientMac.WriteTo(f.AsSpan(6));
        f[12] = 0x08;
        Convert.FromHexString("450000730000400040110000c0a80001c0a800c7").CopyTo(f, 14);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), 0xB861);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(34), 5000);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(36), 53);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(38), 0x73 - 20);
        key = new FlowKey(0, 0xC0A80001, 0xC0A800C7, IpProtocol.Udp, 5000, 53);
        return f;
    }

    [Test]
    public void Ttl_decrement_checksum_is_rfc1624_hand_computed()
    {
        byte[] f = Textbook(out var key);
        Place(_config, key, new FlowAction(ToBackend, TtlDecrement: true));
        byte[] o = AssertForwarded(0, f, 1);
        Assert.Multiple(() =>
        {
            Assert.That(o[22], Is.EqualTo(0x3F));
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(o.AsSpan(24)), Is.EqualTo(0xB961));
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(o.AsSpan(40)), Is.Zero, "no UDP checksum stays none");
        });
    }

    [Test]
    public void Ttl_and_destination_nat_checksum_is_hand_computed_and_udp_zero_checksum_stays_zero()
    {
        byte[] f = Textbook(out var key);
        Place(_config, key, new FlowAction(ToBackend, TtlDecrement: true, NatMode.Destination, BackendIp, 8053));
        byte[] o = AssertForwarded(0, f, 1);
        Assert.Multiple(() =>
        {
            Assert.That(Hex(o[14..34]), Is.EqualTo("45000073000040003f1170c6c0a800010a01000a"));
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(o.AsSpan(36)), Is.EqualTo(8053));
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(o.AsSpan(40)), Is.Zero);
            Assert.That(InternetChecksum.IsValid(o.AsSpan(14, 20)), Is.True);
        });
    }

    [Test]
    public void Destination_nat_tcp_matches_a_frame_built_from_scratch()
    {
        var key = new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 40000, 80);
        Place(_config, key, new FlowAction(ToBackend, true, NatMode.Destination, BackendIp, 8080));
        byte[] f = Tcp(Vmac(3), ClientIp, ServiceIp, 40000, 80, payload: 33, ttl: 20);
        byte[] o = AssertForwarded(0, f, 1);
        byte[] expected = FrameBuilder.BuildTcp(Eth(BackendMac, Port1Mac), new Ipv4Header(ClientIp, BackendIp, IpProtocol.Tcp) { Ttl = 19, Identification = 0x1234 },
            new TcpHeader(40000, 8080) { Flags = TcpFlags.Ack, Sequence = 0x01020304 }, Payload(33), 60);
        Assert.That(Hex(o), Is.EqualTo(Hex(expected)));
    }

    [Test]
    public void Source_nat_udp_matches_a_frame_built_from_scratch()
    {
        var key = new FlowKey(1, BackendIp, ClientIp, IpProtocol.Udp, 8053, 5353);
        Place(_config, key, new FlowAction(ToClient, false, NatMode.Source, ServiceIp, 53));
        byte[] f = Udp(Port1Mac, BackendIp, ClientIp, 8053, 5353, payload: 3, src: BackendMac);
        byte[] o = AssertForwarded(1, f, 0);
        byte[] expected = FrameBuilder.BuildUdp(Eth(ClientMac, Vmac(1)), new Ipv4Header(ServiceIp, ClientIp, IpProtocol.Udp) { Identification = 0x4321 },
            53, 5353, Payload(3), true, 60);
        Assert.That(Hex(o), Is.EqualTo(Hex(expected)));
    }

    [Test]
    public void Nat_port_zero_keeps_the_port()
    {
        var key = new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 40000, 80);
        Place(_config, key, new FlowAction(ToBackend, false, NatMode.Destination, BackendIp, 0));
        byte[] o = AssertForwarded(0, Tcp(Port0Mac, ClientIp, ServiceIp, 40000, 80), 1);
        byte[] expected = FrameBuilder.BuildTcp(Eth(BackendMac, Port1Mac), new Ipv4Header(ClientIp, BackendIp, IpProtocol.Tcp) { Identification = 0x1234 },
            new TcpHeader(40000, 80) { Flags = TcpFlags.Ack, Sequence = 0x01020304 }, [], 60);
        Assert.That(Hex(o), Is.EqualTo(Hex(expected)));
    }

    [Test]
    public void Nat_mode_3_is_treated_as_none()
    {
        var key = new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 40000, 80);
        Place(_config, key, new FlowAction(ToBackend, false, (NatMode)3, BackendIp, 99));
        byte[] f = Tcp(Port0Mac, ClientIp, ServiceIp, 40000, 80);
        byte[] o = AssertForwarded(0, f, 1);
        Assert.That(o[12..], Is.EqualTo(f[12..]));
    }

    [Test]
    public void Nat_on_icmp_changes_only_the_ip_header()
    {
        Place(_config, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Icmp, 0, 0), new FlowAction(ToBackend, false, NatMode.Destination, BackendIp, 7));
        byte[] icmp = FrameBuilder.BuildIpv4(Eth(Port0Mac, ClientMac), new Ipv4Header(ClientIp, ServiceIp, IpProtocol.Icmp), [8, 0, 0xF7, 0xFF, 0, 0, 0, 0], 60);
        byte[] o = AssertForwarded(0, icmp, 1);
        byte[] expected = FrameBuilder.BuildIpv4(Eth(BackendMac, Port1Mac), new Ipv4Header(ClientIp, BackendIp, IpProtocol.Icmp), [8, 0, 0xF7, 0xFF, 0, 0, 0, 0], 60);
        Assert.That(Hex(o), Is.EqualTo(Hex(expected)));
    }

    [Test]
    public void Udp_checksum_that_updates_to_zero_is_sent_as_ffff()
    {
        byte[] f = Udp(Port0Mac, ClientIp, ServiceIp, 5000, 53, payload: 8);
        ushort c = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(40));
        // Choose the new destination port so that ~(~C + ~53 + port') folds to 0.
        ushort port = (ushort)~InternetChecksum.Fold((uint)(ushort)~c + 0xFFCA); // ~53 = 0xffca
        Assert.That(port, Is.Not.Zero, "the frame must allow a non-zero port");
        Place(_config, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Udp, 5000, 53), new FlowAction(ToBackend, false, NatMode.Destination, ServiceIp, port));
        byte[] o = AssertForwarded(0, f, 1);
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(o.AsSpan(40)), Is.EqualTo(0xFFFF));
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(o.AsSpan(36)), Is.EqualTo(port));
    }

    // Every word the action rewrites is summed, changed or not: a header sent with checksum 0xFFFF (the other
    // zero) through a NAT to the address it already has gives ~(0 + 0xffff + 0xffff) = ~0xffff = 0x0000.
    [Test]
    public void Rewritten_words_are_summed_even_when_unchanged()
    {
        byte[] f = Udp(Port0Mac, ClientIp, ServiceIp, 5000, 53, payload: 10);
        ushort c = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(24));
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(18));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(18), InternetChecksum.Fold((uint)id + c));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), 0xFFFF);
        Assert.That(InternetChecksum.IsValid(f.AsSpan(14, 20)), Is.True);
        Place(_config, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Udp, 5000, 53), new FlowAction(ToBackend, false, NatMode.Destination, ServiceIp, 0));
        byte[] o = AssertForwarded(0, f, 1);
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(o.AsSpan(24)), Is.EqualTo(0x0000));
        Assert.That(o.AsSpan(34).ToArray(), Is.EqualTo(f.AsSpan(34).ToArray()), "UDP header and payload unchanged: the UDP sum ~(~C + 0xffff + 0xffff) = C");
    }

    [Test]
    public void Vlan_tag_is_kept_on_a_hit()
    {
        Place(_config, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Udp, 1, 2), new FlowAction(ToBackend, true));
        byte[] f = Udp(Vmac(1), ClientIp, ServiceIp, 1, 2, payload: 20, vlan: 0x0123);
        byte[] o = AssertForwarded(0, f, 1);
        byte[] expected = FrameBuilder.BuildUdp(Eth(BackendMac, Port1Mac, 0x0123), new Ipv4Header(ClientIp, ServiceIp, IpProtocol.Udp) { Ttl = 63, Identification = 0x4321 },
            1, 2, Payload(20), true, 60);
        Assert.That(Hex(o), Is.EqualTo(Hex(expected)));
    }

    [Test]
    public void Ethernet_padding_past_total_length_is_kept()
    {
        Place(_config, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Udp, 1, 2), new FlowAction(ToBackend, true));
        byte[] f = Udp(Vmac(1), ClientIp, ServiceIp, 1, 2);
        f[^1] = 0xEE;
        byte[] o = AssertForwarded(0, f, 1);
        Assert.That(o, Has.Length.EqualTo(60));
        Assert.That(o[^1], Is.EqualTo(0xEE));
    }

    [Test]
    public void Ttl_expiry_goes_to_host_with_the_flow_index()
    {
        int index = Place(_config, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 1, 2), new FlowAction(ToBackend, true));
        AssertPunted(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2, ttl: 1), ReasonTtl, (uint)index);
        Assert.That(_pipe.Counter(0, CntTtlExpired), Is.EqualTo(1));
        Assert.That(_pipe.Counter(0, CntFtHit), Is.EqualTo(1));
        _pipe.Reset();
        AssertPunted(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2, ttl: 0), ReasonTtl, (uint)index);
    }

    [Test]
    public void Ttl_one_without_decrement_is_forwarded()
    {
        Place(_config, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 1, 2), new FlowAction(ToBackend));
        AssertForwarded(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2, ttl: 1), 1);
    }

    [TestCase((byte)(TcpFlags.Fin | TcpFlags.Ack))]
    [TestCase(TcpFlags.Rst)]
    [TestCase((byte)(TcpFlags.Fin | TcpFlags.Rst | TcpFlags.Psh))]
    public void Fin_or_rst_forwards_and_sends_an_event(byte flags)
    {
        int index = Place(_config, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 1, 2), new FlowAction(ToBackend));
        var r = _pipe.Process(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2, flags));
        Assert.That(r.Outputs, Has.Count.EqualTo(2));
        var ev = r.Outputs.Single(o => o.IsHost);
        Assert.Multiple(() =>
        {
            Assert.That(ev.Metadata, Is.EqualTo(new HostMetadata((byte)ReasonFinRst, 0, 0, ((uint)flags << 24) | (uint)index)));
            Assert.That(ev.Frame, Is.Empty);
            Assert.That(_pipe.Counter(0, CntFinRst), Is.EqualTo(1));
            Assert.That(_pipe.Counter(0, CntPunt), Is.EqualTo(1), "an event is a host queue entry too");
            Assert.That(r.Outputs.Single(o => !o.IsHost).Port, Is.EqualTo(1));
        });
    }

    [Test]
    public void Syn_or_udp_sends_no_event()
    {
        Place(_config, new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 1, 2), new FlowAction(ToBackend));
        Assert.That(_pipe.Process(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2, TcpFlags.Syn)).Outputs, Has.Count.EqualTo(1));
        Assert.That(_pipe.Counter(0, CntFinRst), Is.Zero);
    }

    [Test]
    public void Entry_outside_its_buckets_is_not_found()
    {
        var key = new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 1, 2);
        int a = (int)(FlowHash.CrcA(key) % 1024);
        int b = (int)(FlowHash.CrcB(key) % 1024);
        int wrong = Enumerable.Range(0, 1024).First(x => x != a && x != b) * 4;
        _config.Flows[wrong] = (key, new FlowAction(ToBackend));
        AssertPunted(0, Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2), ReasonMiss);
    }

    [Test]
    public void Sub_table_one_and_stash_are_searched_and_lowest_index_wins()
    {
        var key = new FlowKey(0, ClientIp, ServiceIp, IpProtocol.Tcp, 1, 2);
        var g = _config.Geometry;
        int a = (int)(FlowHash.CrcA(key) % 1024);
        int b = (int)(FlowHash.CrcB(key) % 1024);
        byte[] f = Tcp(Port0Mac, ClientIp, ServiceIp, 1, 2);
        int stash = g.MainEntries + 3;
        _config.Flows[stash] = (key, new FlowAction(ToClient));
        Assert.That(_pipe.Process(0, f).Outputs.Single().Port, Is.Zero, "stash");
        int sub1 = g.Index(1, b, 2);
        _config.Flows[sub1] = (key, new FlowAction(ToBackend));
        Assert.That(_pipe.Process(0, f).Outputs.Single().Port, Is.EqualTo(1), "sub-table 1 is below the stash");
        int sub0 = g.Index(0, a, 3);
        _config.Flows[sub0] = (key, new FlowAction(ToClient));
        Assert.That(_pipe.Process(0, f).Outputs.Single().Port, Is.Zero, "sub-table 0 is below sub-table 1");
        Assert.That(_pipe.Hits, Is.EquivalentTo(new[] { stash, sub1, sub0 }));
        _pipe.ClearHits();
        Assert.That(_pipe.Hits, Is.Empty);
    }

    // ----- host TX and counters -----

    [Test]
    public void Host_tx_sends_the_frame_and_counts_it()
    {
        byte[] f = Udp(ClientMac, ServiceIp, ClientIp, 1, 2, payload: 3);
        var r = _pipe.SendHost(1, f);
        Assert.Multiple(() =>
        {
            Assert.That(r.Outputs.Single().Port, Is.EqualTo(1));
            Assert.That(r.Outputs.Single().Frame, Is.EqualTo(f));
            Assert.That(_pipe.GlobalCounter(CntGlobalHostTxFrames), Is.EqualTo(1));
            Assert.That(_pipe.Counter(1, CntTxFrames), Is.EqualTo(1));
            Assert.That(_pipe.Counter(1, CntTxBytes), Is.EqualTo((ulong)f.Length));
            Assert.That(_pipe.Counter(1, CntRxFrames), Is.Zero);
        });
    }

    [Test]
    public void Host_tx_commit_shorter_than_written_drops_the_extra_bytes()
    {
        byte[] written = Enumerable.Range(0, 64).Select(i => (byte)i).ToArray();
        written[0] = 0;
        var r = _pipe.HostTransmit(written, 61);
        Assert.That(r.Outputs.Single().Frame, Is.EqualTo(written[16..61]));
        Assert.That(_pipe.HostTransmit(new byte[32], 30).Outputs.Single().Frame, Has.Length.EqualTo(14));
    }

    [TestCase(29, 48, 0, TestName = "commit under 16 + 14")]
    [TestCase(16 + 9601, 16 + 9604, 0, TestName = "commit over 16 + MAX_FRAME")]
    [TestCase(52, 48, 0, TestName = "commit past what was written")]
    [TestCase(60, 60, 2, TestName = "egress port over 1")]
    public void Invalid_host_tx_commit_is_dropped_and_counted(int commit, int written, int port)
    {
        byte[] data = new byte[written];
        data[0] = (byte)port;
        var r = _pipe.HostTransmit(data, commit);
        Assert.That(r.Outputs, Is.Empty);
        Assert.That(_pipe.GlobalCounter(CntGlobalHostTxDrops), Is.EqualTo(1));
        Assert.That(_pipe.GlobalCounter(CntGlobalHostTxFrames), Is.Zero);
    }

    [Test]
    public void Counters_clear_one_at_a_time()
    {
        _pipe.Process(0, ArpRequest(Vip));
        _pipe.Process(0, new byte[3]);
        _pipe.ClearCounter(0, CntRxFrames);
        Assert.That(_pipe.Counter(0, CntRxFrames), Is.Zero);
        Assert.That(_pipe.Counter(0, CntRxBytes), Is.EqualTo(63));
        Assert.That(_pipe.Counter(0, CntDropRunt), Is.EqualTo(1));
        _pipe.SetArpCounter(0, 1, 41);
        _pipe.Process(0, ArpRequest(Vip));
        Assert.That(_pipe.ArpCounter(0, 2), Is.EqualTo(1));
        _pipe.WriteGroupConfig(0);
        _pipe.Process(0, ArpRequest(Vip));
        Assert.That(_pipe.ArpCounter(0, 1), Is.EqualTo(42));
    }
}
