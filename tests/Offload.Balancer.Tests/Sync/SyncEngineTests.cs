using Microsoft.Extensions.Time.Testing;
using Offload.Balancer.Classification;
using Offload.Balancer.Scheduling;
using Offload.Balancer.Sync;
using Offload.Device;
using Offload.Protocol;
using Offload.Protocol.Sync;
using static Offload.Balancer.Tests.Sync.SyncGateway;

namespace Offload.Balancer.Tests.Sync;

/// <summary>Two sync engines on virtual time, each over its own model-backed control plane, joined by a <see cref="SyncLink"/>.</summary>
[NonParallelizable]
[Category("Model")]
public class SyncEngineTests
{
    private FakeTimeProvider _time = null!;
    private SyncLink _link = null!;
    private readonly List<SyncGateway> _gateways = [];

    [SetUp]
    public void Start()
    {
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        _link = new SyncLink(_time, seed: 7);
    }

    [TearDown]
    public void Stop()
    {
        foreach (var g in _gateways)
            g.Dispose();
        _gateways.Clear();
    }

    private SyncGateway Gateway(int number, ulong boot, byte[]? key = null, Func<SyncOptions, SyncOptions>? tune = null)
    {
        var g = new SyncGateway(_time, number, _link, boot, key, tune);
        _gateways.Add(g);
        return g;
    }

    private static SyncMessageType TypeOf(byte[] message) => (SyncMessageType)message[5];

    [Test]
    public void Nat_flows_reach_the_peer_exactly_once_over_a_lossy_duplicating_reordering_link()
    {
        var a = Gateway(1, boot: 100, tune: o => o with { MaxRetries = 20 });
        var b = Gateway(2, boot: 200, tune: o => o with { MaxRetries = 20 });
        _link.Loss = 0.3;
        _link.Duplication = 0.3;
        _link.MaxDelay = TimeSpan.FromMilliseconds(300);
        for (int c = 1; c <= 100; c++)
            Assert.That(a.Open(c, NatVip), Is.EqualTo(ClassifyOutcome.Installed));
        Assert.That(a.Engine.AnnouncedCount, Is.EqualTo(100), "NAT sessions always need sync");

        _link.Run(600);

        Assert.That(_link.Lost, Is.GreaterThan(0));
        Assert.That(_link.Duplicated, Is.GreaterThan(0));
        Assert.That(a.Engine.Counters.Resent, Is.GreaterThan(0), "lost messages were resent");
        Assert.That(b.Engine.Counters.Count(SyncVerdict.Duplicate), Is.GreaterThan(0), "duplicates were recognised");
        Assert.That(a.Engine.InFlight(b.Ip), Is.Zero, "everything was acknowledged in the end");
        Assert.That(a.Engine.Counters.MessagesDropped, Is.Zero);

        var stored = b.Engine.Stored.ToDictionary(s => s.Flow.Forward);
        Assert.That(stored, Has.Count.EqualTo(100));
        foreach (var s in a.Tracker.Sessions)
        {
            var k = s.Forward;
            var f = stored[new SyncFlowKey(k.InPort, k.SrcIp, k.DstIp, k.Protocol, k.SrcPort, k.DstPort)];
            Assert.That(f.Origin, Is.EqualTo(a.Ip));
            Assert.That(f.BackendId, Is.EqualTo(s.Backend!.Id));
            Assert.That(f.Flow.Vmac, Is.EqualTo(a.Vmac.Value), "the vMAC the client addressed");
            Assert.That(f.Flow.Nat, Is.EqualTo((byte)NatMode.Destination));
            Assert.That((f.Flow.NatIp, f.Flow.NatPort), Is.EqualTo((s.Backend.Config.Address, s.Backend.Config.Port)));
            Assert.That((f.Flow.BackendMac, f.Flow.BackendPort), Is.EqualTo((s.Backend.Config.Mac.Value, (byte)1)));
            Assert.That(f.Flow.HasReverse, Is.True);
            var rk = s.Reverse!.Value;
            Assert.That(f.Flow.Reverse, Is.EqualTo(new SyncFlowKey(rk.InPort, rk.SrcIp, rk.DstIp, rk.Protocol, rk.SrcPort, rk.DstPort)));
            Assert.That((f.Flow.ReverseNatIp, f.Flow.ReverseNatPort), Is.EqualTo((NatVip, (ushort)80)));
            Assert.That((f.Flow.ClientMac, f.Flow.ClientPort), Is.EqualTo((ClientMac((int)(k.SrcIp & 0xFF)).Value, (byte)0)));
        }
    }

