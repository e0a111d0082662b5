using Offload.Balancer.Classification;
using Offload.Balancer.Tracking;
using Offload.Device;
using Offload.Protocol;
using static Offload.Balancer.Cosim.Tests.BalancerRig;

namespace Offload.Balancer.Cosim.Tests;

/// <summary>Session lifetimes on the model: FIN/RST linger, idle timeouts from LAST_SEEN, draining, restart.</summary>
[NonParallelizable]
public class TrackerTests
{

    private BalancerRig _rig = null!;

    private static readonly TrackerOptions Timeouts = new()
    {
        SynTimeout = TimeSpan.FromSeconds(5),
        TcpEstablishedTimeout = TimeSpan.FromSeconds(300),
        UdpTimeout = TimeSpan.FromSeconds(30),
        FinLinger = TimeSpan.FromSeconds(4),
        RstLinger = TimeSpan.FromSeconds(1),
        SweepInterval = TimeSpan.FromSeconds(1),
    };

    [SetUp]
    public void Start()
    {
        _rig = new BalancerRig(Timeouts);
        _rig.SetupThreeServices();
    }

    [TearDown]
    public void Stop() => _rig.Dispose();

    [Test]
    public void Fin_removes_the_entries_after_the_linger()
    {
        var s = _rig.Open(1);
        _rig.Send(0, ClientTcp(1, TcpFlags.Fin | TcpFlags.Ack));
        Assert.That(_rig.Pop(1), Has.Count.EqualTo(1), "the FIN itself is forwarded by the entry");
        Assert.That(_rig.Counters(0).FinRst, Is.EqualTo(1));
        _rig.Poll();
        Assert.That(s.State, Is.EqualTo(SessionState.Closing));

        _rig.Advance(TimeSpan.FromSeconds(3));
        Assert.That(_rig.Flows.Contains(s.Forward), Is.True, "still lingering: the other side's FIN and last ACK must hit");
        _rig.Send(1, BackendTcp(int.Parse(s.Backend!.Id[1..], System.Globalization.CultureInfo.InvariantCulture), 1, TcpFlags.Fin | TcpFlags.Ack));
        Assert.That(_rig.Pop(0), Has.Count.EqualTo(1));
        _rig.Poll();

        _rig.Advance(TimeSpan.FromSeconds(2));
        Assert.That(_rig.Flows.Count, Is.Zero);
        Assert.That(_rig.Tracker.Count, Is.Zero);
        Assert.That(_rig.Tracker.Counters.EndedFinRst, Is.EqualTo(1));
        Assert.That(_rig.Services.NextHops.DynamicInUse, Is.Zero, "the client next hop was released");
        Assert.That(_rig.Flows.VerifyAgainstHardware(), Is.Empty);

        ulong misses = _rig.Counters(0).FlowMiss;
        _rig.Send(0, ClientTcp(1, TcpFlags.Ack));
        Assert.That(_rig.Counters(0).FlowMiss, Is.EqualTo(misses + 1), "a late packet misses again");
    }

    [Test]
    public void Rst_closes_after_the_shorter_linger()
    {
        var s = _rig.Open(2);
        _rig.Send(0, ClientTcp(2, TcpFlags.Rst));
        _rig.Poll();
        _rig.Advance(TimeSpan.FromSeconds(1.5));
        Assert.That(_rig.Tracker.TryGet(s.Forward, out _), Is.False);
        Assert.That(_rig.Flows.Count, Is.Zero);
    }

