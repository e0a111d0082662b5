using Offload.Balancer.Classification;
using Offload.Device;
using Offload.Group;
using Offload.Protocol;
using static Offload.Daemon.Tests.DaemonRig;

namespace Offload.Daemon.Tests;

/// <summary>
/// What SIGTERM and SIGHUP do to a gateway, on two <see cref="GatewayNode"/>s on their own models and one fake clock:
/// a leaving gateway hands its sessions over and resigns, and its peer takes the AVG role and its forwarder without
/// waiting for a hold time (the clock does not move); a reload changes pools, weights and group timers under
/// established connections without dropping one, and a reload that cannot apply changes nothing.
/// </summary>
[NonParallelizable]
[Category("Model")]
public class LifecycleTests
{
    private DaemonRig _rig = null!;
    private Node _a = null!;
    private Node _b = null!;

    [SetUp]
    public void SetUp()
    {
        _rig = new DaemonRig();
        _a = _rig.Add(Pair(1, priority: 110));
        _b = _rig.Add(Pair(2, priority: 100));
        _a.Gateway.Start();
        _b.Gateway.Start();
        _rig.Run(TimeSpan.FromSeconds(10));
        Assert.That((_a.Group.State, _b.Group.State), Is.EqualTo((GatewayState.Active, GatewayState.Standby)), "A is the AVG");
    }

    [TearDown]
    public void TearDown() => _rig.Dispose();

    // The example as one of two gateways that sync only with each other (a third peer that never answers would hold a
    // hand-over up until its timeout, as it should).
    private static GatewayConfig Pair(int n, int priority)
    {
        var c = ExampleAs(n, priority);
        return c with { Sync = c.Sync! with { Peers = [.. c.Sync.Peers.Where(p => p.Ip == Ip(3 - n))] } };
    }

    private static GatewayConfig Faster(GatewayConfig c, byte? priority = null) => c with
    {
        Groups = [c.Groups[0] with { Priority = priority ?? c.Groups[0].Priority, HelloTime = TimeSpan.FromMilliseconds(500), HoldTime = TimeSpan.FromMilliseconds(1600) }],
    };

    // Connections through A's own vMAC: each SYN is classified and installed, each ACK then hits A's hardware.
    private Dictionary<int, byte[]> OpenThroughA(IEnumerable<int> clients)
    {
        var through = new Dictionary<int, byte[]>();
        foreach (int c in clients)
        {
            _rig.FromClient(ClientTcp(c, _a.OwnVmac, TcpFlags.Syn));
            _rig.FromClient(ClientTcp(c, _a.OwnVmac, TcpFlags.Ack, payload: 10));
            through[c] = _a.ToBackends[^1];
        }
        Assert.That(_a.Gateway.Classifier.Count(ClassifyOutcome.Installed), Is.EqualTo(through.Count));
        return through;
    }

    private void ExpectHits(Node via, MacAddress vmac, Dictionary<int, byte[]> through, string when)
    {
        var before = via.Counters(0);
        foreach (var (c, first) in through)
        {
            int sent = via.ToBackends.Count;
            _rig.FromClient(ClientTcp(c, vmac, TcpFlags.Ack, payload: 10));
            Assert.That(via.ToBackends, Has.Count.EqualTo(sent + 1), $"client {c} {when}: forwarded by {via}");
            Assert.That(via.ToBackends[^1].AsSpan(0, 6).ToArray(), Is.EqualTo(first.AsSpan(0, 6).ToArray()), $"client {c} {when}: to the same backend");
        }
        var after = via.Counters(0);
        Assert.That(after.FlowHit - before.FlowHit, Is.EqualTo((ulong)through.Count), $"{when}: every packet hit in {via}'s hardware");
        Assert.That(after.FlowMiss, Is.EqualTo(before.FlowMiss), $"{when}: none missed");
    }

    [Test]
    public void A_leaving_avg_hands_its_sessions_over_and_its_peer_takes_the_avg_role_and_its_forwarder_at_once()
    {
        var clients = Enumerable.Range(1, 6).ToList();
        MacAddress vmacA = _a.OwnVmac;
        var through = OpenThroughA(clients);
        var now = _rig.Time.GetUtcNow();

        // SIGTERM: the loop flushes sync until the peer acknowledged everything, then resigns. No time passes.
        _a.Gateway.BeginResign(TimeSpan.FromSeconds(2));
        for (int round = 0; round < 100 && !_a.Gateway.HandedOver; round++)
            _rig.Settle();
        Assert.That(_a.Gateway.HandedOver, Is.True, "B acknowledged every session without a retransmit timer firing");
        Assert.That(_b.Gateway.Sync!.Stored, Has.Count.EqualTo(clients.Count), "B holds A's sessions");
        var summary = _a.Gateway.Leave();
        Assert.That(summary.HandedOver, Is.True);
        Assert.That(summary.WasActiveIn, Is.EqualTo(new[] { "group 1 AVG" }));
        _rig.Settle();
        Assert.That(_rig.Time.GetUtcNow(), Is.EqualTo(now), "what follows happened on the resign hello, not on a timer");

        Assert.That(_b.Group.State, Is.EqualTo(GatewayState.Active), "B is the AVG at once, not after A's hold time");
        Assert.That(_b.Group.Forwarders.Single(f => f.Vmac == vmacA.Value).State, Is.EqualTo(ForwarderState.Active), "B forwards A's vMAC");
        Assert.That(_b.Gateway.TakeoverInstalls, Is.EqualTo(clients.Count), "with every synced flow installed");
        Assert.That(_a.Gateway.Dataplane.ReadVmacs().Count(m => m is not null), Is.Zero, "A's filter let go of every vMAC");

        _a.Up = false;
        ExpectHits(_b, vmacA, through, "after A resigned");
    }