    [Test]
    public void Only_flows_a_peer_could_not_recompute_are_announced()
    {
        var a = Gateway(1, boot: 100);
        var b = Gateway(2, boot: 200);
        for (int c = 1; c <= 60; c++)
            Assert.That(a.Open(c, DsrVip), Is.EqualTo(ClassifyOutcome.Installed));
        _link.Run(10);
        Assert.That(a.Engine.AnnouncedCount, Is.Zero, "plain Maglev flows: the peer's classifier picks the same backend");
        Assert.That(b.Engine.Stored, Is.Empty);

        for (int c = 61; c <= 70; c++)
            Assert.That(a.Open(c, UdpVip), Is.EqualTo(ClassifyOutcome.Installed));
        Assert.That(a.Engine.AnnouncedCount, Is.EqualTo(10), "round-robin UDP flows cannot be recomputed");

        // A new backend changes the Maglev table: flows that keep their old backend are now pinned against it.
        a.Dsr.SetBackend(Backend(10, 0));
        b.Dsr.SetBackend(Backend(10, 0));
        var maglev = (MaglevScheduler)a.Dsr.Scheduler;
        var pinned = a.Tracker.Sessions.Where(s => s.Service == a.Dsr && maglev.Pool![maglev.Pick(s.Forward)].Id != s.Backend!.Id)
            .Select(s => s.Forward).ToHashSet();
        Assert.That(pinned, Is.Not.Empty.And.Count.LessThan(60), "the new backend takes some keys, not all");
        _link.Run(20);

        var dsrAnnounced = a.Tracker.Sessions.Where(s => s.Service == a.Dsr && a.Engine.IsAnnounced(s.Forward)).Select(s => s.Forward);
        Assert.That(dsrAnnounced, Is.EquivalentTo(pinned));
        Assert.That(b.Engine.Stored.Count(s => s.Flow.Forward.DstIp == DsrVip), Is.EqualTo(pinned.Count));
        Assert.That(b.Engine.Stored.Count(s => s.Flow.Forward.DstIp == UdpVip), Is.EqualTo(10));
        Assert.That(b.Engine.Stored.Where(s => s.Flow.Forward.DstIp == DsrVip).Select(s => s.Flow.HasReverse), Has.All.False);
        Assert.That(b.Engine.Stored.Select(s => s.Flow.Vmac), Has.All.EqualTo(a.Vmac.Value),
            "a DSR session does not name its vMAC; a gateway with one vMAC knows it anyway");
    }

    [Test]
    public void A_withdraw_removes_the_peer_copy_and_a_late_resend_of_the_batch_cannot_bring_it_back()
    {
        var a = Gateway(1, boot: 100);
        var b = Gateway(2, boot: 200);
        _link.Hold = (from, _, m) => from == a.Ip && TypeOf(m) == SyncMessageType.FlowBatch && _link.Held.Count == 0;
        a.Open(1, NatVip);
        _link.Run(5);
        Assert.That(_link.Held, Has.Count.EqualTo(1), "the first batch is held back");
        Assert.That(b.Engine.Stored, Is.Empty);

        Assert.That(a.Tracker.Remove(Key(1, NatVip)), Is.True);
        // The withdraw goes out at once; the batch's resend only after its timeout, so it arrives second.
        _link.Run(40);
        Assert.That(_link.Sent.Count(s => s.From == a.Ip && TypeOf(s.Bytes) == SyncMessageType.FlowBatch), Is.GreaterThanOrEqualTo(2), "the batch was resent");
        Assert.That(b.Engine.Stored, Is.Empty, "the resent batch is older than the withdraw");
        Assert.That(a.Engine.InFlight(b.Ip), Is.Zero);

        Assert.That(b.Engine.Receive(_link.Held[0].Bytes, a.Ip), Is.EqualTo(SyncVerdict.Duplicate));
        Assert.That(b.Engine.Stored, Is.Empty);
    }

    [Test]
    public void Replays_are_not_applied_and_an_earlier_boot_is_refused()
    {
        var a = Gateway(1, boot: 100);
        var b = Gateway(2, boot: 200);
        for (int c = 1; c <= 3; c++)
            a.Open(c, NatVip);
        _link.Run(10);
        Assert.That(b.Engine.Stored, Has.Count.EqualTo(3));
        byte[] batch = _link.Sent.First(s => s.From == a.Ip && TypeOf(s.Bytes) == SyncMessageType.FlowBatch).Bytes;

        a.Tracker.Remove(Key(1, NatVip));
        _link.Run(10);
        Assert.That(b.Engine.Stored, Has.Count.EqualTo(2));

        Assert.That(b.Engine.Receive(batch, a.Ip), Is.EqualTo(SyncVerdict.Duplicate), "a replay is acknowledged, not applied");
        Assert.That(b.Engine.Stored, Has.Count.EqualTo(2));
        Assert.That(b.Engine.Receive(batch, SyncGateway.Address(9)), Is.EqualTo(SyncVerdict.SenderMismatch));

        // The same records signed under an earlier boot of A: a replay from before its restart.
        var buffer = new byte[SyncWire.MaxMessage];
        var w = new SyncMessageWriter(buffer);
        w.Begin(SyncMessageType.FlowBatch, a.Ip, 99, 1);
        w.TryAddFlow(new SyncFlow(new SyncFlowKey(0, 1, NatVip, 6, 1, 80), a.Vmac.Value, 0, 0, 0, 0, 0x0200_0000_0101, 1), "b1");
        byte[] old = buffer[..w.Finish(GroupKey)];
        Assert.That(b.Engine.Receive(old, a.Ip), Is.EqualTo(SyncVerdict.StaleBoot));
        Assert.That(b.Engine.Stored, Has.Count.EqualTo(2));
    }

