using System.Diagnostics;
using Offload.Protocol;
using Offload.Protocol.Glbp;
using Offload.Protocol.Pcap;
using static Offload.Protocol.Tests.GlbpSamples;

namespace Offload.Protocol.Tests;

/// <summary>
/// Writes our GLBP frames to a pcap and has Wireshark's own dissector (tshark) decode them: every field must read
/// back as we meant it, with checksums verified and no malformed-packet or expert-info errors.
/// </summary>
[Category("System")]
public class GlbpTsharkTests
{
    private static readonly byte[] Key = "Blabla"u8.ToArray();

    // Wireshark's checksum status values: 0 bad, 1 good, 2 unverified (verification is switched on below).
    private const string ChecksumGood = "1";

    private sealed record Sample(string Name, byte[] Message, Dictionary<string, string> Fields);

    // tshark 4.0 prints byte fields as plain hex (Ethernet addresses keep their colons).
    private static string Hex(ReadOnlySpan<byte> b) => Convert.ToHexStringLower(b);

    private static Dictionary<string, string> HelloFields(string types, string lengths) => new()
    {
        ["glbp.version"] = "1",
        ["glbp.unknown1"] = "0",
        ["glbp.group"] = "1021",
        ["glbp.unknown2"] = "0000",
        ["glbp.ownerid"] = "c2:00:7c:b8:00:00",
        ["glbp.type"] = types,
        ["glbp.length"] = lengths,
        ["glbp.hello.vgstate"] = "32",
        ["glbp.hello.priority"] = "100",
        ["glbp.hello.helloint"] = "3000",
        ["glbp.hello.holdint"] = "10000",
        ["glbp.hello.redirect"] = "600",
        ["glbp.hello.timeout"] = "14400",
        ["glbp.hello.addrtype"] = "1",
        ["glbp.hello.addrlen"] = "4",
        ["glbp.hello.virtualipv4"] = "10.20.20.100",
        ["glbp.reqresp.forwarder"] = "1,2",
        ["glbp.reqresp.vfstate"] = "32,4",
        ["glbp.reqresp.priority"] = "167,167",
        ["glbp.reqresp.weight"] = "100,100",
        ["glbp.reqresp.virtualmac"] = "00:07:b4:03:fd:01,00:07:b4:03:fd:02",
    };

    private static Dictionary<string, string> With(Dictionary<string, string> d, params (string Key, string Value)[] more)
    {
        foreach (var (k, v) in more)
            d[k] = v;
        return d;
    }

