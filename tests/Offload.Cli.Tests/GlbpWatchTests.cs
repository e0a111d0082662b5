using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Offload.Cli;
using Offload.Protocol;
using Offload.Protocol.Glbp;
using Offload.Protocol.Pcap;

namespace Offload.Cli.Tests;

/// <summary>
/// `offload glbp watch` as a user runs it: the real executable on captures written here, and live on a veth pair
/// inside a network namespace the test creates and removes.
/// </summary>
[NonParallelizable]
public partial class GlbpWatchTests
{
    private const uint Vip = 0x0A00_00FE;
    private const uint R1 = 0x0A00_0001;
    private const uint R2 = 0x0A00_0002;
    private const long Second = 1_000_000_000;
    private const long T0 = 1_704_110_400L * Second; // 2024-01-01 12:00:00 UTC

    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"offload-glbp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static ulong Mac(uint ip) => 0x0011_2233_0000UL | (ip & 0xFF);

    /// <summary>A forwarder TLV as Cisco sends it: 167 from its owner, 135 from a secondary (counting down when Active).</summary>
    private static GlbpForwarder Fwd(byte number, GlbpVfState state, bool owner = true, ushort timeout = 14_400, ushort redirect = 600, byte weight = 100) =>
        new(number, state, owner ? (byte)167 : (byte)135, weight, GlbpVirtualMac.Create(1, number)) { TimeoutRemaining = timeout, RedirectRemaining = redirect };

    /// <summary>A hello as Cisco sends it: its own MAC in the header, the first vMAC it forwards as the Ethernet source.</summary>
    private static byte[] HelloFrame(uint router, GlbpVgState state, byte priority, params GlbpForwarder[] forwarders)
    {
        var buffer = new byte[GlbpProtocol.MaxLength];
        var w = new GlbpWriter(buffer, new GlbpHeader(1, Mac(router)));
        w.WriteHello(new GlbpHello(state, priority, 3000, 10_000, 600, 14_400, Vip));
        foreach (GlbpForwarder f in forwarders)
            w.WriteForwarder(f);
        ulong source = forwarders.Where(f => f.State == GlbpVfState.Active).Select(f => f.VirtualMac).FirstOrDefault(Mac(router));
        return GlbpFrame.Build(source, router, w.Written);
    }