    [Test]
    public void A_replay_behind_the_window_is_refused_without_being_applied()
    {
        var a = Gateway(1, boot: 100);
        var b = Gateway(2, boot: 200, tune: o => o with { ReplayWindow = 2 });
        for (int c = 1; c <= 4; c++)
        {
            a.Open(c, NatVip);
            _link.Run(5);
        }
        var batches = _link.Sent.Where(s => s.From == a.Ip && TypeOf(s.Bytes) == SyncMessageType.FlowBatch).Select(s => s.Bytes).Distinct().ToList();
        Assert.That(batches, Has.Count.EqualTo(4), "one batch per round");
        a.Tracker.Remove(Key(1, NatVip));
        _link.Run(5);
        Assert.That(b.Engine.Stored, Has.Count.EqualTo(3));

        Assert.That(b.Engine.Receive(batches[0], a.Ip), Is.EqualTo(SyncVerdict.TooOld));
        Assert.That(b.Engine.Receive(batches[3], a.Ip), Is.EqualTo(SyncVerdict.Duplicate));
        Assert.That(b.Engine.Stored, Has.Count.EqualTo(3));
    }

    [Test]
    public void A_wrong_key_is_rejected_and_the_sender_gives_up_counting_what_it_lost()
    {
        var a = Gateway(1, boot: 100, tune: o => o with { MaxRetries = 3 });
        var b = Gateway(2, boot: 200, key: "not-the-group-key"u8.ToArray());
        a.Open(1, NatVip);
        a.Open(2, NatVip);
        _link.Run(200);

        Assert.That(b.Engine.Counters.Count(SyncVerdict.Malformed), Is.EqualTo(4), "first send and three resends");
        Assert.That(b.Engine.LastError, Is.EqualTo(SyncError.BadTag));
        Assert.That(b.Engine.Counters.Count(SyncError.BadTag), Is.EqualTo(4));
        Assert.That(b.Engine.Stored, Is.Empty);
        Assert.That(a.Engine.Counters.Count(SyncVerdict.Malformed), Is.Zero, "b sent no acks, so nothing came back");
        Assert.That(a.Engine.Counters.MessagesDropped, Is.EqualTo(1));
        Assert.That(a.Engine.Counters.RecordsDropped, Is.EqualTo(2));
        Assert.That(a.Engine.InFlight(b.Ip), Is.Zero);
    }

