using System.Diagnostics;
using Offload.Protocol.Glbp;
using Offload.Protocol.Pcap;
using static Offload.Protocol.Tests.GlbpSamples;

namespace Offload.Protocol.Tests;

/// <summary>Offload's load TLV (0xF2): layout, round trip, rejection, and that other decoders skip it.</summary>
public class GlbpOffloadLoadTests
{
    private static byte[] HelloWithLoads(params GlbpOffloadLoad[] loads)
    {
        var buffer = new byte[GlbpProtocol.MaxLength];
        var w = new GlbpWriter(buffer, Header);
        w.WriteHello(Hello);
        w.WriteForwarder(Forwarder(1));
        w.WriteForwarder(Forwarder(2, GlbpVfState.Listen));
        foreach (var l in loads)
            w.WriteOffloadLoad(l);
        return w.Written.ToArray();
    }

    [Test]
    public void Load_tlv_has_its_documented_layout()
    {
        byte[] m = HelloWithLoads(new GlbpOffloadLoad(1, 0x0001_E240, 0x0102_0304));
        Assert.That(m[^12..], Is.EqualTo(new byte[] { 0xF2, 12, 1, 0, 0x00, 0x01, 0xE2, 0x40, 0x01, 0x02, 0x03, 0x04 }));
    }

    [Test]
    public void Load_tlvs_decode_with_every_other_tlv_intact()
    {
        var loads = new[] { new GlbpOffloadLoad(1, 123_456, 77), new GlbpOffloadLoad(200, uint.MaxValue, 0) { Reserved = 9 } };
        byte[] m = HelloWithLoads(loads);
        GlbpResult r = GlbpPacket.TryDecode(m, out GlbpPacket p);
        Assert.That(r.IsOk, Is.True, r.Message);
        var got = new List<GlbpOffloadLoad>();
        foreach (GlbpOffloadLoad l in p.OffloadLoads)
            got.Add(l);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(got, Is.EqualTo(loads), "reserved byte kept, so a relayed TLV is unchanged");
            Assert.That(p.Hello, Is.EqualTo(Hello));
            Assert.That(p.ForwarderCount, Is.EqualTo(2));
        }
    }

    [Test]
    public void A_decoder_that_does_not_know_the_type_skips_it_by_length()
    {
        // What Cisco and Wireshark see: a TLV of a type they do not know, then more TLVs they do.
        var buffer = new byte[200];
        var w = new GlbpWriter(buffer, Header);
        w.WriteHello(Hello);
        w.WriteOffloadLoad(new GlbpOffloadLoad(1, 5, 6));
        w.WriteForwarder(Forwarder(1));
        Assert.That(GlbpPacket.TryDecode(w.Written, out GlbpPacket p).IsOk, Is.True);
        var types = new List<(byte, int)>();
        foreach (GlbpPacket.Tlv t in p.Tlvs)
            types.Add((t.Type, t.Raw.Length));
        Assert.That(types, Is.EqualTo(new[] { ((byte)1, 28), (GlbpTlvType.OffloadLoad, 12), ((byte)2, 20) }));
        Assert.That(p.ForwarderCount, Is.EqualTo(1));
    }

    [TestCase(0.0, 0u)]
    [TestCase(-3.0, 0u)]
    [TestCase(double.NaN, 0u)]
    [TestCase(1.5, 2u)]
    [TestCase(4294967295.4, uint.MaxValue)]
    [TestCase(1e12, uint.MaxValue)]
    public void Rates_are_rounded_and_clamped_into_the_field(double value, uint wire) =>
        Assert.That(GlbpOffloadLoad.ToWire(value), Is.EqualTo(wire));

    [Test]
    public void Writing_a_load_for_forwarder_0_is_refused() =>
        Assert.That(() => HelloWithLoads(new GlbpOffloadLoad(0, 1, 1)), Throws.InstanceOf<ArgumentOutOfRangeException>());

    [Test]
    public void A_load_tlv_is_covered_by_the_hmac_like_every_other_tlv()
    {
        byte[] key = "k"u8.ToArray();
        var buffer = new byte[200];
        var w = new GlbpWriter(buffer, Header);
        w.WriteOffloadAuth(1, 1);
        w.WriteHello(Hello);
        w.WriteOffloadLoad(new GlbpOffloadLoad(1, 100, 0));
        byte[] m = w.Written.ToArray();
        GlbpAuthenticator.SignOffload(m, SourceIp, key);
        var settings = new GlbpAuthSettings(GlbpAuthMode.OffloadHmacSha256, key, 1);
        GlbpPacket.TryDecode(m, out GlbpPacket ok);
        Assert.That(GlbpAuthenticator.Verify(ok, SourceIp, settings), Is.EqualTo(GlbpAuthStatus.Ok));
        m[^5]++; // packets/s 100 → 356
        GlbpPacket.TryDecode(m, out GlbpPacket tampered);
        Assert.That(GlbpAuthenticator.Verify(tampered, SourceIp, settings), Is.Not.EqualTo(GlbpAuthStatus.Ok));
    }
}

