using System.Buffers.Binary;
using Offload.Protocol.Glbp;
using static Offload.Protocol.Tests.GlbpSamples;

namespace Offload.Protocol.Tests;

/// <summary>
/// The bytes Cisco routers send where Wireshark's dissector stops decoding (issue 13's layouts, read from captures of
/// two Cisco routers): the forwarder TLV's priority (167 primary, 135 secondary) and remaining timers, the header's
/// owner MAC, the hello's frame (vMAC source, TTL 255, CS6), the type-4 TLV sent beside MD5, and GLBP over IPv6.
/// Each message is written here byte by byte, not with our writer, so a mistake in the writer cannot hide itself.
/// </summary>
public class GlbpCiscoLayoutTests
{
    // A secondary standing in for forwarder 2 of group 1: Active, priority 135, weight 100, 3 unknown zero bytes,
    // 14000 s of time-out and 200 s of redirect left, vMAC 0007.b400.0102.
    private static readonly byte[] StandInTlv =
        Hex("02 14 02 20 00 87 64 000000 36B0 00C8 0007B4000102");

    [Test]
    public void A_Cisco_forwarder_TLV_decodes_role_and_remaining_timers_from_its_bytes()
    {
        byte[] message = [.. Hex("01 00 0001 0000 CA0112340000"), .. StandInTlv];
        Assert.That(GlbpPacket.TryDecode(message, out GlbpPacket p).IsOk, Is.True);
        Assert.That(p.Header.OwnerMac, Is.EqualTo(0xCA01_1234_0000ul), "the header names the sender by its own MAC");
        var f = p.Forwarders;
        Assert.That(f.MoveNext(), Is.True);
        GlbpForwarder tlv = f.Current;
        Assert.That((tlv.Forwarder, tlv.State, tlv.Priority, tlv.Weight, tlv.VirtualMac), Is.EqualTo(((byte)2, GlbpVfState.Active, (byte)135, (byte)100, 0x0007_B400_0102ul)));
        Assert.That((tlv.TimeoutRemaining, tlv.RedirectRemaining, tlv.Unknown21, tlv.Unknown22), Is.EqualTo(((ushort)14000, (ushort)200, (byte)0, 0u)));
        Assert.That(tlv.Role, Is.EqualTo(GlbpForwarderRole.Secondary));
        Assert.That(GlbpOwnership.IsStandIn(tlv), Is.True);

        var buffer = new byte[64];
        var w = new GlbpWriter(buffer, p.Header);
        w.WriteForwarder(tlv);
        Assert.That(w.Written.ToArray(), Is.EqualTo(message), "our writer puts every field where Cisco does");
    }

    [TestCase(167, GlbpForwarderRole.Primary)]
    [TestCase(135, GlbpForwarderRole.Secondary)]
    [TestCase(0, GlbpForwarderRole.Unwilling)]
    [TestCase(100, GlbpForwarderRole.Unknown)]
    public void The_priority_byte_names_the_role(int priority, GlbpForwarderRole role) =>
        Assert.That(GlbpOwnership.Role((byte)priority), Is.EqualTo(role));

    [Test]
    public void Remaining_timers_are_full_while_the_primary_lives_and_count_down_rounded_up_after()
    {
        Assert.That(GlbpOwnership.Remaining(14400, 600, null), Is.EqualTo(((ushort)14400, (ushort)600)));
        Assert.That(GlbpOwnership.Remaining(14400, 600, TimeSpan.FromSeconds(99.5)), Is.EqualTo(((ushort)14301, (ushort)501)));
        Assert.That(GlbpOwnership.Remaining(14400, 600, TimeSpan.FromSeconds(600)), Is.EqualTo(((ushort)13800, (ushort)0)));
        Assert.That(GlbpOwnership.Remaining(14400, 600, TimeSpan.FromDays(1)), Is.EqualTo(((ushort)0, (ushort)0)));
    }

    [Test]
    public void The_type_4_TLV_Cisco_sends_beside_MD5_is_skipped_and_the_rest_decodes()
    {
        // MD5 key-string auth, a Hello, then type 4 for two peers: 8 + 2 * 10 = 28 bytes, already a multiple of 4:
        // peers heard, a counter, the sender's 4-byte value, then per peer its MAC and the value echoed back.
        byte[] message =
        [
            .. Hex("01 00 0001 0000 CA0112340000"),
            .. Hex("03 14 02 10"), .. new byte[16],
            .. Hex("01 1C 00 20 00 64 0000 00000BB8 00002710 0258 3840 0000 01 04 0A000001"),
            .. Hex("04 1C 02 07 11223344 CA0256780000 55667788 CA0399990000 99AABBCC"),
            .. StandInTlv,
        ];
        Assert.That(GlbpPacket.TryDecode(message, out GlbpPacket p).IsOk, Is.True);
        Assert.That((p.HasAuth, p.HasHello, p.ForwarderCount), Is.EqualTo((true, true, 1)));
        var types = new List<byte>();
        foreach (var t in p.Tlvs)
            types.Add(t.Type);
        Assert.That(types, Is.EqualTo(new byte[] { 3, 1, GlbpTlvType.CiscoPeers, 2 }));
    }

