using System.Buffers.Binary;
using Offload.Balancer.Classification;
using Offload.Balancer.Sync;
using Offload.Device;
using Offload.Group;
using Offload.Protocol;
using static Offload.Daemon.Tests.DaemonRig;

namespace Offload.Daemon.Tests;

/// <summary>
/// The gateway daemon end to end: two <see cref="GatewayNode"/>s built from examples/gateway.json, each on its own
/// Verilator model, on one segment. Clients resolve the group's VIP through the hardware ARP responder and open NAT
/// connections through gateway A; A dies; B's GLBP group takes over A's vMAC by itself, the glue installs the flows
/// A synced, and the established connections go on in B's hardware, both ways, to the same backends.
/// </summary>
[NonParallelizable]
[Category("Model")]
public class FailoverTests
{
    private DaemonRig _rig = null!;
    private Node _a = null!;
    private Node _b = null!;
    private LogCapture _logsB = null!;

    [SetUp]
    public void SetUp()
    {
        _rig = new DaemonRig();
        _a = _rig.Add(ExampleAs(1, priority: 110));
        _logsB = new LogCapture();
        _b = _rig.Add(ExampleAs(2, priority: 100), _logsB);
        _a.Gateway.Start();
        _b.Gateway.Start();
        _rig.Run(TimeSpan.FromSeconds(10));
    }

    [TearDown]
    public void TearDown()
    {
        _rig.Dispose();
        _logsB.Dispose();
    }

    private static TimeSpan Hello => TimeSpan.FromMilliseconds(1000);

    private static TimeSpan Hold => TimeSpan.FromMilliseconds(3000);

    [Test]
    public void The_example_config_converges_to_one_avg_and_a_forwarder_on_each_gateway()
    {
        Assert.That(_a.Group.State, Is.EqualTo(GatewayState.Active), "priority 110 wins");
        Assert.That(_b.Group.State, Is.EqualTo(GatewayState.Standby));
        Assert.That(_a.OwnVmac, Is.Not.EqualTo(_b.OwnVmac));
        foreach (var n in new[] { _a, _b })
        {
            var own = n.Group.Forwarders.Single(f => f.Owned);
            Assert.That(own.State, Is.EqualTo(ForwarderState.Active), $"{n} forwards its own vMAC");
            Assert.That(n.Group.Forwarders, Has.Count.EqualTo(2), $"{n} knows both forwarders");
        }
        Assert.That(_a.Gateway.Host.GlbpDelivered, Is.GreaterThan(0));
        Assert.That(_b.Gateway.Host.GlbpDelivered, Is.GreaterThan(0));
        Assert.That(_a.Gateway.Host.GlbpMalformed + _b.Gateway.Host.GlbpMalformed, Is.Zero, "MD5-authenticated hellos decode on both");
    }

