using Offload.Balancer.Classification;
using Offload.Balancer.Sync;
using Offload.Device;
using Offload.Protocol;
using Offload.Protocol.Sync;
using static Offload.Balancer.Cosim.Tests.BalancerRig;

namespace Offload.Balancer.Cosim.Tests;

/// <summary>
/// "A forwarder fails, its established flows survive": two gateways, each its own Verilator model and control plane,
/// their port 0 on one simulated segment. Sync frames leave A's model through its host TX queue and port 0 and go
/// into B's port 0, where B's data plane punts them (PROTO) to B's sync engine; acks come back the same way.
/// </summary>
[NonParallelizable]
public class SyncFailoverTests
{
    private static readonly MacAddress BPort0 = MacAddress.Parse("02:0f:00:00:00:02");
    private static readonly MacAddress BPort1 = MacAddress.Parse("02:0f:00:00:01:02");
    private static readonly MacAddress BVmac = MacAddress.Glbp(1, 2);
    private static readonly uint AIp = Ipv4Address.Parse("192.0.2.1");
    private static readonly uint BIp = Ipv4Address.Parse("192.0.2.2");
    private static readonly byte[] GroupKey = "cosim-sync-key"u8.ToArray();
    private const int NatClients = 6;
    private const int DsrClient = 50;

    private BalancerRig _a = null!;
    private BalancerRig _b = null!;
    private SyncEngine _syncA = null!;
    private SyncEngine _syncB = null!;
    private bool _aAlive;

    /// <summary>Frames a gateway sent out port 0 to anyone but its peer (the clients' side of the segment).</summary>
    private readonly List<byte[]> _toClientsA = [];
    private readonly List<byte[]> _toClientsB = [];

    [SetUp]
    public void Start()
    {
        _a = new BalancerRig();
        _b = new BalancerRig(null, BPort0, BPort1, BVmac);
        foreach (var rig in new[] { _a, _b })
        {
            rig.Setup(s =>
            {
                var nat = s.Add(new ServiceConfig(new ServiceKey(Vip, IpProtocol.Tcp, VipPort), ForwardingMode.Nat));
                for (int i = 1; i <= 3; i++)
                    nat.SetBackend(Backend(i));
                var dsr = s.Add(new ServiceConfig(new ServiceKey(DsrVip, IpProtocol.Tcp, VipPort), ForwardingMode.DirectServerReturn));
                for (int i = 4; i <= 6; i++)
                    dsr.SetBackend(Backend(i, port: 0));
            });
        }
        var optionsA = new SyncOptions { LocalIp = AIp, Key = GroupKey, Peers = [new SyncPeer(BIp, BPort0)], BootId = 1 };
        var optionsB = new SyncOptions { LocalIp = BIp, Key = GroupKey, Peers = [new SyncPeer(AIp, Port0Mac)], BootId = 1 };
        _syncA = new SyncEngine(_a.Tracker, _a.Services, new DataplaneSyncTransport(_a.Dataplane, Port0Mac, optionsA), optionsA);
        _syncB = new SyncEngine(_b.Tracker, _b.Services, new DataplaneSyncTransport(_b.Dataplane, BPort0, optionsB), optionsB);
        _syncA.AddOwnedVmac(Vmac);
        _syncB.AddOwnedVmac(BVmac);
        _a.Loop.OtherFrames = (in HostFrame meta, ReadOnlySpan<byte> frame) => _syncA.TryHandleFrame(meta, frame);
        _b.Loop.OtherFrames = (in HostFrame meta, ReadOnlySpan<byte> frame) => _syncB.TryHandleFrame(meta, frame);
        _aAlive = true;
    }

    [TearDown]
    public void Stop()
    {
        _a.Dispose();
        _b.Dispose();
    }

    /// <summary>Runs both control planes and the segment between their port 0 until nothing moves any more.</summary>
    private void Settle(TimeSpan? step = null)
    {
        for (int round = 0; round < 50; round++)
        {
            int moved = 0;
            if (_aAlive)
            {
                _a.Time.Advance(step ?? TimeSpan.FromMilliseconds(10));
                moved += _a.Loop.Poll();
                _syncA.Poll();
                _a.Model.RunUntilIdle();
            }
            _b.Time.Advance(step ?? TimeSpan.FromMilliseconds(10));
            moved += _b.Loop.Poll();
            _syncB.Poll();
            _b.Model.RunUntilIdle();
            if (_aAlive)
                moved += Carry(_a, BPort0, _b, _toClientsA);
            moved += Carry(_b, Port0Mac, _aAlive ? _a : null, _toClientsB);
            if (moved == 0)
                return;
        }
        Assert.Fail("the segment never went quiet");
    }