    private static List<Sample> Samples()
    {
        var list = new List<Sample>
        {
            new("hello, no auth TLV", Build(NoAuth), HelloFields("1,2,2", "28,20,20")),
            new("auth none", Build((ref GlbpWriter w) => w.WriteAuthNone()),
                With(HelloFields("3,1,2,2", "4,28,20,20"), ("glbp.auth.authtype", "0"), ("glbp.auth.authlength", "0"))),
            new("plain text", Build((ref GlbpWriter w) => w.WriteAuthText(Key)),
                With(HelloFields("3,1,2,2", "10,28,20,20"), ("glbp.auth.authtype", "1"), ("glbp.auth.authlength", "6"), ("glbp.auth.plainpass", "Blabla"))),
        };

        byte[] md5 = Build((ref GlbpWriter w) => w.WriteAuthMd5KeyString());
        GlbpAuthenticator.SignMd5(md5, SourceIp, Key);
        list.Add(new("md5 key-string", md5, With(HelloFields("3,1,2,2", "20,28,20,20"),
            ("glbp.auth.authtype", "2"), ("glbp.auth.authlength", "16"), ("glbp.auth.md5hash", Hex(md5.AsSpan(16, 16))))));

        byte[] chain = Build((ref GlbpWriter w) => w.WriteAuthMd5KeyChain(42));
        GlbpAuthenticator.SignMd5(chain, SourceIp, Key);
        list.Add(new("md5 key-chain", chain, With(HelloFields("3,1,2,2", "24,28,20,20"),
            ("glbp.auth.authtype", "3"), ("glbp.auth.authlength", "20"), ("glbp.auth.md5chainindex", "42"), ("glbp.auth.md5chainhash", Hex(chain.AsSpan(20, 16))))));

        byte[] hmac = Build((ref GlbpWriter w) => w.WriteOffloadAuth(7, 0x01020304));
        GlbpAuthenticator.SignOffload(hmac, SourceIp, Key);
        list.Add(new("offload hmac (unknown TLV to Wireshark)", hmac, With(HelloFields("241,1,2,2", "42,28,20,20"),
            ("glbp.unknown.data", Hex(hmac.AsSpan(14, 40))))));

        // A standby gateway of group 0 announcing one listening forwarder; and a lone Request/Response of group 1023.
        var standby = new GlbpHello(GlbpVgState.Standby, 255, 1000, 3000, 0, 65535, Ipv4Address.Parse("192.168.0.1"));
        var buffer = new byte[100];
        var w0 = new GlbpWriter(buffer, new GlbpHeader(0, 0x0200_0000_0002));
        w0.WriteHello(standby);
        w0.WriteForwarder(new GlbpForwarder(255, GlbpVfState.Listen, 1, 0, GlbpVirtualMac.Create(0, 255)));
        list.Add(new("standby, group 0", w0.Written.ToArray(), new()
        {
            ["glbp.group"] = "0",
            ["glbp.ownerid"] = "02:00:00:00:00:02",
            ["glbp.hello.vgstate"] = "16",
            ["glbp.hello.priority"] = "255",
            ["glbp.hello.helloint"] = "1000",
            ["glbp.hello.holdint"] = "3000",
            ["glbp.hello.redirect"] = "0",
            ["glbp.hello.timeout"] = "65535",
            ["glbp.hello.virtualipv4"] = "192.168.0.1",
            ["glbp.reqresp.forwarder"] = "255",
            ["glbp.reqresp.vfstate"] = "4",
            ["glbp.reqresp.priority"] = "1",
            ["glbp.reqresp.weight"] = "0",
            ["glbp.reqresp.virtualmac"] = "00:07:b4:00:00:ff",
        }));
        var w1 = new GlbpWriter(buffer, new GlbpHeader(1023, 0x0200_0000_0003));
        w1.WriteForwarder(new GlbpForwarder(3, GlbpVfState.Active, 135, 254, GlbpVirtualMac.Create(1023, 3)));
        list.Add(new("request/response only, group 1023", w1.Written.ToArray(), new()
        {
            ["glbp.group"] = "1023",
            ["glbp.type"] = "2",
            ["glbp.hello.vgstate"] = "",
            ["glbp.reqresp.forwarder"] = "3",
            ["glbp.reqresp.vfstate"] = "32",
            ["glbp.reqresp.priority"] = "135",
            ["glbp.reqresp.weight"] = "254",
            ["glbp.reqresp.virtualmac"] = "00:07:b4:03:ff:03",
        }));
        return list;
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

    /// <summary>
    /// The expert-info summary. GLBP's dissector files its complaints without a tree item, so they show up neither
    /// in -V nor as _ws.expert fields, only in this tap.
    /// </summary>
    private static string Expert(string pcap) => Tshark(pcap, "-q", "-z", "expert").Trim();

    private static string WritePcap(List<Sample> samples)
    {
        string path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "glbp-tshark.pcap");
        using var w = PcapWriter.Create(path);
        long t = 1_700_000_000_000_000_000;
        foreach (Sample s in samples)
        {
            GlbpPacket.TryDecode(s.Message, out GlbpPacket p);
            w.Write(GlbpFrame.Build(p.Header.OwnerMac, SourceIp, s.Message), t += 1_000_000);
        }
        return path;
    }

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