    [Test]
    public void Established_connections_through_a_failed_gateway_continue_in_the_peers_hardware_and_survive_its_restart()
    {
        // Clients ARP the group VIP: the AVG's hardware answers, round-robin over the two vMACs.
        var vmacOf = new Dictionary<int, MacAddress>();
        for (int c = 1; c <= 12; c++)
        {
            int before = _rig.Segment.Count;
            _rig.FromClient(ArpRequest(c));
            var replies = _rig.Segment.Skip(before).Where(s => MacAddress.FromBytes(s.Frame) == ClientMac(c)).ToList();
            Assert.That(replies, Has.Count.EqualTo(1), $"client {c}: one ARP reply");
            Assert.That(replies[0].From, Is.SameAs(_a), "only the AVG's responder answers");
            vmacOf[c] = MacAddress.FromBytes(replies[0].Frame.AsSpan(6));
        }
        Assert.That(vmacOf.Values.Distinct(), Is.EquivalentTo(new[] { _a.OwnVmac, _b.OwnVmac }), "both forwarders are handed out");
        var clients = vmacOf.Where(kv => kv.Value == _a.OwnVmac).Select(kv => kv.Key).ToList();
        Assert.That(clients, Has.Count.GreaterThanOrEqualTo(4));
        MacAddress vmacA = _a.OwnVmac;

        // Connections through A: the SYN misses, is classified, installed and re-injected; the next packet hits.
        var throughA = new Dictionary<int, byte[]>();
        foreach (int c in clients)
        {
            var before = _a.Counters(0);
            int sent = _a.ToBackends.Count;
            _rig.FromClient(ClientTcp(c, vmacA, TcpFlags.Syn));
            Assert.That(_a.Counters(0).FlowMiss, Is.EqualTo(before.FlowMiss + 1), $"client {c}: the SYN missed");
            Assert.That(_a.ToBackends, Has.Count.EqualTo(sent + 1), $"client {c}: the SYN was re-injected toward a backend");
            _rig.FromClient(ClientTcp(c, vmacA, TcpFlags.Ack, payload: 10));
            Assert.That(_a.Counters(0).FlowHit, Is.EqualTo(before.FlowHit + 1), $"client {c}: the ACK hit in A's hardware");
            Assert.That(_a.ToBackends, Has.Count.EqualTo(sent + 2));
            throughA[c] = _a.ToBackends[^1];
        }
        Assert.That(_a.Gateway.Classifier.Count(ClassifyOutcome.Installed), Is.EqualTo(clients.Count));
        Assert.That(_b.ToBackends, Is.Empty, "B's data plane does not take frames for A's vMAC");
        Assert.That(_a.Gateway.Tracker.Count, Is.EqualTo(clients.Count));

        _rig.Run(TimeSpan.FromSeconds(1));
        Assert.That(_b.Gateway.Sync!.Stored, Has.Count.EqualTo(clients.Count), "A's NAT sessions are held by B");
        Assert.That(_a.Gateway.Sync!.InFlight(Ip(2)), Is.Zero, "and acknowledged");
        Assert.That(_b.Gateway.Flows.Count, Is.Zero, "held, not installed, while A forwards its own vMAC");

        // A dies. B's group notices through GLBP alone and takes the vMAC over; the glue installs the synced flows.
        DaemonRig.Crash(_a);
        var crashed = _rig.Time.GetUtcNow();
        _rig.Run(Hold + Hello + TimeSpan.FromSeconds(1), until: () => TakenOver(vmacA));
        var tookOver = _rig.Time.GetUtcNow() - crashed;
        TestContext.Out.WriteLine($"B took over A's vMAC {tookOver.TotalMilliseconds} ms (protocol time) after A stopped; {clients.Count} flows installed");
        Assert.That(TakenOver(vmacA), Is.True, "B forwards A's vMAC");
        Assert.That(tookOver, Is.LessThanOrEqualTo(Hold + Hello), "within hold time plus one hello");
        Assert.That(_b.Gateway.Takeovers, Is.EqualTo(1));
        Assert.That(_b.Gateway.TakeoverInstalls, Is.EqualTo(clients.Count));
        Assert.That(_b.Gateway.Flows.Count, Is.EqualTo(2 * clients.Count), "forward and reverse entry of each connection");
        var takeover = _logsB.Of<GatewayNode>(Microsoft.Extensions.Logging.LogLevel.Warning).Single(e => e.Message.StartsWith("Took over", StringComparison.Ordinal));
        Assert.That(takeover.Properties["Vmac"], Is.EqualTo(vmacA), "the takeover is logged with structured properties");
        Assert.That(takeover.Properties["Flows"], Is.EqualTo(clients.Count));
        _rig.Run(Hold);
        Assert.That(_b.Group.State, Is.EqualTo(GatewayState.Active), "B is the AVG now too");

        ExpectHitsThroughB(clients, vmacA, throughA, "after the takeover");

        // B's control plane restarts over the same data plane: the flows are read back and keep hitting.
        _rig.Restart(_b);
        Assert.That(_b.Gateway.Tracker.Count, Is.EqualTo(clients.Count), "every session rebuilt from the hardware table");
        _rig.Run(TimeSpan.FromSeconds(12), until: () => TakenOver(vmacA) && _b.Group.State == GatewayState.Active);
        Assert.That(_b.Group.State, Is.EqualTo(GatewayState.Active));
        Assert.That(TakenOver(vmacA), Is.True, "alone, B's group forwards the vMAC those clients use again");
        ExpectHitsThroughB(clients, vmacA, throughA, "after B's restart");
    }

