using Offload.Protocol.Glbp;
using static Offload.Protocol.Tests.GlbpSamples;

namespace Offload.Protocol.Tests;

public class GlbpCodecTests
{
    [Test]
    public void Hello_with_forwarders_has_the_published_layout()
    {
        byte[] m = Build(NoAuth, forwarders: 1);
        // header: version 1, unknown1 0, group 1021 (0x03fd), unknown2 0, owner c2:00:7c:b8:00:00
        // Hello TLV: type 1, length 28, unknown10, state 0x20, unknown11, priority 100, unknown12,
        //            hello 3000, hold 10000, redirect 600, timeout 14400, unknown13, type 1, length 4, 10.20.20.100
        // Request/Response TLV: type 2, length 20, forwarder 1, state 0x20, unknown21, priority 167, weight 100,
        //            unknown22 (7 bytes), vMAC 00:07:b4:03:fd:01
        byte[] expected = Hex(
            "01 00 03fd 0000 c2007cb80000" +
            "01 1c 00 20 00 64 0000 00000bb8 00002710 0258 3840 0000 01 04 0a141464" +
            "02 14 01 20 00 a7 64 00000000000000 0007b403fd01");
        Assert.That(m, Is.EqualTo(expected));
    }

    [Test]
    public void Decode_returns_every_field_written()
    {
        byte[] m = Build(NoAuth, forwarders: 3);
        GlbpResult r = GlbpPacket.TryDecode(m, out GlbpPacket p);
        Assert.That(r.IsOk, Is.True, r.Message);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(p.Header, Is.EqualTo(Header));
            Assert.That(p.HasHello, Is.True);
            Assert.That(p.Hello, Is.EqualTo(Hello));
            Assert.That(p.HelloAddress.ToArray(), Is.EqualTo(new byte[] { 10, 20, 20, 100 }));
            Assert.That(p.HasAuth, Is.False);
            Assert.That(p.HasOffloadAuth, Is.False);
            Assert.That(p.ForwarderCount, Is.EqualTo(3));
        }
        var forwarders = new List<GlbpForwarder>();
        foreach (GlbpForwarder f in p.Forwarders)
            forwarders.Add(f);
        Assert.That(forwarders, Is.EqualTo(new[] { Forwarder(1), Forwarder(2, GlbpVfState.Listen), Forwarder(3, GlbpVfState.Listen) }));
    }

    [Test]
    public void Unknown_fields_round_trip_so_a_relayed_message_is_unchanged()
    {
        var header = Header with { Unknown1 = 3, Unknown2 = 0xBEEF };
        var hello = Hello with { Unknown10 = 1, Unknown11 = 2, Unknown12 = 0x0304, Unknown13 = 0x0506, State = GlbpVgState.Standby };
        var fwd = Forwarder(7) with { Unknown21 = 9, Unknown22 = 0x0A0B0C, TimeoutRemaining = 0x0D0E, RedirectRemaining = 0x0F10 };
        var buffer = new byte[200];
        var w = new GlbpWriter(buffer, header);
        w.WriteHello(hello);
        w.WriteForwarder(fwd);
        byte[] m = w.Written.ToArray();

        Assert.That(GlbpPacket.TryDecode(m, out GlbpPacket p).IsOk, Is.True);
        var fs = p.Forwarders;
        Assert.That(fs.MoveNext(), Is.True);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(p.Header, Is.EqualTo(header));
            Assert.That(p.Hello, Is.EqualTo(hello));
            Assert.That(fs.Current, Is.EqualTo(fwd));
        }
        var again = new byte[200];
        var w2 = new GlbpWriter(again, p.Header);
        w2.WriteHello(p.Hello);
        w2.WriteForwarder(fs.Current);
        Assert.That(w2.Written.ToArray(), Is.EqualTo(m));
    }

    [Test]
    public void Unknown_tlvs_are_skipped_by_length_and_still_enumerated()
    {
        var buffer = new byte[200];
        var w = new GlbpWriter(buffer, Header);
        w.WriteTlv(4, [1, 2, 3, 4, 5, 6, 7, 8]);
        w.WriteHello(Hello);
        w.WriteTlv(0x99, [0xFF]);
        w.WriteForwarder(Forwarder(1));
        Assert.That(GlbpPacket.TryDecode(w.Written, out GlbpPacket p).IsOk, Is.True);
        var types = new List<(byte Type, int Offset, int Length)>();
        foreach (GlbpPacket.Tlv t in p.Tlvs)
            types.Add((t.Type, t.Offset, t.Value.Length));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(types, Is.EqualTo(new[] { ((byte)4, 12, 8), ((byte)1, 22, 26), ((byte)0x99, 50, 1), ((byte)2, 53, 18) }));
            Assert.That(p.Hello, Is.EqualTo(Hello));
            Assert.That(p.ForwarderCount, Is.EqualTo(1));
        }
    }

    [Test]
    public void Auth_variants_decode()
    {
        byte[] none = Build((ref GlbpWriter w) => w.WriteAuthNone());
        byte[] text = Build((ref GlbpWriter w) => w.WriteAuthText("s3cret!"u8));
        byte[] md5 = Build((ref GlbpWriter w) => w.WriteAuthMd5KeyString());
        byte[] chain = Build((ref GlbpWriter w) => w.WriteAuthMd5KeyChain(0x01020304));

        Assert.That(GlbpPacket.TryDecode(none, out GlbpPacket p0).IsOk, Is.True);
        Assert.That(GlbpPacket.TryDecode(text, out GlbpPacket p1).IsOk, Is.True);
        Assert.That(GlbpPacket.TryDecode(md5, out GlbpPacket p2).IsOk, Is.True);
        Assert.That(GlbpPacket.TryDecode(chain, out GlbpPacket p3).IsOk, Is.True);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(none[12..16], Is.EqualTo(new byte[] { 3, 4, 0, 0 }));
            Assert.That(p0.Auth.Type, Is.EqualTo(GlbpAuthType.None));
            Assert.That(p1.Auth.Type, Is.EqualTo(GlbpAuthType.PlainText));
            Assert.That(p1.Auth.Text.ToArray(), Is.EqualTo("s3cret!"u8.ToArray()));
            Assert.That(text[12..16], Is.EqualTo(new byte[] { 3, 11, 1, 7 }));
            Assert.That(p2.Auth.Type, Is.EqualTo(GlbpAuthType.Md5KeyString));
            Assert.That(p2.Auth.DigestOffset, Is.EqualTo(16));
            Assert.That(md5[12..16], Is.EqualTo(new byte[] { 3, 20, 2, 16 }));
            Assert.That(p3.Auth.Type, Is.EqualTo(GlbpAuthType.Md5KeyChain));
            Assert.That(p3.Auth.KeyId, Is.EqualTo(0x01020304u));
            Assert.That(p3.Auth.DigestOffset, Is.EqualTo(20));
            Assert.That(chain[12..20], Is.EqualTo(new byte[] { 3, 24, 3, 20, 1, 2, 3, 4 }));
            Assert.That(p3.Hello, Is.EqualTo(Hello));
            Assert.That(p3.ForwarderCount, Is.EqualTo(2));
        }
    }

    [Test]
    public void Offload_auth_tlv_decodes()
    {
        byte[] m = Build((ref GlbpWriter w) => w.WriteOffloadAuth(0x1234, 0xCAFEBABE));
        Assert.That(GlbpPacket.TryDecode(m, out GlbpPacket p).IsOk, Is.True);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(m[12..16], Is.EqualTo(new byte[] { 0xF1, 42, 1, 0 }));
            Assert.That(p.HasOffloadAuth, Is.True);
            Assert.That(p.HasAuth, Is.False);
            Assert.That(p.OffloadAuth.KeyId, Is.EqualTo(0x1234));
            Assert.That(p.OffloadAuth.Sequence, Is.EqualTo(0xCAFEBABEu));
            Assert.That(p.OffloadAuth.Mac.Length, Is.EqualTo(32));
        }
    }

    [Test]
    public void Ipv6_hello_decodes_with_its_address_bytes()
    {
        byte[] m = Build(NoAuth, forwarders: 0, hello: false);
        byte[] address = Hex("fe80000000000000c80008fffe64aaaa");
        byte[] value = [0, 0x20, 0, 100, 0, 0, 0, 0, 0x0b, 0xb8, 0, 0, 0x27, 0x10, 0x02, 0x58, 0x38, 0x40, 0, 0, 2, 16, .. address];
        byte[] withTlv = [.. m, 1, (byte)(value.Length + 2), .. value];
        Assert.That(GlbpPacket.TryDecode(withTlv, out GlbpPacket p).IsOk, Is.True);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(p.Hello.AddressType, Is.EqualTo(GlbpAddressType.Ipv6));
            Assert.That(p.Hello.VirtualIpv4, Is.Zero);
            Assert.That(p.Hello.HelloMs, Is.EqualTo(3000));
            Assert.That(p.HelloAddress.ToArray(), Is.EqualTo(address));
        }
    }

    [TestCase((ushort)1020, (byte)1, 0x0007_B403_FC01UL)]
    [TestCase((ushort)1021, (byte)1, 0x0007_B403_FD01UL)]
    [TestCase((ushort)0, (byte)255, 0x0007_B400_00FFUL)]
    [TestCase((ushort)1023, (byte)0, 0x0007_B403_FF00UL)]
    public void Virtual_mac_packs_group_and_forwarder(ushort group, byte forwarder, ulong mac)
    {
        Assert.That(GlbpVirtualMac.Create(group, forwarder), Is.EqualTo(mac));
        Assert.That(GlbpVirtualMac.TryParse(mac, out ushort g, out byte f), Is.True);
        Assert.That((g, f), Is.EqualTo((group, forwarder)));
    }

    [Test]
    public void Virtual_mac_rejects_other_ouis_reserved_bits_and_big_groups()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(GlbpVirtualMac.TryParse(0x0007_B404_0001, out _, out _), Is.False);
            Assert.That(GlbpVirtualMac.TryParse(0x0007_B500_0001, out _, out _), Is.False);
            Assert.That(() => GlbpVirtualMac.Create(1024, 1), Throws.InstanceOf<ArgumentOutOfRangeException>());
        }
    }

    [Test]
    public void Writer_refuses_misuse()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => new GlbpWriter(new byte[64], Header with { Group = 1024 }), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => new GlbpWriter(new byte[11], Header), Throws.ArgumentException);
            Assert.That(() =>
            {
                var w = new GlbpWriter(new byte[64], Header);
                w.WriteHello(Hello);
                w.WriteAuthNone();
            }, Throws.InvalidOperationException);
            Assert.That(() =>
            {
                var w = new GlbpWriter(new byte[30], Header);
                w.WriteHello(Hello);
            }, Throws.ArgumentException);
        }
    }

    [Test]
    public void Frame_wraps_and_unwraps_with_multicast_addresses_ttl_and_valid_checksums()
    {
        byte[] m = Build(NoAuth);
        byte[] frame = GlbpFrame.Build(OwnerMac, SourceIp, m);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(frame[..6], Is.EqualTo(Hex("01005e000066")));
            Assert.That(frame[22], Is.EqualTo(255), "TTL");
            Assert.That(frame[30..34], Is.EqualTo(new byte[] { 224, 0, 0, 102 }));
            Assert.That(InternetChecksum.IsValid(frame.AsSpan(14, 20)), Is.True, "IPv4 header checksum");
            Assert.That(GlbpFrame.TryGetMessage(frame, out uint src, out ReadOnlySpan<byte> payload), Is.True);
            Assert.That(src, Is.EqualTo(SourceIp));
            Assert.That(payload.ToArray(), Is.EqualTo(m));
        }
    }

    [Test]
    public void Frame_unwrap_refuses_other_traffic_without_throwing()
    {
        byte[] frame = GlbpFrame.Build(OwnerMac, SourceIp, Build(NoAuth));
        byte[] otherPort = (byte[])frame.Clone();
        otherPort[36] = 0x12; // destination port
        byte[] fragment = (byte[])frame.Clone();
        fragment[20] = 0x20; // more fragments
        using (Assert.EnterMultipleScope())
        {
            Assert.That(GlbpFrame.TryGetMessage(otherPort, out _, out _), Is.False);
            Assert.That(GlbpFrame.TryGetMessage(fragment, out _, out _), Is.False);
            for (int n = 0; n < 42; n++)
                Assert.That(GlbpFrame.TryGetMessage(frame.AsSpan(0, n), out _, out _), Is.False, $"cut at {n}");
        }
    }
}