/// <summary>Wireshark's dissector on a hello carrying our load TLV: shown as an unknown TLV, nothing malformed.</summary>
[Category("System")]
public class GlbpOffloadLoadTsharkTests
{
    [OneTimeSetUp]
    public void RequireTshark()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("tshark", "--version") { RedirectStandardOutput = true, RedirectStandardError = true });
            p?.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Ignore("tshark is not installed");
        }
    }

    private static string Tshark(string pcap, params string[] args)
    {
        var psi = new ProcessStartInfo("tshark") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in (string[])["-r", pcap, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", .. args])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("tshark did not start");
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.Zero, stderr.Result);
        return stdout;
    }

    [Test]
    public void Tshark_decodes_a_hello_with_load_tlvs_and_flags_nothing()
    {
        var buffer = new byte[GlbpProtocol.MaxLength];
        var w = new GlbpWriter(buffer, Header);
        w.WriteHello(Hello);
        w.WriteForwarder(Forwarder(1));
        w.WriteOffloadLoad(new GlbpOffloadLoad(1, 123_456, 77));
        w.WriteForwarder(Forwarder(2, GlbpVfState.Listen));
        w.WriteOffloadLoad(new GlbpOffloadLoad(2, 0, 0));
        byte[] m = w.Written.ToArray();
        string path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "glbp-load-tshark.pcap");
        using (var pw = PcapWriter.Create(path))
            pw.Write(GlbpFrame.Build(OwnerMac, SourceIp, m), 1_700_000_000_000_000_000);

        string fields = Tshark(path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,",
            "-e", "glbp.type", "-e", "glbp.length", "-e", "glbp.unknown.data", "-e", "glbp.reqresp.forwarder", "-e", "glbp.hello.virtualipv4",
            "-e", "udp.checksum.status", "-e", "_ws.malformed").TrimEnd('\n');
        string[] v = fields.Split('\t');
        string verbose = Tshark(path, "-V");
        string expert = Tshark(path, "-q", "-z", "expert").Trim();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(v[0], Is.EqualTo("1,2,242,2,242"), "TLV types in order: the load TLVs did not derail the walk");
            Assert.That(v[1], Is.EqualTo("28,20,12,20,12"));
            Assert.That(v[2], Is.EqualTo("01000001e2400000004d,02000000000000000000"), "our bytes shown as unknown TLV data");
            Assert.That(v[3], Is.EqualTo("1,2"));
            Assert.That(v[4], Is.EqualTo("10.20.20.100"));
            Assert.That(v[5], Is.EqualTo("1"), "UDP checksum good");
            Assert.That(v.Length > 6 ? v[6] : "", Is.Empty, "malformed");
            Assert.That(verbose, Does.Not.Contain("Malformed"));
            Assert.That(verbose, Does.Contain("Unknown TLV data"));
            Assert.That(expert, Is.Empty, "expert info of any severity");
        }
    }
}