    [Test]
    public void A_gateway_that_comes_back_reclaims_its_vmac_and_the_peer_that_stood_in_hands_the_flows_back()
    {
        // Connections through B's own vMAC.
        MacAddress vmacB = _b.OwnVmac;
        var clients = Enumerable.Range(1, 5).ToList();
        var throughB = new Dictionary<int, byte[]>();
        foreach (int c in clients)
        {
            _rig.FromClient(ClientTcp(c, vmacB, TcpFlags.Syn));
            _rig.FromClient(ClientTcp(c, vmacB, TcpFlags.Ack, payload: 10));
            throughB[c] = _b.ToBackends[^1];
        }
        Assert.That(_b.Gateway.Classifier.Count(ClassifyOutcome.Installed), Is.EqualTo(clients.Count));
        _rig.Run(TimeSpan.FromSeconds(1));
        Assert.That(_a.Gateway.Sync!.Stored, Has.Count.EqualTo(clients.Count));

        // B's control plane goes away for longer than the hold time: A stands in for its vMAC with the synced flows.
        _b.Up = false;
        _b.Gateway.Dispose();
        _rig.Run(Hold + Hello + TimeSpan.FromSeconds(1));
        Assert.That(_a.Group.Forwarders.Single(f => f.Vmac == vmacB.Value).State, Is.EqualTo(ForwarderState.Active), "A forwards B's vMAC");
        Assert.That(_a.Gateway.TakeoverInstalls, Is.EqualTo(clients.Count));
        var hitsA = _a.Counters(0).FlowHit;
        foreach (int c in clients)
            _rig.FromClient(ClientTcp(c, vmacB, TcpFlags.Ack, payload: 10));
        Assert.That(_a.Counters(0).FlowHit - hitsA, Is.EqualTo((ulong)clients.Count), "A's hardware carries B's connections meanwhile");

        // B comes back over the same data plane; after the forwarder preempt delay it reclaims its vMAC.
        _b.Up = true;
        _rig.Restart(_b);
        Assert.That(_b.Gateway.Tracker.Count, Is.EqualTo(clients.Count), "B rebuilt its sessions from its table");
        _rig.Run(TimeSpan.FromSeconds(40), until: () => _b.Group.Forwarders.Any(f => f.Vmac == vmacB.Value && f.State == ForwarderState.Active)
            && _a.Group.Forwarders.Single(f => f.Vmac == vmacB.Value).State != ForwarderState.Active);
        Assert.That(_b.Group.Forwarders.Single(f => f.Vmac == vmacB.Value).State, Is.EqualTo(ForwarderState.Active), "B forwards its vMAC again");
        Assert.That(_a.Group.Forwarders.Single(f => f.Vmac == vmacB.Value).State, Is.Not.EqualTo(ForwarderState.Active));
        _rig.Settle();
        Assert.That(_a.Gateway.Releases, Is.EqualTo(1));
        Assert.That(_a.Gateway.Tracker.Count, Is.Zero, "A's stand-in sessions left its table");
        Assert.That(_a.Gateway.Flows.Count, Is.Zero, "and their entries its hardware");

        var before = _b.Counters(0);
        int sent = _b.ToBackends.Count;
        foreach (int c in clients)
            _rig.FromClient(ClientTcp(c, vmacB, TcpFlags.Ack, payload: 10));
        var after = _b.Counters(0);
        Assert.That(after.FlowHit - before.FlowHit, Is.EqualTo((ulong)clients.Count), "every packet hit in B's hardware again");
        Assert.That(after.FlowMiss, Is.EqualTo(before.FlowMiss));
        var outs = _b.ToBackends.Skip(sent).ToList();
        Assert.That(outs.Select(f => f.AsSpan(12).ToArray()), Is.EqualTo(clients.Select(c => throughB[c].AsSpan(12).ToArray())), "the same backends, the same rewrite");
    }