    /// <summary>The same frame with an 802.1Q tag (VLAN 10) after the MAC addresses.</summary>
    private static byte[] Tagged(byte[] frame)
    {
        byte[] tagged = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(tagged);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12), EtherType.Vlan);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14), 10);
        frame.AsSpan(12).CopyTo(tagged.AsSpan(16));
        return tagged;
    }

    /// <summary>
    /// Two routers elect, R2 goes quiet, R1 stands in for forwarder 2 as its secondary; around them an ARP, a TCP
    /// segment and a GLBP message too short to decode. R2's hellos are VLAN-tagged.
    /// </summary>
    private static List<(long Time, byte[] Frame)> Scenario()
    {
        var arp = FrameBuilder.BuildArp(new EthernetHeader(0xFFFF_FFFF_FFFF, 0x0200_0000_1000), ArpPacket.Request(0x0200_0000_1000, 0x0A00_0064, Vip));
        var tcp = FrameBuilder.BuildTcp(new EthernetHeader(0x0007_B400_0101, 0x0200_0000_1000), new Ipv4Header(0x0A00_0064, 0xC000_020A, 6),
            new TcpHeader(40000, 80), new byte[16]);
        return
        [
            (T0, HelloFrame(R1, GlbpVgState.Listen, 150)),
            (T0 + (Second / 2), Tagged(HelloFrame(R2, GlbpVgState.Listen, 100))),
            (T0 + Second, arp),
            (T0 + (3 * Second), HelloFrame(R1, GlbpVgState.Speak, 150)),
            (T0 + (6 * Second), HelloFrame(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active))),
            (T0 + (6 * Second) + (Second / 2), Tagged(HelloFrame(R2, GlbpVgState.Standby, 100, Fwd(1, GlbpVfState.Listen, owner: false), Fwd(2, GlbpVfState.Active)))),
            (T0 + (7 * Second), tcp),
            (T0 + (8 * Second), GlbpFrame.Build(Mac(R2), R2, [1, 0, 0, 1])),
            (T0 + (9 * Second), HelloFrame(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Listen, owner: false))),
            (T0 + (12 * Second), HelloFrame(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Listen, owner: false))),
            (T0 + (15 * Second), HelloFrame(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Listen, owner: false))),
            (T0 + (18 * Second), HelloFrame(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Active, owner: false, timeout: 14_398, redirect: 598))),
        ];
    }

    private string WritePcap(string name, IEnumerable<(long Time, byte[] Frame)> frames)
    {
        string path = Path.Combine(_dir, name);
        using var w = PcapWriter.Create(path);
        foreach (var (time, frame) in frames)
            w.Write(frame, time);
        return path;
    }

    /// <summary>A little-endian pcapng: section header, one Ethernet interface (microseconds), enhanced packets.</summary>
    private string WritePcapNg(string name, IEnumerable<(long Time, byte[] Frame)> frames)
    {
        var bytes = new List<byte>();
        void Block(uint type, byte[] body)
        {
            int padded = (body.Length + 3) & ~3;
            int total = 12 + padded;
            Span<byte> b = stackalloc byte[total];
            b.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(b, type);
            BinaryPrimitives.WriteInt32LittleEndian(b[4..], total);
            body.CopyTo(b[8..]);
            BinaryPrimitives.WriteInt32LittleEndian(b[^4..], total);
            bytes.AddRange(b);
        }
        byte[] shb = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(shb, 0x1A2B3C4D);
        BinaryPrimitives.WriteUInt16LittleEndian(shb.AsSpan(4), 1);
        BinaryPrimitives.WriteInt64LittleEndian(shb.AsSpan(8), -1);
        Block(0x0A0D0D0A, shb);
        byte[] idb = new byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(idb, LinkType.Ethernet);
        BinaryPrimitives.WriteUInt32LittleEndian(idb.AsSpan(4), 65535);
        Block(1, idb);
        foreach (var (time, frame) in frames)
        {
            byte[] epb = new byte[20 + frame.Length];
            ulong micros = (ulong)(time / 1000);
            BinaryPrimitives.WriteUInt32LittleEndian(epb.AsSpan(4), (uint)(micros >> 32));
            BinaryPrimitives.WriteUInt32LittleEndian(epb.AsSpan(8), (uint)micros);
            BinaryPrimitives.WriteInt32LittleEndian(epb.AsSpan(12), frame.Length);
            BinaryPrimitives.WriteInt32LittleEndian(epb.AsSpan(16), frame.Length);
            frame.CopyTo(epb, 20);
            Block(6, epb);
        }
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, [.. bytes]);
        return path;
    }

    private static string DotnetHost() => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    private static string OffloadDll() => Path.Combine(AppContext.BaseDirectory, "offload.dll");

    /// <summary>Runs a program to the end and returns its exit code and output.</summary>
    private static (int Code, string Out, string Err) Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', args)} did not finish in 2 minutes");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static (int Code, string Out, string Err) Offload(params string[] args) => Run(DotnetHost(), [OffloadDll(), .. args]);

    private static void CheckScenario(JsonNode doc)
    {
        JsonNode g = doc["groups"]!.AsArray().Single()!;
        var members = g["members"]!.AsArray();
        var forwarders = g["forwarders"]!.AsArray();
        var changes = doc["changes"]!.AsArray();
        var kinds = changes.Select(c => (string)c!["kind"]!).ToList();
        Assert.Multiple(() =>
        {
            Assert.That((int)doc["frames"]!, Is.EqualTo(12));
            Assert.That((int)doc["glbpMessages"]!, Is.EqualTo(10), "the ARP and TCP frames are skipped; the tagged hellos are not");
            Assert.That((int)g["group"]!, Is.EqualTo(1));
            Assert.That((string?)g["virtualIp"], Is.EqualTo("10.0.0.254"));
            Assert.That((string?)g["authentication"], Is.EqualTo("none"));
            Assert.That((int)g["timers"]!["helloMs"]!, Is.EqualTo(3000));
            Assert.That((int)g["timers"]!["holdMs"]!, Is.EqualTo(10_000));
            Assert.That((int)g["timers"]!["redirectSeconds"]!, Is.EqualTo(600));
            Assert.That((int)g["timers"]!["timeoutSeconds"]!, Is.EqualTo(14_400));
            Assert.That((string?)g["active"]!["ip"], Is.EqualTo("10.0.0.1"));
            Assert.That((int)g["active"]!["priority"]!, Is.EqualTo(150));
            Assert.That(g["standby"], Is.Null, "R2 went silent");
            Assert.That(members.Select(m => ((string?)m!["ip"], (string?)m["state"], (bool)m["silent"]!)), Is.EqualTo(new[]
            {
                ("10.0.0.1", "Active", false), ("10.0.0.2", "Standby", true),
            }));
            Assert.That(members.Select(m => ((string?)m!["mac"], (string?)m["sourceMac"])), Is.EqualTo(new[]
            {
                ("0011.2233.0001", "0007.b400.0101"), ("0011.2233.0002", "0007.b400.0102"),
            }), "members are named by their own MAC, not by the vMAC their hellos come from");
            Assert.That(forwarders.Select(f => ((int)f!["number"]!, (string?)f["vmac"], (string?)f["state"], (string?)f["forwardedBy"], (string?)f["owner"], (bool)f["standIn"]!)), Is.EqualTo(new[]
            {
                (1, "0007.b400.0101", "Active", "10.0.0.1", "10.0.0.1", false), (2, "0007.b400.0102", "Active", "10.0.0.1", "10.0.0.2", true),
            }));
            Assert.That(((int?)forwarders[1]!["redirectRemainingSeconds"], (int?)forwarders[1]!["timeoutRemainingSeconds"]), Is.EqualTo(((int?)598, (int?)14_398)));
            Assert.That(kinds, Does.Contain("MemberSilent"));
            var silent = changes.Single(c => (string?)c!["kind"] == "MemberSilent")!;
            Assert.That((string?)silent["time"], Is.EqualTo("2024-01-01T12:00:16.5000000Z"), "silence is dated in capture time: last heard 6.5 s + hold 10 s");
            Assert.That(kinds, Does.Not.Contain("ForwarderOwner"), "a stand-in is not a new owner");
            Assert.That(changes.Where(c => (string?)c!["kind"] == "ForwarderStandIn").Select(c => ((string?)c!["from"], (string?)c["to"])),
                Is.EqualTo(new[] { ("none", "10.0.0.1") }));
            Assert.That((int)doc["malformed"]!["total"]!, Is.EqualTo(1));
            Assert.That((int)doc["malformed"]!["byReason"]!["TooShort"]!, Is.EqualTo(1));
        });
    }

    [Test]
    public void Watch_reads_a_pcap_and_prints_the_groups_as_json()
    {
        string pcap = WritePcap("glbp.pcap", Scenario());
        var (code, stdout, stderr) = Offload("glbp", "watch", "--pcap", pcap, "--json");
        Assert.That(code, Is.Zero, stderr);
        CheckScenario(JsonNode.Parse(stdout)!);
    }

    /// <summary>
    /// A Cisco-shaped IPv6 group with MD5 (the digest unverifiable here) and the type-4 TLV Cisco sends beside it:
    /// R2 fails, R1 stands in for its forwarder counting down, R2 returns and reclaims it with 167.
    /// </summary>
    private static List<(long Time, byte[] Frame)> Ipv6Scenario()
    {
        UInt128 r1 = BinaryPrimitives.ReadUInt128BigEndian(Convert.FromHexString("FE800000000000000211223300FE0001"));
        UInt128 r2 = BinaryPrimitives.ReadUInt128BigEndian(Convert.FromHexString("FE800000000000000211223300FE0002"));
        byte[] Hello6(UInt128 from, uint router, GlbpVgState state, byte priority, params GlbpForwarder[] forwarders)
        {
            var buffer = new byte[GlbpProtocol.MaxLength];
            var w = new GlbpWriter(buffer, new GlbpHeader(1, Mac(router)));
            w.WriteAuthMd5KeyString();
            byte[] hello = new byte[GlbpHello.FixedLength + 16 - 2];
            hello[1] = (byte)state;
            hello[3] = priority;
            BinaryPrimitives.WriteUInt32BigEndian(hello.AsSpan(6), 3000);
            BinaryPrimitives.WriteUInt32BigEndian(hello.AsSpan(10), 10_000);
            BinaryPrimitives.WriteUInt16BigEndian(hello.AsSpan(14), 600);
            BinaryPrimitives.WriteUInt16BigEndian(hello.AsSpan(16), 14_400);
            hello[20] = (byte)GlbpAddressType.Ipv6;
            hello[21] = 16;
            Convert.FromHexString("20010DB8000000000000000000000001").CopyTo(hello.AsSpan(22));
            w.WriteTlv(GlbpTlvType.Hello, hello);
            w.WriteTlv(GlbpTlvType.CiscoPeers, Convert.FromHexString("01070000000A001122330099000000000B00"));
            foreach (GlbpForwarder f in forwarders)
                w.WriteForwarder(f);
            ulong source = forwarders.Where(f => f.State == GlbpVfState.Active).Select(f => f.VirtualMac).FirstOrDefault(Mac(router));
            return GlbpFrame.BuildIpv6(source, from, w.Written);
        }
        var frames = new List<(long, byte[])>
        {
            (T0, Hello6(r1, R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Listen, owner: false))),
            (T0 + Second, Hello6(r2, R2, GlbpVgState.Standby, 100, Fwd(1, GlbpVfState.Listen, owner: false), Fwd(2, GlbpVfState.Active))),
        };
        // R2 goes quiet after 1 s; R1 hellos every 3 s, standing in for forwarder 2 from 12 s, counting down.
        for (int t = 3; t <= 30; t += 3)
        {
            GlbpForwarder two = t >= 12
                ? Fwd(2, GlbpVfState.Active, owner: false, timeout: (ushort)(14_400 - (t - 11)), redirect: (ushort)(600 - (t - 11)))
                : Fwd(2, GlbpVfState.Listen, owner: false);
            frames.Add((T0 + (t * Second), Hello6(r1, R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), two)));
        }
        // R2 returns: Listen with 167 for its forwarder, then takes it back; R1 goes back to listening.
        frames.Add((T0 + (31 * Second), Hello6(r2, R2, GlbpVgState.Listen, 100, Fwd(1, GlbpVfState.Listen, owner: false), Fwd(2, GlbpVfState.Listen))));
        frames.Add((T0 + (32 * Second), Hello6(r2, R2, GlbpVgState.Listen, 100, Fwd(1, GlbpVfState.Listen, owner: false), Fwd(2, GlbpVfState.Active))));
        frames.Add((T0 + (33 * Second), Hello6(r1, R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Listen, owner: false))));
        return frames;
    }

    [Test]
    public void Watch_reads_GLBP_over_IPv6_names_members_by_their_MAC_and_shows_a_stand_in_and_the_owner_reclaiming()
    {
        string pcap = WritePcap("glbp6.pcap", Ipv6Scenario());
        var (code, stdout, stderr) = Offload("glbp", "watch", "--pcap", pcap, "--json");
        Assert.That(code, Is.Zero, stderr);
        JsonNode doc = JsonNode.Parse(stdout)!;
        JsonNode g = doc["groups"]!.AsArray().Single()!;
        var changes = doc["changes"]!.AsArray();
        Assert.Multiple(() =>
        {
            Assert.That((int)doc["glbpMessages"]!, Is.EqualTo(15));
            Assert.That((int)doc["malformed"]!["total"]!, Is.Zero, "the type-4 TLV does not break decoding");
            Assert.That(((bool)g["ipv6"]!, (string?)g["virtualIp"], (string?)g["virtualLinkLocal"]), Is.EqualTo((true, "2001:db8::1", "fe80::7:b4ff:fe00:100")));
            Assert.That((string?)g["authentication"], Is.EqualTo("md5 key-string"));
            Assert.That((int)g["unverifiedMessages"]!, Is.EqualTo(15), "nothing was checked without --key");
            Assert.That(g["members"]!.AsArray().Select(m => ((string?)m!["ip"], (string?)m["mac"])), Is.EqualTo(new[]
            {
                ("fe80::211:2233:fe:1", "0011.2233.0001"), ("fe80::211:2233:fe:2", "0011.2233.0002"),
            }));
            var two = g["forwarders"]!.AsArray()[1]!;
            Assert.That(((string?)two["forwardedBy"], (string?)two["owner"], (bool)two["standIn"]!), Is.EqualTo(("fe80::211:2233:fe:2", "fe80::211:2233:fe:2", false)));
            Assert.That(changes.Where(c => (string?)c!["kind"] == "ForwarderStandIn").Select(c => ((string?)c!["from"], (string?)c["to"])), Is.EqualTo(new[]
            {
                ("none", "fe80::211:2233:fe:1"), ("fe80::211:2233:fe:1", "fe80::211:2233:fe:2"),
            }), "taken over by the secondary, then reclaimed by its owner");
            Assert.That(changes.Select(c => (string?)c!["kind"]), Does.Not.Contain("ForwarderOwner"));
        });

        var (textCode, text, textErr) = Offload("glbp", "watch", "--pcap", pcap);
        Assert.That(textCode, Is.Zero, textErr);
        Assert.That(text, Does.Contain("not verified: give --key"));
        Assert.That(text, Does.Contain("virtual link-local address is fe80::7:b4ff:fe00:100"));
        var (keyCode, keyed, keyErr) = Offload("glbp", "watch", "--pcap", pcap, "--key", "cisco");
        Assert.That(keyCode, Is.Zero, keyErr);
        Assert.That(keyed, Does.Contain("how Cisco's MD5 digest covers an IPv6 source is not known"));
    }

    [Test]
    public void Watch_reads_a_pcapng_the_same_way()
    {
        string pcapng = WritePcapNg("glbp.pcapng", Scenario());
        var (code, stdout, stderr) = Offload("glbp", "watch", "--pcap", pcapng, "--json");
        Assert.That(code, Is.Zero, stderr);
        CheckScenario(JsonNode.Parse(stdout)!);
    }

    [Test]
    public void Watch_prints_the_change_log_then_a_show_glbp_view()
    {
        string pcap = WritePcap("glbp.pcap", Scenario());
        var (code, stdout, stderr) = Offload("glbp", "watch", "--pcap", pcap);
        Assert.That(code, Is.Zero, stderr);
        Assert.Multiple(() =>
        {
            Assert.That(stdout, Does.Contain("12:00:06.000  Grp 1    10.0.0.1 Speak -> Active"));
            Assert.That(stdout, Does.Contain("12:00:16.500  Grp 1    10.0.0.2 silent"));
            Assert.That(stdout, Does.Contain("Virtual IP address is 10.0.0.254"));
            Assert.That(stdout, Does.Contain("Hello time 3 sec, hold time 10 sec"));
            Assert.That(stdout, Does.Contain("Redirect time 600 sec, forwarder time-out 14400 sec"));
            Assert.That(stdout, Does.Contain("Active is 10.0.0.1, priority 150 (0011.2233.0001)"));
            Assert.That(stdout, Does.Contain("Standby is unknown"));
            Assert.That(stdout, Does.Contain("There are 2 forwarders (2 active)"));
            Assert.That(stdout, Does.Contain("0007.b400.0102"));
            Assert.That(stdout, Does.Contain("Malformed GLBP messages: 1"));
            Assert.That(stdout.IndexOf("Speak -> Active", StringComparison.Ordinal), Is.LessThan(stdout.IndexOf("Virtual IP address", StringComparison.Ordinal)), "the log comes before the view");
        });
    }

    [Test]
    public void Watch_checks_authentication_when_given_a_key()
    {
        byte[] key = "s3cret"u8.ToArray();
        var buffer = new byte[GlbpProtocol.MaxLength];
        var w = new GlbpWriter(buffer, new GlbpHeader(1, Mac(R1)));
        w.WriteAuthMd5KeyChain(7);
        w.WriteHello(new GlbpHello(GlbpVgState.Active, 150, 3000, 10_000, 600, 14_400, Vip));
        byte[] signed = w.Written.ToArray();
        GlbpAuthenticator.SignMd5(signed, R1, key);
        string pcap = WritePcap("md5.pcap", [(T0, GlbpFrame.Build(Mac(R1), R1, signed)), (T0 + Second, HelloFrame(R2, GlbpVgState.Active, 200))]);

        var (code, stdout, stderr) = Offload("glbp", "watch", "--pcap", pcap, "--json", "--key", "s3cret");
        Assert.That(code, Is.Zero, stderr);
        JsonNode doc = JsonNode.Parse(stdout)!;
        JsonNode g = doc["groups"]![0]!;
        Assert.Multiple(() =>
        {
            Assert.That((string?)g["authentication"], Is.EqualTo("md5 key-chain"));
            Assert.That(g["members"]!.AsArray(), Has.Count.EqualTo(1), "R2 sends no authentication and is not taken in");
            Assert.That((string?)g["active"]!["ip"], Is.EqualTo("10.0.0.1"));
            Assert.That((int)doc["authenticationFailures"]!["ModeMismatch"]!, Is.EqualTo(1));
        });

        var (wrongCode, wrongOut, _) = Offload("glbp", "watch", "--pcap", pcap, "--json", "--key", "nope");
        Assert.That(wrongCode, Is.Zero);
        Assert.That((int)JsonNode.Parse(wrongOut)!["authenticationFailures"]!["DigestMismatch"]!, Is.EqualTo(1));
    }

    private void AssertRejected(string[] args, string expected)
    {
        var (code, stdout, stderr) = Offload(["glbp", "watch", .. args]);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(2), stderr);
            Assert.That(stderr, Does.StartWith("offload: ").And.Contain(expected));
            Assert.That(stderr.TrimEnd().Split('\n'), Has.Length.EqualTo(1), "one line, no stack trace");
            Assert.That(stdout, Is.Empty, "no partial output");
        });
    }

    [Test]
    public void A_missing_file_is_named()
    {
        string path = Path.Combine(_dir, "nope.pcap");
        AssertRejected(["--pcap", path, "--json"], "nope.pcap: no such file");
    }

    [Test]
    public void A_file_that_is_not_a_capture_is_rejected()
    {
        string path = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(path, "show glbp\n");
        AssertRejected(["--pcap", path], "neither pcap nor pcapng");
    }

    [Test]
    public void A_capture_cut_off_in_its_last_record_is_read_up_to_it_with_a_warning()
    {
        string pcap = WritePcap("glbp.pcap", Scenario());
        byte[] bytes = File.ReadAllBytes(pcap);
        File.WriteAllBytes(pcap, bytes[..^10]);
        var (code, stdout, stderr) = Offload("glbp", "watch", "--pcap", pcap, "--json");
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Zero, stderr);
            Assert.That(stderr, Does.StartWith($"offload: warning: {pcap}: ").And.Contain("truncated pcap record"));
            Assert.That((int)JsonNode.Parse(stdout)!["frames"]!, Is.EqualTo(11), "every complete frame, the cut one left out");
        });
    }

    [Test]
    public void A_capture_that_is_not_ethernet_is_rejected()
    {
        string path = Path.Combine(_dir, "raw.pcap");
        using (var w = new PcapWriter(File.Create(path), linkType: 101))
            w.Write(new byte[40], T0);
        AssertRejected(["--pcap", path], "link type 101 is not Ethernet");
    }

    [Test]
    public void Pcap_and_interface_are_one_or_the_other()
    {
        AssertRejected([], "either --pcap FILE or --interface IF");
        AssertRejected(["--pcap", "a.pcap", "--interface", "eth0"], "either --pcap FILE or --interface IF");
        AssertRejected(["--pcap", "a.pcap", "--seconds", "2"], "--seconds only applies to --interface");
    }

    [Test]
    public void An_unknown_interface_is_named()
    {
        AssertRejected(["--interface", "nosuchif0", "--seconds", "1"], "nosuchif0: no such interface");
    }

    /// <summary>
    /// Live: a namespace with a veth pair; the watcher runs inside it on one end, GLBP frames go into the other
    /// end from a thread that entered the namespace. Nothing leaves the namespace, which is removed at the end.
    /// </summary>
    [Test]
    [Category("System")]
    public void Watch_decodes_glbp_live_on_an_interface_in_a_namespace()
    {
        if (Native.GetEuid() != 0)
            Assert.Fail("this test creates a network namespace and raw sockets and must run as root (CI does); run `sudo dotnet test` or skip it with --filter");
        string tag = (Environment.ProcessId % 100_000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        string ns = $"offload-gw-{tag}";
        string watchIf = $"gww{tag}";
        string sendIf = $"gws{tag}";
        Process? watcher = null;
        try
        {
            Must("ip", "netns", "add", ns);
            Must("ip", "-n", ns, "link", "add", watchIf, "type", "veth", "peer", "name", sendIf);
            Must("ip", "-n", ns, "link", "set", watchIf, "up");
            Must("ip", "-n", ns, "link", "set", sendIf, "up");

            var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in new[] { "netns", "exec", ns, DotnetHost(), OffloadDll(), "glbp", "watch", "--interface", watchIf, "--seconds", "4", "--json" })
                psi.ArgumentList.Add(a);
            watcher = Process.Start(psi)!;
            var stdout = watcher.StandardOutput.ReadToEndAsync();
            var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            var stderr = new System.Text.StringBuilder();
            watcher.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    ready.TrySetResult("");
                    return;
                }
                lock (stderr)
                    stderr.AppendLine(e.Data);
                if (e.Data.Contains("watching GLBP", StringComparison.Ordinal))
                    ready.TrySetResult(e.Data);
            };
            watcher.BeginErrorReadLine();
            Assert.That(ready.Task.Wait(60_000) && ready.Task.Result.Length > 0, Is.True, $"the watcher did not start: {stderr}");

            SendInNamespace(ns, sendIf,
            [
                HelloFrame(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Listen, owner: false)),
                Tagged(HelloFrame(R2, GlbpVgState.Standby, 100, Fwd(1, GlbpVfState.Listen, owner: false), Fwd(2, GlbpVfState.Active))),
                FrameBuilder.BuildArp(new EthernetHeader(0xFFFF_FFFF_FFFF, 0x0200_0000_1000), ArpPacket.Request(0x0200_0000_1000, 0x0A00_0064, Vip)),
                GlbpFrame.Build(Mac(R2), R2, [1, 0, 0, 1]),
                HelloFrame(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active, weight: 80), Fwd(2, GlbpVfState.Listen, owner: false)),
            ]);

            Assert.That(watcher.WaitForExit(60_000), Is.True, "the watcher did not stop after --seconds 4");
            watcher.WaitForExit();
            Assert.That(watcher.ExitCode, Is.Zero, stderr.ToString());
            string[] lines = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var streamed = lines[..^1].Select(l => JsonNode.Parse(l)!["change"]!).ToList();
            JsonNode doc = JsonNode.Parse(lines[^1])!;
            JsonNode g = doc["groups"]![0]!;
            Assert.Multiple(() =>
            {
                Assert.That(streamed.Select(c => (string?)c["kind"]), Does.Contain("MemberHeard").And.Contain("ForwarderWeight"), "changes are printed as they happen");
                Assert.That(streamed, Has.Count.EqualTo(doc["changes"]!.AsArray().Count));
                Assert.That((string?)g["active"]!["ip"], Is.EqualTo("10.0.0.1"));
                Assert.That((string?)g["standby"]!["ip"], Is.EqualTo("10.0.0.2"), "the VLAN-tagged hello was decoded");
                Assert.That((int)g["forwarders"]![0]!["weight"]!, Is.EqualTo(80));
                Assert.That((string?)g["forwarders"]![1]!["owner"], Is.EqualTo("10.0.0.2"));
                Assert.That((int)doc["malformed"]!["byReason"]!["TooShort"]!, Is.EqualTo(1));
            });
        }
        finally
        {
            if (watcher is { HasExited: false })
                watcher.Kill(entireProcessTree: true);
            watcher?.Dispose();
            // Deleting the namespace removes both veth ends with it.
            Run("ip", "netns", "del", ns);
        }
    }

    private static void Must(string program, params string[] args)
    {
        var (code, _, err) = Run(program, args);
        if (code != 0)
            Assert.Fail($"{program} {string.Join(' ', args)} failed ({code}): {err.Trim()}");
    }

    /// <summary>Sends frames out of <paramref name="iface"/> from a thread that joined the namespace (setns is per thread).</summary>
    private static void SendInNamespace(string ns, string iface, byte[][] frames)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using (var handle = File.OpenHandle($"/var/run/netns/{ns}"))
                {
                    if (Native.Setns(handle.DangerousGetHandle().ToInt32(), Native.CloneNewNet) != 0)
                        throw new InvalidOperationException($"setns({ns}) failed: errno {Marshal.GetLastPInvokeError()}");
                }
                uint index = GlbpWatch.PacketSocket.IfNameToIndex(iface);
                Assert.That(index, Is.Not.Zero, $"{iface} is not in {ns}");
                using var socket = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Unspecified);
                socket.Bind(new GlbpWatch.LinkLayerEndPoint((int)index, 0));
                foreach (byte[] frame in frames)
                {
                    socket.Send(frame);
                    Thread.Sleep(100);
                }
            }
            catch (Exception e) when (e is not AssertionException)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
            Assert.Fail($"sending inside {ns} failed: {failure}");
    }

    private static partial class Native
    {
        public const int CloneNewNet = 0x4000_0000;

        [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
        public static partial int Setns(int fd, int nstype);

        [LibraryImport("libc", EntryPoint = "geteuid")]
        public static partial uint GetEuid();
    }
}
