using System.Buffers.Binary;
using Offload.Protocol;

namespace Offload.Unit.Tests;

public class FrameBuilderTests
{
    private static readonly EthernetHeader Eth = new(0x0200_0000_0001, 0x0200_0000_0002);

    [Test]
    public void Arp_request_bytes_are_exact_and_padded_to_60()
    {
        byte[] f = FrameBuilder.BuildArp(new EthernetHeader(0xFFFF_FFFF_FFFF, 0x0200_0000_00AA),
            ArpPacket.Request(0x0200_0000_00AA, Ipv4Address.Parse("10.0.0.100"), Ipv4Address.Parse("10.0.0.1")));
        string expected =
            "ffffffffffff" + "0200000000aa" + "0806" +
            "0001" + "0800" + "06" + "04" + "0001" +
            "0200000000aa" + "0a000064" + "000000000000" + "0a000001" +
            new string('0', 36);
        Assert.That(Convert.ToHexString(f).ToLowerInvariant(), Is.EqualTo(expected));
    }

    [Test]
    public void Vlan_tag_goes_between_source_mac_and_ethertype()
    {
        byte[] f = FrameBuilder.BuildEthernet(Eth with { VlanTci = 0x2064 }, 0x1234, [0xAB]);
        Assert.That(Convert.ToHexString(f).ToLowerInvariant(), Is.EqualTo("020000000001020000000002" + "81002064" + "1234" + "ab"));
    }

    [Test]
    public void Udp_frame_has_valid_ip_and_udp_checksums()
    {
        var ip = new Ipv4Header(Ipv4Address.Parse("192.168.1.1"), Ipv4Address.Parse("192.168.1.2"), IpProtocol.Udp) { Ttl = 17, Identification = 7 };
        byte[] f = FrameBuilder.BuildUdp(Eth, ip, 1000, 2000, "hello"u8);
        Assert.That(f, Has.Length.EqualTo(14 + 20 + 8 + 5));
        Assert.That(InternetChecksum.IsValid(f.AsSpan(14, 20)), Is.True);
        uint pseudo = InternetChecksum.PseudoHeader(ip.Source, ip.Destination, IpProtocol.Udp, 13);
        Assert.That(InternetChecksum.Fold(InternetChecksum.Add(pseudo, f.AsSpan(34))), Is.EqualTo(0xFFFF));
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(16)), Is.EqualTo(20 + 13));
    }

    [Test]
    public void Udp_without_checksum_sends_zero_and_padding_is_not_in_total_length()
    {
        var ip = new Ipv4Header(1, 2, IpProtocol.Udp);
        byte[] f = FrameBuilder.BuildUdp(Eth, ip, 1, 2, [], checksum: false, minLength: 60);
        Assert.That(f, Has.Length.EqualTo(60));
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(40)), Is.Zero);
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(16)), Is.EqualTo(28));
        Assert.That(f.AsSpan(42).ToArray(), Is.All.Zero);
    }

    [Test]
    public void Tcp_frame_has_valid_checksums_and_flags()
    {
        var ip = new Ipv4Header(Ipv4Address.Parse("10.0.0.100"), Ipv4Address.Parse("10.0.0.1"), IpProtocol.Tcp);
        byte[] f = FrameBuilder.BuildTcp(Eth with { VlanTci = 5 }, ip, new TcpHeader(40000, 80) { Flags = TcpFlags.Fin | TcpFlags.Ack, Sequence = 9 }, "GET /"u8);
        Assert.That(InternetChecksum.IsValid(f.AsSpan(18, 20)), Is.True);
        uint pseudo = InternetChecksum.PseudoHeader(ip.Source, ip.Destination, IpProtocol.Tcp, 25);
        Assert.That(InternetChecksum.Fold(InternetChecksum.Add(pseudo, f.AsSpan(38))), Is.EqualTo(0xFFFF));
        Assert.That(f[38 + 13], Is.EqualTo(0x11));
        Assert.That(f[38 + 12], Is.EqualTo(0x50));
    }

    [Test]
    public void Ipv4_options_set_ihl_and_are_covered_by_the_checksum()
    {
        var ip = new Ipv4Header(1, 2, IpProtocol.Icmp) { Options = new byte[] { 1, 1, 1, 0 } };
        byte[] f = FrameBuilder.BuildIpv4(Eth, ip, [8, 0, 0, 0]);
        Assert.That(f[14], Is.EqualTo(0x46));
        Assert.That(InternetChecksum.IsValid(f.AsSpan(14, 24)), Is.True);
    }

    [Test]
    public void Too_small_span_is_rejected()
    {
        var buffer = new byte[40];
        Assert.That(() => FrameBuilder.Udp(buffer, Eth, new Ipv4Header(1, 2, IpProtocol.Udp), 1, 2, []),
            Throws.ArgumentException.With.Message.Contains("42"));
    }

    [Test]
    public void Ipv4_address_parse_and_format_round_trip()
    {
        Assert.That(Ipv4Address.Parse("10.1.2.254"), Is.EqualTo(0x0A0102FE));
        Assert.That(Ipv4Address.Format(0xC0A80001), Is.EqualTo("192.168.0.1"));
        Assert.That(() => Ipv4Address.Parse("10.1.2"), Throws.TypeOf<FormatException>());
        Assert.That(() => Ipv4Address.Parse("10.1.2.256"), Throws.TypeOf<FormatException>());
    }
}