    private bool TakenOver(MacAddress vmac) =>
        _b.Group.Forwarders.Any(f => f.Vmac == vmac.Value && f.State == ForwarderState.Active);

    private void ExpectHitsThroughB(List<int> clients, MacAddress vmacA, Dictionary<int, byte[]> throughA, string when)
    {
        var before = _b.Counters(0);
        foreach (int c in clients)
        {
            int sent = _b.ToBackends.Count;
            _rig.FromClient(ClientTcp(c, vmacA, TcpFlags.Ack, payload: 10));
            Assert.That(_b.ToBackends, Has.Count.EqualTo(sent + 1), $"client {c} {when}: forwarded by B");
            byte[] f = _b.ToBackends[^1];
            Assert.That(MacAddress.FromBytes(f), Is.EqualTo(MacAddress.FromBytes(throughA[c])), $"client {c} {when}: the same backend");
            Assert.That(MacAddress.FromBytes(f.AsSpan(6)), Is.EqualTo(Port1Mac(2)));
            Assert.That(f.AsSpan(12).ToArray(), Is.EqualTo(throughA[c].AsSpan(12).ToArray()), $"client {c} {when}: the same NAT rewrite, byte for byte");
        }
        var after = _b.Counters(0);
        Assert.That(after.FlowHit - before.FlowHit, Is.EqualTo((ulong)clients.Count), $"{when}: every packet hit in B's hardware");
        Assert.That(after.FlowMiss, Is.EqualTo(before.FlowMiss), $"{when}: none went to the classifier");

        // The backends answer through B: source-NATed back to the client from the VIP, out of the vMAC it uses.
        var before1 = _b.Counters(1);
        foreach (int c in clients)
        {
            byte[] toBackend = throughA[c];
            var ip = toBackend.AsSpan(14);
            uint backendIp = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
            ushort backendPort = BinaryPrimitives.ReadUInt16BigEndian(ip[22..]);
            int seen = _rig.Segment.Count;
            _rig.FromBackend(_b, BackendTcp(MacAddress.FromBytes(toBackend), backendIp, backendPort, c, Port1Mac(2), payload: 20));
            var out0 = _rig.Segment.Skip(seen).Where(s => MacAddress.FromBytes(s.Frame) == ClientMac(c)).ToList();
            Assert.That(out0, Has.Count.EqualTo(1), $"client {c} {when}: the reply reached the segment");
            byte[] r = out0[0].Frame;
            Assert.That(MacAddress.FromBytes(r.AsSpan(6)), Is.EqualTo(vmacA), "from the vMAC the client uses as its gateway");
            var rip = r.AsSpan(14);
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(rip[12..]), Is.EqualTo(ServiceVip), "source NAT to the VIP");
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(rip[20..]), Is.EqualTo(ServicePort));
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(rip[16..]), Is.EqualTo(ClientIp(c)));
            Assert.That(InternetChecksum.IsValid(rip[..20]), Is.True, "the rewritten header checksum is right");
        }
        var after1 = _b.Counters(1);
        Assert.That(after1.FlowHit - before1.FlowHit, Is.EqualTo((ulong)clients.Count), $"{when}: every reply hit");
        Assert.That(after1.FlowMiss, Is.EqualTo(before1.FlowMiss));
    }
}
