using Offload.Balancer.Classification;
using Offload.Balancer.Tracking;
using Offload.Device;
using Offload.Protocol;
using static Offload.Balancer.Cosim.Tests.BalancerRig;

namespace Offload.Balancer.Cosim.Tests;

/// <summary>
/// Issue 5's failure tests for the classifier and the session tracker, on the model: each kills the part, checks
/// what the hardware does meanwhile, and checks the recovery. (Restart with FIN ending is covered by
/// TrackerTests.A_restarted_control_plane_rebuilds_its_sessions_from_the_hardware_table_and_keeps_forwarding.)
/// </summary>
[NonParallelizable]
public class FailureTests
{
    private const uint WatchdogCycles = 50_000;

    private static readonly TrackerOptions Timeouts = new()
    {
        SynTimeout = TimeSpan.FromSeconds(5),
        TcpEstablishedTimeout = TimeSpan.FromSeconds(300),
        UdpTimeout = TimeSpan.FromSeconds(30),
        SweepInterval = TimeSpan.FromSeconds(1),
    };

    private BalancerRig _rig = null!;

    [SetUp]
    public void Start()
    {
        _rig = new BalancerRig(Timeouts);
        _rig.SetupThreeServices();
    }

    [TearDown]
    public void Stop() => _rig.Dispose();

    private static int BackendNumber(Session s) => int.Parse(s.Backend!.Id[1..], System.Globalization.CultureInfo.InvariantCulture);

    private static int ClientOf(Session s) => s.Forward.SrcPort - 40000;

