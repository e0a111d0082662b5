using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Offload.Protocol.Pcap;

namespace Offload.Cli.Tests;

/// <summary>`offload bench balancer` and the demo's use of the real balancer, run as a user runs them.</summary>
[NonParallelizable]
[Category("Model")]
public class BalancerCommandTests
{
    [Test]
    public void Bench_balancer_json_has_every_key_of_the_issue_with_sane_values()
    {
        var output = new StringWriter();
        int rc = BenchBalancer.Run(asJson: true, quick: true, output);
        Assert.That(rc, Is.Zero);
        var json = JsonNode.Parse(output.ToString())!.AsObject();
        Assert.Multiple(() =>
        {
            Assert.That((double)json["classify_flows_per_second"]!, Is.GreaterThan(0));
            Assert.That((long)json["classify_installed"]!, Is.EqualTo((long)json["classify_flows"]!), "the throughput run never filled the table");
            Assert.That((string)json["classify_note"]!, Does.Contain("transport"));
            Assert.That((double)json["maglev_build_ms"]!["100"]!, Is.GreaterThan(0));
            Assert.That((double)json["maglev_build_ms"]!["1000"]!, Is.GreaterThan(0));
            Assert.That((double)json["maglev_build_ms_paper"]!, Is.EqualTo(1.8));
            // Maglev's balance at M = 65537 is a property of the table, not of the machine.
            Assert.That((double)json["maglev_max_over_mean"]!, Is.InRange(1.0, 1.01));
            Assert.That((int)json["maglev_disruption_fraction"]!["backends"]!, Is.EqualTo(100));
            Assert.That((double)json["maglev_disruption_fraction"]!["moved"]!, Is.InRange(0.009, 0.02), "about the leaver's 1/N, at most 1/N + 1 %");
            Assert.That((double)json["table_occupancy_reached"]!, Is.InRange(0.9, 1.0));
            Assert.That((double)json["table_inserts_per_second"]!, Is.GreaterThan(0));
            Assert.That((long)json["consistency_violations"]!, Is.Zero);
            Assert.That((long)json["consistency_established_packets"]!, Is.GreaterThan(1000));
            Assert.That((int)json["consistency_pool_changes"]!, Is.GreaterThan(10));
            Assert.That((bool)json["goals_met"]!["consistency_violations"]!, Is.True);
            Assert.That((bool)json["quick"]!, Is.True);
        });
    }

    [Test]
    public void The_demo_balances_with_the_real_classifier_and_every_connection_keeps_its_backend()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"offload-demo-{Guid.NewGuid():N}");
        try
        {
            Assert.That(Demo.Run(64, hosts: 30, new DirectoryInfo(dir)), Is.Zero);
            var toBackends = PcapReader.ReadAll(Path.Combine(dir, "demo.port1.pcap"));
            var toHosts = PcapReader.ReadAll(Path.Combine(dir, "demo.port0.pcap"));
            var backendIps = Demo.Backends.Select(b => b.Ip).ToHashSet();
            var backendOf = new Dictionary<ushort, uint>();
            int syns = 0;
            foreach (var p in toBackends)
            {
                var f = p.Data.Span;
                uint dst = BinaryPrimitives.ReadUInt32BigEndian(f[30..]);
                ushort clientPort = BinaryPrimitives.ReadUInt16BigEndian(f[34..]);
                Assert.That(backendIps, Does.Contain(dst), "every frame to port 1 is NATed to a backend");
                Assert.That(BinaryPrimitives.ReadUInt16BigEndian(f[36..]), Is.EqualTo(Demo.BackendPort));
                if ((f[47] & 0x12) == 0x02)
                {
                    syns++;
                    backendOf.Add(clientPort, dst);
                }
                else
                {
                    Assert.That(dst, Is.EqualTo(backendOf[clientPort]), $"client port {clientPort} changed backend");
                }
            }
            Assert.That(syns, Is.GreaterThan(10), "the re-injected first packets reached the backends");
            Assert.That(backendOf.Values.Distinct().Count(), Is.GreaterThan(1), "connections are spread over the pool");
            // The way back is source-NATed to the service address by the return entries the classifier installed.
            var replies = toHosts.Where(p => BinaryPrimitives.ReadUInt16BigEndian(p.Data.Span[12..]) == 0x0800).ToList();
            Assert.That(replies, Has.Count.EqualTo(backendOf.Count * 8));
            Assert.That(replies.Select(p => BinaryPrimitives.ReadUInt32BigEndian(p.Data.Span[26..])), Has.All.EqualTo(Demo.ServiceIp));
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }
}