    [Test]
    public void A_reload_changes_pools_weights_and_timers_under_established_connections_without_dropping_one()
    {
        var through = OpenThroughA(Enumerable.Range(1, 6));
        int sessions = _a.Gateway.Tracker.Count;
        int entries = _a.Gateway.Flows.Count;
        var config = _a.Config;
        var service = config.Services[0];
        var b4 = new BackendSpec(new BackendConfig("b4", Ipv4Address.Parse("198.51.100.4"), 8080, 4, new MacAddress(0x0200_0000_0104UL), Weight: 3), null, null);
        var next = Faster(config, priority: 120) with
        {
            Services = [service with { Backends = [.. service.Backends.Where(b => b.Config.Id != "b2").Select(b => b.Config.Id == "b1" ? b with { Config = b.Config with { Weight = 5 } } : b), b4] }],
        };

        var result = _a.Gateway.Reload(next);

        Assert.That(result.Applied, Is.True, string.Join("; ", result.Refusals));
        Assert.That(result.Changes, Has.Some.Contains("b4").And.Some.Contains("b2 of 192.0.2.10:80/tcp drains").And.Some.Contains("group 1 retuned"));
        Assert.That((_a.Gateway.Tracker.Count, _a.Gateway.Flows.Count), Is.EqualTo((sessions, entries)), "no session and no entry left");
        Assert.That(_a.Gateway.Services.TryFind(service.Config.Key, out var live), Is.True);
        Assert.That(live.Find("b1")!.Config.Weight, Is.EqualTo(5));
        Assert.That(live.Find("b4"), Is.Not.Null);
        Assert.That(live.Find("b2")!.Draining, Is.True, "removed from the pool by draining, its flows run on");
        Assert.That(_a.Gateway.Config.Groups[0].Priority, Is.EqualTo(120));
        ExpectHits(_a, _a.OwnVmac, through, "after the reload");

        _rig.Settle();
        Assert.That(_a.Group.State, Is.EqualTo(GatewayState.Active), "the group kept its role over the reload");
        Assert.That(_a.Group.Priority, Is.EqualTo(120));
        // The new timers are live: with B reloaded alike, A finds B dead within the new hold time, not the old 3 s.
        Assert.That(_b.Gateway.Reload(Faster(_b.Config)).Applied, Is.True);
        _rig.Settle();
        DaemonRig.Crash(_b);
        var crashed = _rig.Time.GetUtcNow();
        _rig.Run(TimeSpan.FromSeconds(3), until: () => _a.Group.Forwarders.All(f => f.State == ForwarderState.Active));
        Assert.That(_rig.Time.GetUtcNow() - crashed, Is.LessThanOrEqualTo(TimeSpan.FromMilliseconds(1600 + 500)), "taken over within the new hold time plus a hello");
    }

    [Test]
    public void A_reload_that_cannot_apply_changes_nothing_and_says_why()
    {
        var config = _a.Config;
        var service = config.Services[0];
        var next = config with
        {
            Groups = [config.Groups[0] with { VirtualIp = Ipv4Address.Parse("10.0.0.2") }],
            ApiListen = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 9999),
            Services = [service with { Backends = [.. service.Backends.Select(b => b with { Config = b.Config with { Weight = 9 } })] }],
        };

        var result = _a.Gateway.Reload(next);

        Assert.That(result.Applied, Is.False);
        Assert.That(result.Refusals, Has.Some.StartsWith("groups (number 1).vip: 10.0.0.1 -> 10.0.0.2").And.Some.StartsWith("api.listen"));
        Assert.That(_a.Gateway.Services.TryFind(service.Config.Key, out var live), Is.True);
        Assert.That(live.Backends.Select(b => b.Config.Weight), Is.EqualTo(new[] { 1, 1, 2 }), "the weights of the running config");
        Assert.That(_a.Gateway.Config, Is.SameAs(config));
        Assert.That((_a.Gateway.ReloadsApplied, _a.Gateway.ReloadsRefused), Is.EqualTo((0L, 1L)));
        Assert.That(_a.Gateway.Metrics(), Does.Contain("offload_config_reloads_total{result=\"refused\",gateway=\"gw-a\"} 1"));
    }
}