    [Test]
    public void Classifier_failure_hardware_keeps_forwarding_misses_queue_then_drop_and_the_classifier_resumes_without_flushing()
    {
        var sessions = Enumerable.Range(0, 6).Select(c => _rig.Open(c)).ToList();
        int entries = _rig.Flows.Count;
        _rig.Dataplane.SetWatchdog(WatchdogCycles);
        for (int i = 0; i < 5; i++)
        {
            _rig.Model.Run(WatchdogCycles / 2);
            _rig.Poll();
        }
        Assert.That(_rig.Dataplane.ReadWatchdog().Expiries, Is.Zero, "a live classifier keeps the watchdog from expiring");

        // The classifier dies: no more polls, no more kicks.
        _rig.Model.Run(WatchdogCycles + 10);
        var wd = _rig.Dataplane.ReadWatchdog();
        Assert.That(wd.Expired, Is.True);
        Assert.That(wd.Expiries, Is.EqualTo(1));

        // Established flows keep forwarding in hardware, both directions.
        var before0 = _rig.Counters(0);
        var before1 = _rig.Counters(1);
        foreach (var s in sessions)
        {
            _rig.Send(0, ClientTcp(ClientOf(s), TcpFlags.Ack | TcpFlags.Psh, payload: 200));
            _rig.Send(1, BackendTcp(BackendNumber(s), ClientOf(s), TcpFlags.Ack, payload: 300));
        }
        Assert.That(_rig.Counters(0).FlowHit - before0.FlowHit, Is.EqualTo((ulong)sessions.Count));
        Assert.That(_rig.Counters(1).FlowHit - before1.FlowHit, Is.EqualTo((ulong)sessions.Count));
        var toBackends = _rig.Pop(1);
        var toClients = _rig.Pop(0);
        Assert.That(toBackends, Has.Count.EqualTo(sessions.Count));
        Assert.That(toClients, Has.Count.EqualTo(sessions.Count));
        Assert.That(toBackends.Select(f => MacAddress.FromBytes(f)), Is.EqualTo(sessions.Select(s => s.Backend!.Config.Mac)));
        Assert.That(toClients.Select(f => MacAddress.FromBytes(f)), Is.EqualTo(sessions.Select(s => ClientMac(ClientOf(s)))));

        // The fallback (docs/dataplane.md, "Watchdog"; ofl_csr.v only flags EXPIRED): new connections' first packets
        // are still punted to the host queue while it has room, and dropped and counted once it is full.
        var g = _rig.Dataplane.Geometry;
        int queueBytes = g.HostRxDepth * (g.DataWidth / 8);
        const int payload = 1400;
        int newClients = (queueBytes / (payload + 54 + 16)) + 10;
        before0 = _rig.Counters(0);
        for (int c = 0; c < newClients; c++)
            _rig.Send(0, ClientTcp(100 + c, TcpFlags.Syn, payload: payload));
        var after0 = _rig.Counters(0);
        ulong punted = after0.Punt - before0.Punt;
        ulong dropped = after0.DropHostFull - before0.DropHostFull;
        Assert.That(after0.FlowMiss - before0.FlowMiss, Is.EqualTo((ulong)newClients));
        Assert.That(punted + dropped, Is.EqualTo((ulong)newClients), "every miss is either queued or counted as dropped");
        Assert.That(punted, Is.GreaterThan(0UL));
        Assert.That(dropped, Is.GreaterThan(0UL), "the queue filled");
        Assert.That(_rig.Pop(1), Is.Empty, "nothing forwards a miss while the classifier is away");

        // A full host queue does not stop forwarding.
        _rig.Send(0, ClientTcp(ClientOf(sessions[0]), TcpFlags.Ack, payload: 10));
        Assert.That(_rig.Pop(1), Has.Count.EqualTo(1));
        Assert.That(_rig.Dataplane.ReadWatchdog().Expired, Is.True);

        // The classifier comes back: a new process rebuilds everything from the hardware table, nothing is flushed.
        _rig.StartControlPlane(new FlowTableManager(_rig.Device, _rig.Dataplane.Geometry, FlowTableStart.Load));
        Assert.That(_rig.Flows.Count, Is.EqualTo(entries));
        Assert.That(_rig.Tracker.Counters.Restored, Is.EqualTo(sessions.Count));
        foreach (var s in sessions)
        {
            Assert.That(_rig.Tracker.TryGet(s.Forward, out var restored), Is.True);
            Assert.That(restored.Backend?.Id, Is.EqualTo(s.Backend!.Id));
            Assert.That(restored.Reverse, Is.EqualTo(s.Reverse));
        }

        // It drains what queued meanwhile: each queued first packet is classified, installed and re-injected.
        int taken = 0;
        for (int n; (n = _rig.Poll()) > 0;)
            taken += n;
        Assert.That(taken, Is.EqualTo((int)punted));
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.Installed), Is.EqualTo((long)punted));
        Assert.That(_rig.Pop(1), Has.Count.EqualTo((int)punted));
        Assert.That(_rig.Dataplane.ReadWatchdog().Expired, Is.False, "the first poll kicked the watchdog");
        Assert.That(_rig.Flows.Count, Is.EqualTo(entries + (2 * (int)punted)));

        // Old flows still hit; clients whose SYN was dropped retry and get in; brand-new connections work.
        before0 = _rig.Counters(0);
        foreach (var s in sessions)
            _rig.Send(0, ClientTcp(ClientOf(s), TcpFlags.Ack, payload: 10));
        Assert.That(_rig.Counters(0).FlowHit - before0.FlowHit, Is.EqualTo((ulong)sessions.Count));
        Assert.That(_rig.Pop(1).Select(f => MacAddress.FromBytes(f)), Is.EqualTo(sessions.Select(s => s.Backend!.Config.Mac)));
        int retried = Enumerable.Range(0, newClients).First(c => !_rig.Flows.Contains(ClientKey(100 + c)));
        _rig.Open(100 + retried);
        _rig.Open(500);
        Assert.That(_rig.Poll(), Is.Zero);
        Assert.That(_rig.Dataplane.ReadWatchdog().Expired, Is.False);
        Assert.That(_rig.Flows.VerifyAgainstHardware(), Is.Empty);
    }

    [Test]
    public void Lost_tracker_state_is_rebuilt_from_the_hardware_table_and_restored_sessions_age_drain_and_end_like_new_ones()
    {
        var nat = Enumerable.Range(0, 9).Select(c => _rig.Open(c)).ToList();
        var dsr = Enumerable.Range(20, 6).Select(c => _rig.Open(c, DsrVip)).ToList();
        var udp = new List<FlowKey>();
        for (int c = 40; c < 43; c++)
        {
            _rig.Send(0, ClientUdp(c));
            _rig.Poll();
            udp.Add(ClientKey(c, vip: UdpVip, port: UdpPort, protocol: IpProtocol.Udp));
        }
        _rig.Pop(1);
        var placed = nat.Concat(dsr).ToDictionary(s => s.Forward, s => s.Backend!.Id);
        foreach (var k in udp)
        {
            Assert.That(_rig.Tracker.TryGet(k, out var s), Is.True);
            placed[k] = s.Backend!.Id;
        }
        int dynamicInUse = _rig.Services.NextHops.DynamicInUse;

        // The tracker's state is lost (the process restarts); only the hardware table remains.
        _rig.StartControlPlane(new FlowTableManager(_rig.Device, _rig.Dataplane.Geometry, FlowTableStart.Load));
        Assert.That(_rig.Tracker.Count, Is.EqualTo(placed.Count));
        Assert.That(_rig.Tracker.Counters.Foreign, Is.Zero);
        foreach (var (key, id) in placed)
        {
            Assert.That(_rig.Tracker.TryGet(key, out var s), Is.True);
            Assert.That(s.Backend?.Id, Is.EqualTo(id), $"{key}: NAT maps back by its target, DSR by its next hop");
            Assert.That(s.State, Is.EqualTo(SessionState.Established));
        }
        Assert.That(_rig.Services.NextHops.DynamicInUse, Is.EqualTo(dynamicInUse), "the client next hops the return entries use are taken");
        foreach (var key in new[] { NatKey, DsrKey, UdpKey })
        {
            Assert.That(_rig.Services.TryFind(key, out var service), Is.True);
            foreach (var b in service.Backends)
                Assert.That(b.Sessions, Is.EqualTo(placed.Count(p => p.Key.DstIp == key.VirtualIp && p.Value == b.Id)), $"{b.Id} session count");
        }

        // Drain one NAT backend; keep one connection on another backend busy; the rest idles.
        Assert.That(_rig.Services.TryFind(NatKey, out var natService), Is.True);
        string drained = nat[0].Backend!.Id;
        var onDrained = nat.Where(s => s.Backend!.Id == drained).ToList();
        var busy = nat.First(s => s.Backend!.Id != drained);
        Assert.That(natService.RemoveBackend(drained), Is.True);
        for (int t = 0; t < 35; t++)
        {
            _rig.Send(0, ClientTcp(ClientOf(busy), TcpFlags.Ack, payload: 10));
            Assert.That(_rig.Pop(1), Has.Count.EqualTo(1));
            if (t == 10)
            {
                // Before the deadline a drained connection still reaches its backend in hardware.
                _rig.Send(0, ClientTcp(ClientOf(onDrained[0]), TcpFlags.Ack, payload: 10));
                var sent = _rig.Pop(1);
                Assert.That(sent, Has.Count.EqualTo(1));
                Assert.That(MacAddress.FromBytes(sent[0]), Is.EqualTo(onDrained[0].Backend!.Config.Mac));
            }
            _rig.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.That(_rig.Tracker.Counters.EndedDrained, Is.EqualTo(onDrained.Count), "restored sessions of a drained backend are cut at the deadline");
        Assert.That(_rig.Tracker.Counters.EndedIdle, Is.EqualTo(udp.Count), "restored UDP sessions idle out after the UDP timeout");
        Assert.That(natService.Find(drained), Is.Null);
        Assert.That(_rig.Tracker.TryGet(busy.Forward, out _), Is.True);
        Assert.That(nat.Concat(dsr).Where(s => s.Backend!.Id != drained).Select(s => _rig.Tracker.TryGet(s.Forward, out _)), Has.All.True,
            "established TCP outlives 35 s idle");

        // A FIN through the new loop ends a restored session after the linger; the others age out.
        _rig.Send(0, ClientTcp(ClientOf(busy), TcpFlags.Fin | TcpFlags.Ack));
        _rig.Poll();
        _rig.Advance(TimeSpan.FromSeconds(6));
        Assert.That(_rig.Tracker.TryGet(busy.Forward, out _), Is.False);
        Assert.That(_rig.Tracker.Counters.EndedFinRst, Is.EqualTo(1));
        _rig.Advance(TimeSpan.FromSeconds(301));
        Assert.That(_rig.Tracker.Count, Is.Zero);
        Assert.That(_rig.Flows.Count, Is.Zero);
        Assert.That(_rig.Services.NextHops.DynamicInUse, Is.Zero, "every client next hop was released");
        Assert.That(_rig.Flows.VerifyAgainstHardware(), Is.Empty);
    }
}