    [Test]
    public void A_takeover_installs_the_flows_with_client_hops_acquired_here_and_a_release_parks_them()
    {
        var a = Gateway(1, boot: 100);
        var b = Gateway(2, boot: 200);
        for (int c = 1; c <= 5; c++)
            a.Open(c, NatVip);
        for (int c = 6; c <= 8; c++)
            a.Open(c, UdpVip);
        b.Open(20, NatVip);
        _link.Run(10);
        Assert.That(b.Engine.Stored, Has.Count.EqualTo(8));

        Assert.That(b.Engine.OnVmacTakenOver(a.Vmac), Is.EqualTo(8));
        Assert.That(b.Engine.Stored, Is.Empty);
        Assert.That(b.Tracker.Count, Is.EqualTo(9));
        foreach (var sa in a.Tracker.Sessions)
        {
            Assert.That(b.Tracker.TryGet(sa.Forward, out var sb), Is.True);
            Assert.That(sb.FromPeer, Is.True);
            Assert.That(sb.Vmac, Is.EqualTo(a.Vmac));
            Assert.That(sb.Backend!.Id, Is.EqualTo(sa.Backend!.Id), "the same backend, found by id");
            var fa = a.Flows.EntryAt(Index(a, sa.Forward))!.Value.Action;
            var fb = b.Flows.EntryAt(Index(b, sa.Forward))!.Value.Action;
            Assert.That(fb, Is.EqualTo(fa), "backend next hops are configured indices, equal on both");
            if (sa.Reverse is not { } rk)
                continue;
            var ra = a.Flows.EntryAt(Index(a, rk))!.Value.Action;
            var rb = b.Flows.EntryAt(Index(b, rk))!.Value.Action;
            Assert.That(rb with { NextHop = 0 }, Is.EqualTo(ra with { NextHop = 0 }));
            Assert.That(b.Services.NextHops.IsDynamic(rb.NextHop), Is.True);
            Assert.That(b.Services.NextHops.Get(rb.NextHop), Is.EqualTo(new NextHop(0, ClientMac((int)(rk.DstIp & 0xFF)), a.Vmac)),
                "replies to the client leave from the vMAC it uses");
        }
        _link.Run(10);
        Assert.That(b.Engine.AnnouncedCount, Is.EqualTo(9), "b now announces the taken-over flows as its own");

        int withdrawsBefore = _link.Sent.Count(s => s.From == b.Ip && TypeOf(s.Bytes) == SyncMessageType.Withdraw);
        Assert.That(b.Engine.OnVmacReleased(a.Vmac), Is.EqualTo(8));
        _link.Run(10);
        Assert.That(b.Tracker.Count, Is.EqualTo(1), "only b's own flow stays");
        Assert.That(b.Flows.Count, Is.EqualTo(2));
        Assert.That(b.Services.NextHops.DynamicInUse, Is.EqualTo(1), "the client hops of the released flows were given back");
        Assert.That(_link.Sent.Count(s => s.From == b.Ip && TypeOf(s.Bytes) == SyncMessageType.Withdraw), Is.EqualTo(withdrawsBefore),
            "the connections go on elsewhere: nothing withdrawn");
        Assert.That(b.Engine.Stored, Has.Count.EqualTo(8), "parked for a later takeover");
        Assert.That(b.Engine.OnVmacTakenOver(a.Vmac), Is.EqualTo(8));
    }

    [Test]
    public void A_restarted_gateway_gets_its_flows_back_from_its_peer()
    {
        var a = Gateway(1, boot: 100);
        var b = Gateway(2, boot: 200);
        for (int c = 1; c <= 4; c++)
            a.Open(c, NatVip);
        b.Open(10, NatVip);
        _link.Run(10);
        var keys = a.Tracker.Sessions.Select(s => s.Forward).ToList();
        var actions = keys.ToDictionary(k => k, k => a.Flows.EntryAt(Index(a, k))!.Value.Action);

        // Control plane and table lost (a fresh model): what it forwarded comes back from b.
        var a2 = Gateway(1, boot: 101);
        Assert.That(a2.Tracker.Count, Is.Zero);
        a2.Engine.RequestAll();
        _link.Run(20);

        Assert.That(a2.Tracker.Count, Is.EqualTo(4), "its own vMAC's flows are installed on arrival");
        foreach (var k in keys)
        {
            Assert.That(a2.Tracker.TryGet(k, out var s), Is.True);
            Assert.That(a2.Flows.EntryAt(Index(a2, k))!.Value.Action, Is.EqualTo(actions[k]));
            Assert.That(a2.Flows.Contains(s.Reverse!.Value), Is.True);
        }
        Assert.That(a2.Engine.Stored.Select(s => s.Flow.Forward.SrcIp & 0xFF), Is.EqualTo(new uint[] { 10 }),
            "and what b forwards is held for b again");
        Assert.That(b.Engine.Counters.Count(SyncVerdict.Accepted), Is.GreaterThan(0));
    }

    [Test]
    public void The_backlog_is_bounded_and_every_drop_is_counted()
    {
        var a = Gateway(1, boot: 100, tune: o => o with { MaxInFlight = 2, MaxBacklog = 10, MaxRetries = 2 });
        var b = Gateway(2, boot: 200);
        _link.Loss = 1.0;
        for (int c = 1; c <= 40; c++)
            a.Open(c, NatVip);
        Assert.That(a.Engine.Counters.BacklogDropped, Is.EqualTo(30));
        Assert.That(a.Engine.Backlog(b.Ip), Is.EqualTo(10));

        _link.Run(100);
        Assert.That(a.Engine.Counters.MessagesDropped, Is.GreaterThanOrEqualTo(1));
        Assert.That(a.Engine.Counters.RecordsDropped, Is.EqualTo(10));
        Assert.That(a.Engine.InFlight(b.Ip), Is.Zero);
        Assert.That(a.Engine.Backlog(b.Ip), Is.Zero);
        Assert.That(b.Engine.Stored, Is.Empty);
    }

    private static int Index(SyncGateway g, FlowKey key)
    {
        Assert.That(g.Flows.TryGetIndex(key, out int i), Is.True, $"{key} installed");
        return i;
    }
}