    [Test]
    public void Idle_timeouts_follow_last_seen_per_protocol_and_state()
    {
        var established = _rig.Open(1);
        _rig.Send(0, ClientTcp(2, TcpFlags.Syn));
        _rig.Poll();
        _rig.Send(0, ClientUdp(3));
        _rig.Poll();
        Assert.That(_rig.Tracker.TryGet(ClientKey(2), out var synOnly), Is.True);
        Assert.That(_rig.Tracker.TryGet(ClientKey(3, vip: UdpVip, port: UdpPort, protocol: IpProtocol.Udp), out var udp), Is.True);
        Assert.That(synOnly.State, Is.EqualTo(SessionState.SynOnly));

        _rig.Advance(TimeSpan.FromSeconds(1));
        Assert.That(established.State, Is.EqualTo(SessionState.Established), "the ACK hit after the SYN");
        Assert.That(synOnly.State, Is.EqualTo(SessionState.SynOnly));

        // The SYN-only session goes after its short timeout; the others stay.
        for (int t = 0; t < 5; t++)
            _rig.Advance(TimeSpan.FromSeconds(1));
        Assert.That(_rig.Tracker.TryGet(synOnly.Forward, out _), Is.False);
        Assert.That(_rig.Tracker.Count, Is.EqualTo(2));

        // UDP with traffic keeps its entry; once it stops, 30 s later it is gone. TCP established outlives both.
        for (int t = 0; t < 40; t++)
        {
            if (t < 10)
                _rig.Send(0, ClientUdp(3));
            _rig.Advance(TimeSpan.FromSeconds(1));
            if (t < 38)
                Assert.That(_rig.Tracker.TryGet(udp.Forward, out _), Is.True, $"UDP session ended at t={t} though it was active until t=9");
        }
        Assert.That(_rig.Tracker.TryGet(udp.Forward, out _), Is.False);
        Assert.That(_rig.Tracker.TryGet(established.Forward, out _), Is.True);
        Assert.That(_rig.Tracker.Counters.EndedIdle, Is.EqualTo(2));

        _rig.Advance(TimeSpan.FromSeconds(301));
        Assert.That(_rig.Tracker.Count, Is.Zero);
        Assert.That(_rig.Flows.Count, Is.Zero);
        Assert.That(_rig.Flows.VerifyAgainstHardware(), Is.Empty);
    }

    [Test]
    public void Removing_a_backend_drains_established_flows_keep_their_backend_and_new_flows_go_elsewhere()
    {
        Assert.That(_rig.Services.TryFind(NatKey, out var nat), Is.True);
        var sessions = Enumerable.Range(0, 30).Select(c => _rig.Open(c)).ToList();
        var onB2 = sessions.Where(s => s.Backend!.Id == "b2").ToList();
        Assert.That(onB2, Is.Not.Empty);

        Assert.That(nat.RemoveBackend("b2"), Is.True);
        int rebuilds = nat.Rebuilds;
        _rig.Advance(TimeSpan.FromSeconds(1));

        // Established flows on b2 still hit and still reach b2.
        foreach (var s in onB2)
        {
            int client = s.Forward.SrcPort - 40000;
            _rig.Send(0, ClientTcp(client, TcpFlags.Ack | TcpFlags.Psh, payload: 20));
            var sent = _rig.Pop(1);
            Assert.That(sent, Has.Count.EqualTo(1));
            Assert.That(MacAddress.FromBytes(sent[0]), Is.EqualTo(BackendMac(2)));
        }
        Assert.That(_rig.Poll(), Is.Zero, "no misses: their entries stayed");

        // New flows never land on the draining backend.
        for (int c = 100; c < 130; c++)
            _rig.Open(c);
        Assert.That(_rig.Tracker.Sessions.Where(s => s.Forward.SrcPort >= 40100).Select(s => s.Backend!.Id), Has.None.EqualTo("b2"));
        Assert.That(nat.Rebuilds, Is.EqualTo(rebuilds), "opening flows does not rebuild the pool");

        // At the drain deadline the remaining b2 flows are cut and b2 is forgotten.
        for (int t = 0; t < 20; t++)
            _rig.Advance(TimeSpan.FromSeconds(1));
        Assert.That(_rig.Tracker.Counters.EndedDrained, Is.EqualTo(onB2.Count));
        Assert.That(onB2.Select(s => _rig.Flows.Contains(s.Forward)), Has.All.False);
        Assert.That(nat.Find("b2"), Is.Null);
        Assert.That(_rig.Tracker.Count, Is.EqualTo(60 - onB2.Count));
        Assert.That(_rig.Flows.VerifyAgainstHardware(), Is.Empty);
    }