    [Test]
    public void The_Offload_owner_TLV_round_trips()
    {
        var buffer = new byte[64];
        var w = new GlbpWriter(buffer, Header);
        w.WriteOffloadOwner(new GlbpOffloadOwner(3, 0x0200_0000_0003));
        Assert.That(w.Written[12..].ToArray(), Is.EqualTo(Hex("F3 0A 03 00 020000000003")));
        Assert.That(GlbpPacket.TryDecode(w.Written, out GlbpPacket p).IsOk, Is.True);
        var owners = p.OffloadOwners;
        Assert.That(owners.MoveNext(), Is.True);
        Assert.That(owners.Current, Is.EqualTo(new GlbpOffloadOwner(3, 0x0200_0000_0003)));
    }

    [Test]
    public void A_hello_frame_goes_from_the_given_source_with_TTL_255_and_DSCP_CS6()
    {
        byte[] message = Build(NoAuth);
        byte[] frame = GlbpFrame.Build(0x0007_B400_0101, SourceIp, message);
        Assert.That(EthernetHeader.ReadMac(frame.AsSpan(6)), Is.EqualTo(0x0007_B400_0101ul));
        Assert.That((frame[14 + 1], frame[14 + 8]), Is.EqualTo(((byte)0xC0, (byte)255)), "ToS CS6, TTL 255");
        Assert.That(GlbpFrame.TryRead(frame, out GlbpSource source, out ReadOnlySpan<byte> got), Is.True);
        Assert.That((source.IsIpv6, source.Ipv4, source.EthernetSource), Is.EqualTo((false, SourceIp, 0x0007_B400_0101ul)));
        Assert.That(got.ToArray(), Is.EqualTo(message));
    }

    [Test]
    public void GLBP_over_IPv6_is_found_with_its_source_and_a_valid_UDP_checksum()
    {
        UInt128 source = BinaryPrimitives.ReadUInt128BigEndian(Hex("FE80000000000000C80112FFFE340000"));
        byte[] message = Build(NoAuth);
        byte[] frame = GlbpFrame.BuildIpv6(0x0007_B400_0101, source, message);
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)), Is.EqualTo(EtherType.Ipv6));
        Assert.That(EthernetHeader.ReadMac(frame), Is.EqualTo(GlbpProtocol.MulticastMacIpv6));
        Assert.That(frame[14 + 7], Is.EqualTo(255), "hop limit 255");
        Assert.That(GlbpFrame.TryRead(frame, out GlbpSource from, out ReadOnlySpan<byte> got), Is.True);
        Assert.That((from.IsIpv6, from.Ipv6), Is.EqualTo((true, source)));
        Assert.That(from.Address.ToString(), Is.EqualTo("fe80::c801:12ff:fe34:0"));
        Assert.That(got.ToArray(), Is.EqualTo(message));
        Assert.That(GlbpFrame.TryGetMessage(frame, out uint _, out _), Is.False, "the IPv4-only reader the group uses skips it");

        // The checksum over the pseudo-header: summing it all again gives 0xFFFF.
        int udpLength = 8 + message.Length;
        uint sum = InternetChecksum.Add(0, frame.AsSpan(14 + 8, 32));
        sum = InternetChecksum.Add(sum, (ushort)udpLength);
        sum = InternetChecksum.Add(sum, IpProtocol.Udp);
        sum = InternetChecksum.Add(sum, frame.AsSpan(14 + 40, udpLength));
        Assert.That(InternetChecksum.Fold(sum), Is.EqualTo(0xFFFF));

        byte[] broken = (byte[])frame.Clone();
        broken[14 + 6] = 6; // next header TCP
        Assert.That(GlbpFrame.TryRead(broken, out _, out _), Is.False);
        Assert.That(GlbpFrame.TryRead(frame.AsSpan(0, 14 + 39), out _, out _), Is.False, "cut inside the IPv6 header");
    }

    [Test]
    public void The_virtual_link_local_address_of_an_IPv6_group_is_built_from_its_forwarder_0_vMAC()
    {
        Assert.That(GlbpVirtualMac.LinkLocalIpv6Text(1), Is.EqualTo("fe80::7:b4ff:fe00:100"));
        Assert.That(GlbpVirtualMac.LinkLocalIpv6Text(0x3FD), Is.EqualTo("fe80::7:b4ff:fe03:fd00"));
    }
}