    /// <summary>The switch of the segment: frames for the peer's port-0 MAC go into its port 0, the rest to the clients.</summary>
    private static int Carry(BalancerRig from, MacAddress peerMac, BalancerRig? to, List<byte[]> clients)
    {
        int n = 0;
        foreach (var f in from.Pop(0))
        {
            n++;
            if (MacAddress.FromBytes(f) == peerMac)
            {
                if (to is not null)
                    to.Send(0, f);
            }
            else
            {
                clients.Add(f);
            }
        }
        return n;
    }

    /// <summary>SYN through A (miss, classify, install, re-inject), then an ACK that hits in A's hardware.</summary>
    private byte[] OpenThroughA(int client, uint vip)
    {
        _a.Send(0, ClientTcp(client, TcpFlags.Syn, vip: vip));
        _a.Poll();
        Assert.That(_a.Pop(1), Has.Count.EqualTo(1), "the first packet was re-injected toward the backend");
        ulong hits = _a.Counters(0).FlowHit;
        _a.Send(0, ClientTcp(client, TcpFlags.Ack, vip: vip, payload: 10));
        var out1 = _a.Pop(1);
        Assert.That(out1, Has.Count.EqualTo(1));
        Assert.That(_a.Counters(0).FlowHit, Is.EqualTo(hits + 1), "the second packet hit in A's hardware");
        return out1[0];
    }

