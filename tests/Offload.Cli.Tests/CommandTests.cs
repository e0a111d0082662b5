using Offload.Cli;
using Offload.Protocol;
using Offload.Protocol.Pcap;

namespace Offload.Cli.Tests;

/// <summary>The CLI's commands end to end on the Verilator model (what a user runs).</summary>
[NonParallelizable]
[Category("Model")]
public class CommandTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"offload-cli-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [TestCase(64)]
    [TestCase(32)]
    public void Demo_runs_on_the_model_and_agrees_with_the_reference(int width)
    {
        int rc = Demo.Run(width, hosts: 12, new DirectoryInfo(_dir));
        Assert.That(rc, Is.Zero, "the demo found the model and the reference model disagreeing");
        var port1 = PcapReader.ReadAll(Path.Combine(_dir, "demo.port1.pcap"));
        var host = PcapReader.ReadAll(Path.Combine(_dir, "demo.host.pcap"));
        Assert.Multiple(() =>
        {
            Assert.That(port1, Is.Not.Empty, "nothing was forwarded to the backends");
            Assert.That(host, Is.Not.Empty, "no first packet reached the host queue");
        });
    }

    [Test]
    public void Sim_replays_a_capture_and_writes_each_port()
    {
        string input = Path.Combine(_dir, "in.pcap");
        using (var w = PcapWriter.Create(input))
        {
            // Matches the example tables: the first is the service flow (hit), the second misses.
            var hit = FrameBuilder.BuildTcp(new EthernetHeader(0x0007_B400_0101, 0x0200_0000_1000), new Ipv4Header(0x0A00_0064, 0xC000_020A, 6),
                new TcpHeader(40000, 80), new byte[64]);
            var miss = FrameBuilder.BuildTcp(new EthernetHeader(0x0007_B400_0101, 0x0200_0000_1000), new Ipv4Header(0x0A00_0065, 0xC000_020A, 6),
                new TcpHeader(40001, 80), new byte[64]);
            var arp = FrameBuilder.BuildArp(new EthernetHeader(0xFFFF_FFFF_FFFF, 0x0200_0000_1000), ArpPacket.Request(0x0200_0000_1000, 0x0A00_0064, 0x0A00_0001));
            w.Write(hit, 0);
            w.Write(miss, 1000);
            w.Write(arp, 2000);
        }
        string tables = Path.Combine(TablesFileTests.RepoRoot(), "examples", "tables.json");
        int rc = Sim.Run(new FileInfo(input), new FileInfo(tables), 0, new FileInfo(Path.Combine(_dir, "out.pcap")), 64);
        Assert.That(rc, Is.Zero);
        var port0 = PcapReader.ReadAll(Path.Combine(_dir, "out.port0.pcap"));
        var port1 = PcapReader.ReadAll(Path.Combine(_dir, "out.port1.pcap"));
        var host = PcapReader.ReadAll(Path.Combine(_dir, "out.host.pcap"));
        Assert.Multiple(() =>
        {
            Assert.That(port1, Has.Count.EqualTo(1), "the hit leaves port 1");
            // DNAT to 198.51.100.1:8080 and the backend's MAC.
            var f = port1[0].Data.Span;
            Assert.That(f[..6].ToArray(), Is.EqualTo(new byte[] { 0x02, 0, 0, 0, 1, 1 }));
            Assert.That(f.Slice(30, 4).ToArray(), Is.EqualTo(new byte[] { 198, 51, 100, 1 }));
            Assert.That(port0, Has.Count.EqualTo(1), "the ARP reply leaves port 0");
            Assert.That(host, Has.Count.EqualTo(1), "the miss goes to the host");
        });
    }

    [Test]
    public void Sim_rejects_a_malformed_capture_with_a_clear_error_and_writes_nothing()
    {
        string input = Path.Combine(_dir, "bad.pcap");
        File.WriteAllBytes(input, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0]);
        var err = new StringWriter();
        var saved = Console.Error;
        Console.SetError(err);
        int rc;
        try
        {
            rc = Cli.Guard(() => Sim.Run(new FileInfo(input), null, 0, new FileInfo(Path.Combine(_dir, "out.pcap")), 64));
        }
        finally
        {
            Console.SetError(saved);
        }
        Assert.Multiple(() =>
        {
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(err.ToString(), Does.StartWith("offload: "));
            Assert.That(Directory.GetFiles(_dir, "out*"), Is.Empty, "a failed run must not leave output files");
        });
    }

    [Test]
    public void Sim_names_a_missing_file()
    {
        var e = Assert.Throws<ConfigException>(() => Sim.Run(new FileInfo(Path.Combine(_dir, "nope.pcap")), null, 0, null, 64));
        Assert.That(e!.Message, Does.Contain("nope.pcap").And.Contain("no such file"));
    }

    [Test]
    public void Sim_and_glbp_watch_call_a_directory_a_directory()
    {
        var e = Assert.Throws<ConfigException>(() => Sim.Run(new FileInfo(_dir), null, 0, null, 64));
        Assert.That(e!.Message, Does.Contain(_dir).And.Contain("is a directory"));
        e = Assert.Throws<ConfigException>(() => GlbpWatch.ReadCapture(new FileInfo(_dir), null));
        Assert.That(e!.Message, Does.Contain(_dir).And.Contain("is a directory"));
    }
}
