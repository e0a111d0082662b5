using Offload.Cli;
using Offload.Device;

namespace Offload.Cli.Tests;

public class TablesFileTests
{
    private static readonly DataplaneGeometry Geometry = new();

    [Test]
    public void The_example_tables_load()
    {
        string path = Path.Combine(RepoRoot(), "examples", "tables.json");
        var t = TablesFile.Load(path, Geometry);
        Assert.Multiple(() =>
        {
            Assert.That(t.Config.PortMacs[1], Is.EqualTo(MacAddress.Parse("02:0f:00:00:01:01")));
            Assert.That(t.Config.Vmacs[1], Is.EqualTo(MacAddress.Glbp(1, 2)));
            Assert.That(t.Config.Groups[1]!.Mode, Is.EqualTo(ArpMode.HostDependent));
            Assert.That(t.Config.Groups[1]!.CopyRequests, Is.True);
            Assert.That(t.Flows, Has.Count.EqualTo(2));
            Assert.That(t.Flows[0].Key, Is.EqualTo(new FlowKey(0, 0x0A00_0064, 0xC000_020A, 6, 40000, 80)));
            Assert.That(t.Flows[0].Action, Is.EqualTo(new FlowAction(0, true, NatMode.Destination, 0xC633_6401, 8080)));
        });
    }

    [TestCase("""{"colour": 1}""", "'colour' is not a setting here")]
    [TestCase("""{"ports": [{"mac": "02:00:00:00:00"}]}""", "ports[0].mac: '02:00:00:00:00' is not a MAC address")]
    [TestCase("""{"ports": [{"mac": "02:00:00:00:00:01"}, {"mac": "02:00:00:00:00:02"}, {"mac": "02:00:00:00:00:03"}]}""", "only ports 0 and 1")]
    [TestCase("""{"groups": [{"vip": "10.0.0.300", "gid": 1, "forwarders": {"1": 1}}]}""", "groups[0].vip: '10.0.0.300' is not an IPv4 address")]
    [TestCase("""{"groups": [{"vip": "10.0.0.1", "gid": 1024, "forwarders": {"1": 1}}]}""", "groups[0].gid: 1024 is outside 0..1023")]
    [TestCase("""{"groups": [{"vip": "10.0.0.1", "gid": 1, "mode": "random", "forwarders": {"1": 1}}]}""", "'random' is not round-robin")]
    [TestCase("""{"groups": [{"vip": "10.0.0.1", "gid": 1, "forwarders": {"0": 1}}]}""", "'0' is not a forwarder number")]
    [TestCase("""{"groups": [{"vip": "10.0.0.1", "gid": 1, "forwarders": {"1": 0}}]}""", "at least one forwarder needs a weight")]
    [TestCase("""{"flows": [{"inPort": 2, "src": "1.2.3.4", "dst": "5.6.7.8", "nextHop": 0}]}""", "flows[0].inPort: 2 is outside 0..1")]
    [TestCase("""{"flows": [{"inPort": 0, "src": "1.2.3.4", "dst": "5.6.7.8", "nextHop": 0, "nat": "dst"}]}""", "flows[0].natIp: missing")]
    [TestCase("""{"flows": [{"inPort": 0, "src": "1.2.3.4", "dst": "5.6.7.8", "proto": "sctp", "nextHop": 0}]}""", "'sctp' is not tcp, udp, icmp or a number")]
    [TestCase("""[1, 2]""", "$: the value is not an object")]
    public void Bad_tables_are_rejected_naming_the_problem(string json, string message)
    {
        var e = Assert.Throws<ConfigException>(() => TablesFile.Parse(json, Geometry));
        Assert.That(e!.Message, Does.Contain(message));
    }

    [Test]
    public void Every_problem_is_listed_at_once_with_its_path()
    {
        var e = Assert.Throws<ConfigException>(() => TablesFile.Parse(
            """{"ports": [{"mac": "nope"}], "flows": [{"inPort": 2, "src": "1.2.3", "dst": "5.6.7.8", "nextHop": 0}]}""", Geometry));
        Assert.That(e!.Problems, Is.EqualTo(new[]
        {
            "ports[0].mac: 'nope' is not a MAC address",
            "flows[0].inPort: 2 is outside 0..1",
            "flows[0].src: '1.2.3' is not an IPv4 address",
        }));
    }

    [Test]
    public void Invalid_json_names_the_file_and_line()
    {
        string path = Path.Combine(Path.GetTempPath(), $"offload-tables-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, "{\n  \"ports\": [\n  oops\n}");
        try
        {
            var e = Assert.Throws<ConfigException>(() => TablesFile.Load(path, Geometry));
            Assert.That(e!.Message, Does.StartWith(path).And.Contain("line 3"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "offload.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("offload.sln not found");
    }
}

public class SlotTableTests
{
    [TestCase(new[] { 100, 100, 50, 50 })]
    [TestCase(new[] { 1, 1, 1 })]
    [TestCase(new[] { 254, 1 })]
    [TestCase(new[] { 7 })]
    public void Each_forwarder_holds_slots_in_proportion_to_its_weight(int[] weights)
    {
        var w = weights.Select((x, i) => ((byte)(i + 1), x)).ToList();
        byte[] slots = SlotTable.FromWeights(w, 256);
        long total = weights.Sum();
        for (int i = 0; i < weights.Length; i++)
        {
            int held = slots.Count(s => s == i + 1);
            double ideal = 256.0 * weights[i] / total;
            Assert.That(Math.Abs(held - ideal), Is.LessThan(1.0), $"forwarder {i + 1} holds {held}, ideal {ideal:0.00}");
        }
    }

    [Test]
    public void Round_robin_over_the_slots_alternates_forwarders()
    {
        byte[] slots = SlotTable.FromWeights([(1, 1), (2, 1)], 256);
        for (int i = 1; i < slots.Length; i++)
            Assert.That(slots[i], Is.Not.EqualTo(slots[i - 1]), $"slots {i - 1} and {i} both hold forwarder {slots[i]}");
    }

    [Test]
    public void Zero_forwarders_weighted_is_rejected()
    {
        Assert.Throws<ConfigException>(() => SlotTable.FromWeights([(1, 0), (2, 0)], 256));
    }
}
