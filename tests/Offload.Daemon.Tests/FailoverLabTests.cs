using Offload.Balancer.Classification;
using Offload.Device;
using Offload.Group;
using Offload.Protocol;
using Offload.Testing.Lab;

namespace Offload.Daemon.Tests;

/// <summary>
/// The lab behind the demo's second act (<see cref="FailoverLab"/>): two gateways from examples/gateway.json on
/// their own models. With sync on, the AVG dies and every established connection goes on; with the state that sync
/// carries taken away, the same measurement reports the connections that broke, so its "0 lost" is a finding.
/// </summary>
[NonParallelizable]
[Category("Model")]
public class FailoverLabTests
{
    private const int Hosts = 12;

    private static FailoverLabOptions Options(bool sync = true, Func<int, GatewayConfig, GatewayConfig>? adjust = null) =>
        new(File.ReadAllText(DaemonRig.ExamplePath), Hosts, sync, adjust);

    // gw-b's pool has a heavy fourth backend gw-a's does not: Maglev places most mid-stream packets differently there.
    private static GatewayConfig ExtraBackendOnB(int n, GatewayConfig config)
    {
        if (n != 2)
            return config;
        var spec = config.Services[0];
        var b4 = new BackendSpec(new BackendConfig("b4", Ipv4Address.Parse("198.51.100.4"), 8080, 4, MacAddress.Parse("02:00:00:00:01:04"), 8), null, null);
        return config with { Services = [spec with { Backends = [.. spec.Backends, b4] }] };
    }

    [Test]
    public void The_avg_dies_and_every_established_connection_continues_on_its_backend_through_the_peer()
    {
        using var lab = new FailoverLab(Options());

        var election = lab.Elect();
        Assert.That(election.Converged, Is.True);
        Assert.That(election.Avg, Is.EqualTo("gw-a"), "priority 110 wins");
        Assert.That(election.Standby, Is.EqualTo("gw-b"));
        Assert.That(election.Forwarders.Select(f => (f.Owner, f.ForwardedBy)), Is.EquivalentTo(new[] { ("gw-a", "gw-a"), ("gw-b", "gw-b") }));

        var arp = lab.ResolveAll();
        Assert.That(arp.Answered, Is.EqualTo(Hosts));
        Assert.That(arp.AnsweredBy, Is.EqualTo(new Dictionary<string, int> { ["gw-a"] = Hosts }), "only the AVG's hardware answers");
        Assert.That(arp.Rows.Sum(r => r.Hosts), Is.EqualTo(Hosts));
        Assert.That(arp.Rows.All(r => r.Hosts > 0), Is.True, "both vMACs are handed out");
        Assert.That(lab.A.Counters().Port0.ArpReplies, Is.EqualTo((ulong)Hosts), "the replies were counted in gw-a's hardware");

        var connect = lab.ConnectAll();
        Assert.That(connect.Established, Is.EqualTo(Hosts));
        foreach (var g in connect.PerGateway)
        {
            var row = arp.Rows.Single(r => r.Owner == g.Name);
            Assert.That(g.Connections, Is.EqualTo(row.Hosts), $"{g.Name} carries the hosts that got its vMAC");
            Assert.That(g.Installed, Is.EqualTo(row.Hosts));
            Assert.That(g.Misses, Is.EqualTo((ulong)row.Hosts), $"{g.Name}: one miss per connection (the SYN)");
            // The SYN-ACK on the way back, the data and its acknowledgement: all in hardware.
            Assert.That(g.Hits, Is.EqualTo((ulong)(3 * row.Hosts)), $"{g.Name}: every later packet hit");
        }
        Assert.That(connect.PerBackend.Sum(b => b.Connections), Is.EqualTo(Hosts));
        Assert.That(connect.PerBackend.Count(b => b.Connections > 0), Is.GreaterThan(1), "Maglev spreads them");
        Assert.That(connect.HeldByPeers["gw-a"], Is.EqualTo(connect.PerGateway.Single(g => g.Name == "gw-a").Connections), "gw-b holds gw-a's sessions");

        var crash = lab.CrashAndTakeOver();
        Assert.That(crash.Victim, Is.EqualTo("gw-a"));
        Assert.That(crash.VictimWasAvg, Is.True);
        Assert.That(crash.VmacAfter, Is.Not.Null.And.LessThanOrEqualTo(crash.Hold + crash.Hello));
        Assert.That(crash.AvgAfter, Is.Not.Null.And.LessThanOrEqualTo(crash.Hold + crash.Hello));
        Assert.That(crash.SyncedFlowsInstalled, Is.EqualTo(crash.ConnectionsThroughVictim));
        Assert.That(crash.ConnectionsThroughVictim, Is.GreaterThan(0));

        var more = lab.ContinueAll();
        Assert.That(more.Lost, Is.Empty);
        Assert.That(more.Continued, Is.EqualTo(Hosts));
        Assert.That(more.FirstPacketHit, Is.EqualTo(Hosts), "synced flows were already in gw-b's hardware");
        Assert.That(more.Misses, Is.Zero);
        Assert.That(more.Hits, Is.EqualTo((ulong)(2 * Hosts)), "data and acknowledgement of each");
        Assert.That(more.ContinuedThroughVictimVmac, Is.EqualTo(crash.ConnectionsThroughVictim));

        var again = lab.ReArp();
        Assert.That(again.AnsweredBy, Is.EqualTo(new Dictionary<string, int> { ["gw-b"] = Hosts }), "gw-b's hardware answers now");
        Assert.That(again.Rows.All(r => r.ForwardedBy == "gw-b"), Is.True);
    }