    [Test]
    public void Tshark_decodes_every_field_as_written()
    {
        List<Sample> samples = Samples();
        string pcap = WritePcap(samples);
        string[] fields = samples.SelectMany(s => s.Fields.Keys).Distinct().Order(StringComparer.Ordinal).ToArray();
        string[] frameFields = ["eth.dst", "ip.src", "ip.dst", "ip.ttl", "udp.srcport", "udp.dstport", "ip.checksum.status", "udp.checksum.status", "_ws.malformed"];
        string[] all = [.. frameFields, .. fields];
        string output = Tshark(pcap, ["-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,", .. all.SelectMany(f => new[] { "-e", f })]);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(samples.Count));
        Assert.That(Expert(pcap), Is.Empty, "expert info of any severity");
        for (int i = 0; i < samples.Count; i++)
        {
            string[] values = lines[i].Split('\t');
            var got = all.Select((f, k) => (f, v: k < values.Length ? values[k] : "")).ToDictionary(x => x.f, x => x.v);
            using (Assert.EnterMultipleScope())
            {
                string name = samples[i].Name;
                Assert.That(got["eth.dst"], Is.EqualTo("01:00:5e:00:00:66"), name);
                Assert.That(got["ip.src"], Is.EqualTo("10.20.20.2"), name);
                Assert.That(got["ip.dst"], Is.EqualTo("224.0.0.102"), name);
                Assert.That(got["ip.ttl"], Is.EqualTo("255"), name);
                Assert.That(got["udp.srcport"], Is.EqualTo("3222"), name);
                Assert.That(got["udp.dstport"], Is.EqualTo("3222"), name);
                Assert.That(got["ip.checksum.status"], Is.EqualTo(ChecksumGood), name + ": IPv4 checksum good");
                Assert.That(got["udp.checksum.status"], Is.EqualTo(ChecksumGood), name + ": UDP checksum good");
                Assert.That(got["_ws.malformed"], Is.Empty, name + ": malformed");
                foreach (var (field, want) in samples[i].Fields)
                    Assert.That(got[field], Is.EqualTo(want), $"{name}: {field}");
            }
        }
    }

    [Test]
    public void Tshark_verbose_dump_shows_glbp_everywhere_and_no_errors()
    {
        List<Sample> samples = Samples();
        string text = Tshark(WritePcap(samples), "-V");
        int glbp = text.Split('\n').Count(l => l.StartsWith("Gateway Load Balancing Protocol", StringComparison.Ordinal));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(glbp, Is.EqualTo(samples.Count));
            Assert.That(text, Does.Not.Contain("Malformed"));
            Assert.That(text, Does.Not.Contain("Expert Info"));
            // Wireshark has no case for auth type None and shows its zero bytes of data as "<MISSING>" (not an
            // error); anything else missing would mean a field we cut short.
            Assert.That(text.Split('\n').Where(l => l.Contains("<MISSING>", StringComparison.Ordinal)).Select(l => l.Trim()),
                Is.EqualTo(new[] { "Unknown auth value: <MISSING>" }));
            Assert.That(text, Does.Not.Contain("[Checksum Status: Bad]"));
            Assert.That(text, Does.Contain("VG state?: Active (32)"));
            Assert.That(text, Does.Contain("Virtual IPv4: 10.20.20.100"));
            Assert.That(text, Does.Contain("Plain pass: Blabla"));
            Assert.That(text, Does.Contain("Virtualmac: Cisco_03:fd:01 (00:07:b4:03:fd:01)"));
        }
    }

    /// <summary>Control: the checks above would see Wireshark's complaints, which match our rejection reasons.</summary>
    [TestCase(new byte[] { 9, 1, 0, 0 }, GlbpError.TlvLengthTooSmall, "Length 1 too small")]
    [TestCase(new byte[] { 9, 2, 0, 0 }, GlbpError.EmptyTlv, "Zero or negative length")]
    [TestCase(new byte[] { 1, 40, 0, 0x20, 0, 100, 0, 0, 0, 0, 0x0b, 0xb8, 0, 0, 0x27, 0x10, 0, 0, 0, 0, 0, 0, 1, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
        GlbpError.BadAddressLength, "Wrong IPv4 address length: 16")]
    public void Tshark_flags_what_we_reject(byte[] tlv, GlbpError error, string expert)
    {
        byte[] m = [.. Build(NoAuth, forwarders: 0, hello: false), .. tlv];
        Assert.That(GlbpPacket.TryDecode(m, out _).Error, Is.EqualTo(error));
        string path = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"glbp-bad-{error}.pcap");
        using (var w = PcapWriter.Create(path))
            w.Write(GlbpFrame.Build(OwnerMac, SourceIp, m), 1_700_000_000_000_000_000);
        Assert.That(Expert(path), Does.Contain("Malformed").And.Contain(expert));
    }
}