    [Test]
    public void Established_flows_survive_when_their_gateway_fails_and_its_peer_takes_over_the_vmac()
    {
        var throughA = new Dictionary<int, byte[]>();
        for (int c = 1; c <= NatClients; c++)
            throughA[c] = OpenThroughA(c, Vip);
        byte[] dsrThroughA = OpenThroughA(DsrClient, DsrVip);
        var backendOf = Enumerable.Range(1, NatClients).ToDictionary(c => c, c =>
        {
            Assert.That(_a.Tracker.TryGet(ClientKey(c), out var s), Is.True);
            return int.Parse(s.Backend!.Id[1..], System.Globalization.CultureInfo.InvariantCulture);
        });

        ulong bPuntsBefore = _b.Counters(0).Punt;
        Settle();

        // The sync went through both data planes: A's host TX out its port 0, B's port 0 punted it up, and back.
        Assert.That(_a.Dataplane.ReadCounters().HostTxFrames, Is.GreaterThanOrEqualTo((ulong)NatClients + 2), "re-injected packets and the sync frames");
        Assert.That(_b.Counters(0).Punt, Is.GreaterThan(bPuntsBefore));
        Assert.That(_a.Counters(0).Punt, Is.GreaterThan(0UL), "B's ack came back through A's data plane");
        Assert.That(_syncB.Counters.Count(SyncVerdict.Accepted), Is.GreaterThanOrEqualTo(1));
        Assert.That(_syncA.Counters.Count(SyncVerdict.Acked), Is.GreaterThanOrEqualTo(1));
        Assert.That(_syncA.InFlight(BIp), Is.Zero, "everything A sent was acknowledged");
        Assert.That(_syncB.Stored.Select(s => s.Flow.Forward.SrcIp), Is.EquivalentTo(Enumerable.Range(1, NatClients).Select(c => ClientIp(c))),
            "B holds every NAT flow of A, and not the DSR flow its own Maglev recomputes");
        Assert.That(_syncA.IsAnnounced(ClientKey(DsrClient, vip: DsrVip)), Is.False);
        Assert.That(_b.Flows.Count, Is.Zero, "held, not installed: B does not forward A's vMAC yet");

        // A fails: nothing steps it any more. B takes over its vMAC.
        _aAlive = false;
        _b.AddVmac(Vmac);
        Assert.That(_syncB.OnVmacTakenOver(Vmac), Is.EqualTo(NatClients));
        Assert.That(_b.Flows.Count, Is.EqualTo(2 * NatClients), "forward and reverse entry of each NAT flow");

        var before = _b.Counters(0);
        for (int c = 1; c <= NatClients; c++)
        {
            byte[] packet = ClientTcp(c, TcpFlags.Ack, payload: 10);
            _b.Send(0, packet);
            var out1 = _b.Pop(1);
            Assert.That(out1, Has.Count.EqualTo(1), $"client {c}: forwarded by B's hardware");
            byte[] f = out1[0];
            Assert.That(MacAddress.FromBytes(f), Is.EqualTo(BackendMac(backendOf[c])), "to the same backend");
            Assert.That(MacAddress.FromBytes(f.AsSpan(6)), Is.EqualTo(BPort1));
            Assert.That(f.AsSpan(12).ToArray(), Is.EqualTo(throughA[c].AsSpan(12).ToArray()), "the same NAT rewrite, byte for byte");
            Assert.That(f, Is.EqualTo(_b.Expected(0, packet, 1)), "and what the reference pipeline computes from B's tables");
        }
        var after = _b.Counters(0);
        Assert.That(after.FlowHit - before.FlowHit, Is.EqualTo((ulong)NatClients), "every packet hit");
        Assert.That(after.FlowMiss, Is.EqualTo(before.FlowMiss), "no miss");
        Assert.That(after.Punt, Is.EqualTo(before.Punt), "nothing went to B's classifier");

        // The backends answer through B (its port-1 MAC is their gateway now): source-NATed back to the client.
        var before1 = _b.Counters(1);
        for (int c = 1; c <= NatClients; c++)
        {
            byte[] reply = BackendTcp(backendOf[c], c, TcpFlags.Ack, payload: 20, gateway: BPort1);
            _b.Send(1, reply);
            var out0 = _b.Pop(0);
            Assert.That(out0, Has.Count.EqualTo(1), $"client {c}: reply forwarded by B's hardware");
            byte[] f = out0[0];
            Assert.That(MacAddress.FromBytes(f), Is.EqualTo(ClientMac(c)));
            Assert.That(MacAddress.FromBytes(f.AsSpan(6)), Is.EqualTo(Vmac), "from the vMAC the client uses as its gateway");
            var ip = f.AsSpan(14);
            Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), Is.EqualTo(Vip), "source NAT to the VIP");
            Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(ip[20..]), Is.EqualTo(VipPort));
            Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(ip[16..]), Is.EqualTo(ClientIp(c)));
            Assert.That(f, Is.EqualTo(_b.Expected(1, reply, 0)));
        }
        var after1 = _b.Counters(1);
        Assert.That(after1.FlowHit - before1.FlowHit, Is.EqualTo((ulong)NatClients));
        Assert.That(after1.FlowMiss, Is.EqualTo(before1.FlowMiss));

        // The DSR connection was never synced: its next packet misses at B, is classified mid-stream (PickMaglev)
        // and reaches the backend A chose; from then on it hits.
        long installed = _b.Classifier.Count(ClassifyOutcome.Installed);
        _b.Send(0, ClientTcp(DsrClient, TcpFlags.Ack, vip: DsrVip, payload: 10));
        Assert.That(_b.Counters(0).FlowMiss, Is.EqualTo(after.FlowMiss + 1));
        _b.Poll();
        Assert.That(_b.Classifier.Count(ClassifyOutcome.Installed), Is.EqualTo(installed + 1));
        var dsrOut = _b.Pop(1);
        Assert.That(dsrOut, Has.Count.EqualTo(1));
        Assert.That(MacAddress.FromBytes(dsrOut[0]), Is.EqualTo(MacAddress.FromBytes(dsrThroughA)), "the backend A picked");
        Assert.That(dsrOut[0].AsSpan(12).ToArray(), Is.EqualTo(dsrThroughA.AsSpan(12).ToArray()));
        ulong hits = _b.Counters(0).FlowHit;
        _b.Send(0, ClientTcp(DsrClient, TcpFlags.Ack, vip: DsrVip, payload: 10));
        Assert.That(_b.Pop(1), Has.Count.EqualTo(1));
        Assert.That(_b.Counters(0).FlowHit, Is.EqualTo(hits + 1));
    }

    [Test]
    public void Without_the_takeover_install_the_same_packets_would_have_gone_to_the_classifier()
    {
        // The control experiment: B takes the vMAC into its filter but installs nothing; the established NAT
        // connections then miss (and a mid-stream NAT packet gets a Maglev pick, not necessarily its backend).
        for (int c = 1; c <= NatClients; c++)
            OpenThroughA(c, Vip);
        Settle();
        _aAlive = false;
        _b.AddVmac(Vmac);
        var before = _b.Counters(0);
        for (int c = 1; c <= NatClients; c++)
            _b.Send(0, ClientTcp(c, TcpFlags.Ack, payload: 10));
        var after = _b.Counters(0);
        Assert.That(after.FlowMiss - before.FlowMiss, Is.EqualTo((ulong)NatClients));
        Assert.That(after.FlowHit, Is.EqualTo(before.FlowHit));
        Assert.That(_syncB.Stored, Has.Count.EqualTo(NatClients), "the flows were there to install");
    }

    [Test]
    public void A_dsr_flow_pinned_by_a_pool_change_is_synced_and_keeps_its_backend_after_the_takeover()
    {
        var dsrKey = new ServiceKey(DsrVip, IpProtocol.Tcp, VipPort);
        var clients = Enumerable.Range(50, 20).ToList();
        var backendMac = clients.ToDictionary(c => c, c => MacAddress.FromBytes(OpenThroughA(c, DsrVip)));
        Settle();
        Assert.That(_syncB.Stored, Is.Empty, "plain Maglev flows are not synced");

        // The same pool change on both gateways: a new backend takes part of the Maglev table.
        foreach (var rig in new[] { _a, _b })
        {
            Assert.That(rig.Services.TryFind(dsrKey, out var dsr), Is.True);
            dsr.SetBackend(Backend(7, port: 0));
        }
        Assert.That(_a.Services.TryFind(dsrKey, out var dsrA), Is.True);
        var maglev = (Scheduling.MaglevScheduler)dsrA.Scheduler;
        var pinned = clients.Where(c => BackendMac(int.Parse(maglev.Pool![maglev.Pick(ClientKey(c, vip: DsrVip))].Id[1..],
            System.Globalization.CultureInfo.InvariantCulture)) != backendMac[c]).ToList();
        Assert.That(pinned, Is.Not.Empty, "some established flows now differ from the new table");
        Settle();
        Assert.That(_syncB.Stored.Select(s => s.Flow.Forward.SrcIp), Is.EquivalentTo(pinned.Select(c => ClientIp(c))),
            "exactly the pinned flows were synced");

        _aAlive = false;
        _b.AddVmac(Vmac);
        Assert.That(_syncB.OnVmacTakenOver(Vmac), Is.EqualTo(pinned.Count));
        foreach (int c in clients)
        {
            var before = _b.Counters(0);
            _b.Send(0, ClientTcp(c, TcpFlags.Ack, vip: DsrVip, payload: 10));
            _b.Poll();
            var out1 = _b.Pop(1);
            Assert.That(out1, Has.Count.EqualTo(1));
            Assert.That(MacAddress.FromBytes(out1[0]), Is.EqualTo(backendMac[c]), $"client {c} stays on its backend");
            var after = _b.Counters(0);
            if (pinned.Contains(c))
                Assert.That((after.FlowHit - before.FlowHit, after.FlowMiss - before.FlowMiss), Is.EqualTo((1UL, 0UL)), "synced: hit");
            else
                Assert.That((after.FlowHit - before.FlowHit, after.FlowMiss - before.FlowMiss), Is.EqualTo((0UL, 1UL)), "recomputed: miss, then Maglev");
        }
    }

    [Test]
    public void A_restarted_control_plane_rebuilds_from_its_table_and_its_peer_and_still_withdraws_what_ends()
    {
        for (int c = 1; c <= 3; c++)
            OpenThroughA(c, Vip);
        Settle();
        Assert.That(_syncB.Stored, Has.Count.EqualTo(3));

        // A's control plane restarts: the tracker reads the hardware table back, the sync engine starts a new boot
        // and asks its peer for what it holds.
        _a.StartControlPlane(new FlowTableManager(_a.Device, _a.Dataplane.Geometry, FlowTableStart.Load));
        var options = new SyncOptions { LocalIp = AIp, Key = GroupKey, Peers = [new SyncPeer(BIp, BPort0)], BootId = 2 };
        _syncA = new SyncEngine(_a.Tracker, _a.Services, new DataplaneSyncTransport(_a.Dataplane, Port0Mac, options), options);
        _syncA.AddOwnedVmac(Vmac);
        _a.Loop.OtherFrames = (in HostFrame meta, ReadOnlySpan<byte> frame) => _syncA.TryHandleFrame(meta, frame);
        Assert.That(_a.Tracker.Count, Is.EqualTo(3));
        Assert.That(_a.Tracker.Sessions.Select(s => s.Vmac), Has.All.EqualTo(Vmac), "the return hops read back from the hardware say whose flows they are");
        Assert.That(_syncA.Counters.Unexpressible, Is.Zero, "restored NAT sessions can be described to the peer again");
        _syncA.RequestAll();
        Settle();

        Assert.That(_syncB.Counters.Count(SyncVerdict.StaleBoot), Is.Zero, "a higher boot id is a restart, not a replay");
        Assert.That(_a.Tracker.Sessions.Select(s => s.Vmac), Has.All.EqualTo(Vmac), "and the peer's copies agree");
        Assert.That(_syncA.Stored, Is.Empty, "its own flows, which it forwards already, are not held as a peer's");
        Assert.That(_syncA.AnnouncedCount, Is.EqualTo(3));

        // A restored connection closes: its end reaches the peer, which forgets its copy.
        _a.Send(0, ClientTcp(1, TcpFlags.Fin | TcpFlags.Ack));
        Assert.That(_a.Pop(1), Has.Count.EqualTo(1));
        Settle();
        _a.Time.Advance(_a.Options.FinLinger);
        Settle();
        Assert.That(_a.Tracker.TryGet(ClientKey(1), out _), Is.False);
        Assert.That(_syncB.Stored.Select(s => s.Flow.Forward.SrcIp), Is.EquivalentTo(new[] { ClientIp(2), ClientIp(3) }));
        Assert.That(_syncA.InFlight(BIp), Is.Zero);
    }

    [Test]
    public void Sync_frames_are_punted_as_proto_and_forged_ones_are_refused()
    {
        OpenThroughA(1, Vip);
        // Catch A's first sync frame on the segment instead of delivering it.
        _a.Time.Advance(TimeSpan.FromMilliseconds(10));
        _a.Loop.Poll();
        _syncA.Poll();
        _a.Model.RunUntilIdle();
        var frames = _a.Pop(0);
        Assert.That(frames, Has.Count.EqualTo(1));
        byte[] frame = frames[0];
        Assert.That(SyncDatagram.TryParse(frame, SyncWire.DefaultPort, out var info), Is.EqualTo(SyncFrameError.None));
        Assert.That((info.SourceIp, info.DestinationIp), Is.EqualTo((AIp, BIp)));

        // A forged copy (one payload bit flipped, UDP checksum left as it is: the data plane does not check it).
        byte[] forged = (byte[])frame.Clone();
        forged[info.PayloadOffset + 40] ^= 1;
        ulong punts = _b.Counters(0).Punt;
        _b.Send(0, forged);
        Assert.That(_b.Counters(0).Punt, Is.EqualTo(punts + 1));
        _b.Poll();
        Assert.That(_syncB.Counters.Count(SyncVerdict.Malformed), Is.EqualTo(1));
        Assert.That(_syncB.LastError, Is.EqualTo(SyncError.BadTag));
        Assert.That(_syncB.Stored, Is.Empty);

        _b.Send(0, frame);
        _b.Poll();
        Assert.That(_syncB.Counters.Count(SyncVerdict.Accepted), Is.EqualTo(1));
        Assert.That(_syncB.Stored, Has.Count.EqualTo(1));
        var ack = _b.Pop(0);
        Assert.That(ack, Has.Count.EqualTo(1), "B acknowledged through its own host TX and port 0");
        Assert.That(MacAddress.FromBytes(ack[0]), Is.EqualTo(Port0Mac));
    }
}