    [Test]
    public void Pool_changes_keep_established_flows_on_their_backend()
    {
        Assert.That(_rig.Services.TryFind(NatKey, out var nat), Is.True);
        var sessions = Enumerable.Range(0, 20).Select(c => _rig.Open(c)).ToList();
        var before = sessions.ToDictionary(s => s.Forward, s => s.Backend!.Id);
        nat.SetBackend(Backend(7, weight: 5));
        nat.SetWeight("b1", 3);
        nat.SetHealth("b3", healthy: false);
        foreach (var s in sessions)
        {
            int client = s.Forward.SrcPort - 40000;
            _rig.Send(0, ClientTcp(client, TcpFlags.Ack, payload: 10));
            var sent = _rig.Pop(1);
            Assert.That(sent, Has.Count.EqualTo(1));
            Assert.That(MacAddress.FromBytes(sent[0]), Is.EqualTo(nat.Find(before[s.Forward])!.Config.Mac));
        }
        Assert.That(_rig.Poll(), Is.Zero);
    }

    [Test]
    public void A_restarted_control_plane_rebuilds_its_sessions_from_the_hardware_table_and_keeps_forwarding()
    {
        var nat = Enumerable.Range(0, 10).Select(c => _rig.Open(c)).ToList();
        var dsr = Enumerable.Range(20, 5).Select(c => _rig.Open(c, DsrVip)).ToList();
        var placed = nat.Concat(dsr).ToDictionary(s => s.Forward, s => (s.Backend!.Id, s.Reverse));
        int entries = _rig.Flows.Count;

        // The old control plane is gone; a new one reads the table back.
        _rig.StartControlPlane(new FlowTableManager(_rig.Device, _rig.Dataplane.Geometry, FlowTableStart.Load));
        Assert.That(_rig.Flows.Count, Is.EqualTo(entries));
        Assert.That(_rig.Tracker.Count, Is.EqualTo(placed.Count));
        Assert.That(_rig.Tracker.Counters.Restored, Is.EqualTo(placed.Count));
        Assert.That(_rig.Tracker.Counters.OrphanReverse, Is.Zero);
        foreach (var (key, (id, reverse)) in placed)
        {
            Assert.That(_rig.Tracker.TryGet(key, out var s), Is.True);
            Assert.That(s.Backend?.Id, Is.EqualTo(id));
            Assert.That(s.Reverse, Is.EqualTo(reverse));
            Assert.That(s.State, Is.EqualTo(SessionState.Established));
        }
        Assert.That(_rig.Services.TryFind(NatKey, out var natService), Is.True);
        Assert.That(natService.Backends.Sum(b => b.Sessions), Is.EqualTo(nat.Count));

        // Both directions keep hitting, nothing reaches the host.
        foreach (var s in nat)
        {
            int client = s.Forward.SrcPort - 40000;
            _rig.Send(0, ClientTcp(client, TcpFlags.Ack, payload: 10));
            _rig.Send(1, BackendTcp(int.Parse(s.Backend!.Id[1..], System.Globalization.CultureInfo.InvariantCulture), client, TcpFlags.Ack, payload: 10));
            var back = _rig.Pop(0);
            Assert.That(back, Has.Count.EqualTo(1));
            Assert.That(MacAddress.FromBytes(back[0]), Is.EqualTo(ClientMac(client)));
        }
        Assert.That(_rig.Pop(1), Has.Count.EqualTo(nat.Count));
        Assert.That(_rig.Poll(), Is.Zero);

        // A new client after the restart gets a fresh return next hop, not one the old flows still use.
        _rig.Open(50);
        _rig.Send(1, BackendTcp(int.Parse(_rig.Tracker.Sessions[^1].Backend!.Id[1..], System.Globalization.CultureInfo.InvariantCulture), 50, TcpFlags.Ack));
        Assert.That(MacAddress.FromBytes(_rig.Pop(0).Single()), Is.EqualTo(ClientMac(50)));
        var old = nat[0];
        int oldClient = old.Forward.SrcPort - 40000;
        _rig.Send(1, BackendTcp(int.Parse(old.Backend!.Id[1..], System.Globalization.CultureInfo.InvariantCulture), oldClient, TcpFlags.Ack));
        Assert.That(MacAddress.FromBytes(_rig.Pop(0).Single()), Is.EqualTo(ClientMac(oldClient)));

        // The new tracker also ends restored sessions: FIN through the new loop.
        _rig.Send(0, ClientTcp(oldClient, TcpFlags.Fin | TcpFlags.Ack));
        _rig.Poll();
        _rig.Advance(TimeSpan.FromSeconds(5));
        Assert.That(_rig.Flows.Contains(old.Forward), Is.False);
        Assert.That(_rig.Flows.VerifyAgainstHardware(), Is.Empty);
    }
}