    [Test]
    public void Without_sync_the_peer_places_the_dead_gateways_connections_again_and_the_lab_counts_them_reclassified()
    {
        using var lab = new FailoverLab(Options(sync: false));
        lab.Elect();
        lab.ResolveAll();
        var connect = lab.ConnectAll();
        Assert.That(connect.Established, Is.EqualTo(Hosts));
        Assert.That(connect.HeldByPeers.Values, Is.All.Zero);
        var crash = lab.CrashAndTakeOver();
        Assert.That(crash.VmacAfter, Is.Not.Null, "GLBP takes the vMAC over without sync too");
        Assert.That(crash.SyncedFlowsInstalled, Is.Zero);

        var more = lab.ContinueAll();
        // Same pool on both: Maglev puts a mid-stream packet where the dead gateway had, so these survive by placement.
        Assert.That(more.Reclassified, Is.EqualTo(crash.ConnectionsThroughVictim), "each of the dead gateway's connections missed at gw-b");
        Assert.That(more.FirstPacketHit, Is.EqualTo(Hosts - crash.ConnectionsThroughVictim));
        Assert.That(more.Misses, Is.EqualTo((ulong)crash.ConnectionsThroughVictim));
        Assert.That(lab.Survivor!.Node.Classifier.Count(ClassifyOutcome.Installed), Is.GreaterThanOrEqualTo(crash.ConnectionsThroughVictim));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void When_the_survivors_pool_differs_only_sync_keeps_the_connections_on_their_backends(bool sync)
    {
        using var lab = new FailoverLab(Options(sync, ExtraBackendOnB));
        lab.Elect();
        lab.ResolveAll();
        Assert.That(lab.ConnectAll().Established, Is.EqualTo(Hosts));
        var crash = lab.CrashAndTakeOver();
        var more = lab.ContinueAll();
        TestContext.Out.WriteLine($"sync {sync}: {more.Continued} of {more.Established} continued; lost: {string.Join("; ", more.Lost.Select(l => $"{Ipv4Address.Format(l.HostIp)} ({l.Backend}): {l.Reason}"))}");
        Assert.That(more.Continued + more.LostCount, Is.EqualTo(more.Established));
        if (sync)
        {
            Assert.That(more.Lost, Is.Empty);
            return;
        }
        Assert.That(more.Lost, Is.Not.Empty, "some of the dead gateway's connections land on another backend");
        Assert.That(more.Lost.Select(l => l.Vmac), Is.All.EqualTo(crash.VictimVmac), "only connections through the dead gateway's vMAC break");
        Assert.That(more.Lost.Select(l => l.Reason), Is.All.StartWith("reached "));
        Assert.That(lab.Segment.Backends.All.Sum(b => b.Resets), Is.EqualTo(more.LostCount), "each landed on a backend that reset it");
        Assert.That(more.ContinuedThroughVictimVmac, Is.EqualTo(crash.ConnectionsThroughVictim - more.LostCount));
    }
}
