using System.Buffers.Binary;
using Offload.Balancer.Classification;
using Offload.Device;
using Offload.Protocol;
using static Offload.Balancer.Cosim.Tests.BalancerRig;

namespace Offload.Balancer.Cosim.Tests;

/// <summary>Miss → classify → install → hit, on the model, in NAT and DSR modes; drops and the SYN-flood guard.</summary>
[NonParallelizable]
public class ClassifierTests
{
    private BalancerRig _rig = null!;

    [SetUp]
    public void Start()
    {
        _rig = new BalancerRig();
        _rig.Setup(s =>
        {
            var nat = s.Add(new ServiceConfig(new ServiceKey(Vip, IpProtocol.Tcp, VipPort), ForwardingMode.Nat));
            for (int i = 1; i <= 3; i++)
                nat.SetBackend(Backend(i));
            var dsr = s.Add(new ServiceConfig(new ServiceKey(DsrVip, IpProtocol.Tcp, VipPort), ForwardingMode.DirectServerReturn, DecrementTtl: false));
            for (int i = 4; i <= 5; i++)
                dsr.SetBackend(Backend(i, port: 0));
        });
    }

    [TearDown]
    public void Stop() => _rig.Dispose();

    [Test]
    public void Nat_first_packet_is_installed_and_reinjected_then_both_directions_hit_in_hardware()
    {
        var syn = ClientTcp(1, TcpFlags.Syn);
        _rig.Send(0, syn);
        Assert.That(_rig.Counters(0).FlowMiss, Is.EqualTo(1));
        Assert.That(_rig.Poll(), Is.EqualTo(1));
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.Installed), Is.EqualTo(1));

        Assert.That(_rig.Tracker.TryGet(ClientKey(1), out var session), Is.True);
        Assert.That(session.Reverse, Is.Not.Null, "NAT installs the return flow with the forward one");
        Assert.That(_rig.Flows.Count, Is.EqualTo(2));
        var backend = session.Backend!.Config;

        // The re-injected SYN is what the hardware would have sent had the entry been there.
        var sent = _rig.Pop(1);
        Assert.That(sent, Has.Count.EqualTo(1));
        Assert.That(sent[0], Is.EqualTo(_rig.Expected(0, syn, 1)));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(sent[0].AsSpan(30)), Is.EqualTo(backend.Address));
        Assert.That(MacAddress.FromBytes(sent[0]), Is.EqualTo(backend.Mac));

        ulong hitsBefore = _rig.Counters(0).FlowHit;
        for (int k = 0; k < 5; k++)
            _rig.Send(0, ClientTcp(1, TcpFlags.Ack | TcpFlags.Psh, payload: 100));
        Assert.That(_rig.Counters(0).FlowHit - hitsBefore, Is.EqualTo(5));
        Assert.That(_rig.Pop(1), Has.Count.EqualTo(5));
        Assert.That(_rig.Poll(), Is.Zero, "nothing more reaches the host");

        // The backend answers through us: source NAT back to the VIP, to the client's MAC from the vMAC it used.
        var reply = BackendTcp(int.Parse(backend.Id[1..], System.Globalization.CultureInfo.InvariantCulture), 1, TcpFlags.Syn | TcpFlags.Ack);
        _rig.Send(1, reply);
        Assert.That(_rig.Counters(1).FlowHit, Is.EqualTo(1));
        var back = _rig.Pop(0);
        Assert.That(back, Has.Count.EqualTo(1));
        Assert.That(back[0], Is.EqualTo(_rig.Expected(1, reply, 0)));
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(back[0].AsSpan(26)), Is.EqualTo(Vip));
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(back[0].AsSpan(34)), Is.EqualTo(VipPort));
        Assert.That(MacAddress.FromBytes(back[0]), Is.EqualTo(ClientMac(1)));
        Assert.That(MacAddress.FromBytes(back[0].AsSpan(6)), Is.EqualTo(Vmac));
        Assert.That(_rig.Flows.VerifyAgainstHardware(), Is.Empty);
    }

    [Test]
    public void Packets_queued_before_the_install_follow_the_installed_entry()
    {
        _rig.Send(0, ClientTcp(2, TcpFlags.Syn));
        _rig.Send(0, ClientTcp(2, TcpFlags.Ack, payload: 10));
        Assert.That(_rig.Poll(), Is.EqualTo(2));
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.Installed), Is.EqualTo(1));
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.Existing), Is.EqualTo(1));
        var sent = _rig.Pop(1);
        Assert.That(sent, Has.Count.EqualTo(2));
        Assert.That(sent[1].AsSpan(0, 6).SequenceEqual(sent[0].AsSpan(0, 6)), Is.True, "same backend MAC");
    }

    [Test]
    public void Dsr_rewrites_only_the_mac_and_installs_no_return_flow()
    {
        var syn = ClientTcp(3, TcpFlags.Syn, vip: DsrVip);
        _rig.Send(0, syn);
        _rig.Poll();
        Assert.That(_rig.Tracker.TryGet(ClientKey(3, vip: DsrVip), out var session), Is.True);
        Assert.That(session.Reverse, Is.Null);
        Assert.That(session.Vmac, Is.EqualTo(MacAddress.FromBytes(syn)), "the vMAC the client addressed: whose flow it is for sync");
        Assert.That(_rig.Flows.Count, Is.EqualTo(1));
        var sent = _rig.Pop(1);
        Assert.That(sent, Has.Count.EqualTo(1));
        Assert.That(sent[0], Is.EqualTo(_rig.Expected(0, syn, 1)));
        Assert.That(MacAddress.FromBytes(sent[0]), Is.EqualTo(session.Backend!.Config.Mac));
        Assert.That(MacAddress.FromBytes(sent[0].AsSpan(6)), Is.EqualTo(Port1Mac));
        Assert.That(sent[0][14..], Is.EqualTo(syn[14..]), "IP and TCP untouched (no NAT, no TTL decrement)");

        _rig.Send(0, ClientTcp(3, TcpFlags.Ack, vip: DsrVip, payload: 64));
        Assert.That(_rig.Counters(0).FlowHit, Is.EqualTo(1));
        Assert.That(_rig.Poll(), Is.Zero);
    }

    [Test]
    public void Traffic_for_no_service_is_dropped_and_counted()
    {
        _rig.Send(0, ClientTcp(4, TcpFlags.Syn, vip: Ipv4Address.Parse("192.0.2.99")));
        _rig.Send(0, ClientTcp(4, TcpFlags.Syn, port: 443));
        _rig.Poll();
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.NoService), Is.EqualTo(2));
        Assert.That(_rig.Pop(1), Is.Empty);
        Assert.That(_rig.Flows.Count, Is.Zero);
    }

    [Test]
    public void Unhealthy_backends_get_no_new_flows()
    {
        Assert.That(_rig.Services.TryFind(new ServiceKey(Vip, IpProtocol.Tcp, VipPort), out var nat), Is.True);
        nat.SetHealth("b2", healthy: false);
        for (int c = 0; c < 30; c++)
            _rig.Send(0, ClientTcp(c, TcpFlags.Syn));
        _rig.Poll();
        Assert.That(_rig.Tracker.Count, Is.EqualTo(30));
        Assert.That(_rig.Tracker.Sessions.Select(s => s.Backend!.Id), Has.None.EqualTo("b2"));
        Assert.That(_rig.Tracker.Sessions.Select(s => s.Backend!.Id).Distinct().Count(), Is.EqualTo(2));
    }

    [Test]
    public void Syn_flood_over_the_install_rate_is_still_forwarded_to_the_maglev_choice_and_counted()
    {
        _rig.Setup(s =>
        {
            var svc = s.Add(new ServiceConfig(new ServiceKey(UdpVip, IpProtocol.Tcp, VipPort), ForwardingMode.DirectServerReturn,
                Scheduler: SchedulerKind.RoundRobin, InstallsPerSecond: 10, InstallBurst: 5));
            for (int i = 6; i <= 8; i++)
                svc.SetBackend(Backend(i, port: 0));
        });
        Assert.That(_rig.Services.TryFind(new ServiceKey(UdpVip, IpProtocol.Tcp, VipPort), out var service), Is.True);

        const int syns = 20;
        for (int c = 0; c < syns; c++)
            _rig.Send(0, ClientTcp(c, TcpFlags.Syn, vip: UdpVip));
        _rig.Poll();
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.Installed), Is.EqualTo(5));
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.RateLimited), Is.EqualTo(syns - 5));
        Assert.That(_rig.Flows.Count, Is.EqualTo(5));
        var sent = _rig.Pop(1);
        Assert.That(sent, Has.Count.EqualTo(syns), "never dropped silently");

        // Flows without an entry went where Maglev puts them, so a retry after the limit lifts lands alike.
        var maglev = new Scheduling.MaglevScheduler();
        maglev.Rebuild(service.Scheduler.Pool!);
        foreach (var frame in sent)
        {
            var key = new FlowKey(0, BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(26)), UdpVip, IpProtocol.Tcp,
                BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(34)), VipPort);
            if (_rig.Flows.Contains(key))
                continue;
            var expected = service.Scheduler.Pool![maglev.Pick(key)].Id;
            Assert.That(MacAddress.FromBytes(frame), Is.EqualTo(service.Find(expected)!.Config.Mac));
        }

        // The bucket refills with time: one second buys ten installs again.
        _rig.Time.Advance(TimeSpan.FromSeconds(1));
        _rig.Send(0, ClientTcp(100, TcpFlags.Syn, vip: UdpVip));
        _rig.Poll();
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.Installed), Is.EqualTo(6));

        // A client whose SYN went without an entry completes its handshake: the ACK installs on the same backend
        // the SYN reached, although the service schedules new SYNs round-robin.
        int limitedClient = Enumerable.Range(0, syns).First(c => !_rig.Flows.Contains(ClientKey(c, vip: UdpVip)));
        var limitedKey = ClientKey(limitedClient, vip: UdpVip);
        _rig.Send(0, ClientTcp(limitedClient, TcpFlags.Ack, vip: UdpVip));
        _rig.Poll();
        Assert.That(_rig.Tracker.TryGet(limitedKey, out var completed), Is.True);
        Assert.That(completed.Backend!.Id, Is.EqualTo(service.Scheduler.Pool![maglev.Pick(limitedKey)].Id));
        Assert.That(completed.State, Is.EqualTo(Tracking.SessionState.Established));
    }

    [Test]
    public void Poll_keeps_the_watchdog_from_expiring_and_passes_other_frames_on()
    {
        _rig.Dataplane.SetWatchdog(50_000);
        int others = 0;
        _rig.Loop.OtherFrames = (in HostFrame meta, ReadOnlySpan<byte> frame) => others++;
        for (int i = 0; i < 20; i++)
        {
            _rig.Model.Run(20_000);
            _rig.Poll();
        }
        Assert.That(_rig.Dataplane.ReadWatchdog().Expiries, Is.Zero);
        _rig.Send(0, FrameBuilder.BuildArp(new EthernetHeader(MacAddress.Broadcast.Value, ClientMac(1).Value), ArpPacket.Request(ClientMac(1).Value, ClientIp(1), ClientIp(2))));
        _rig.Poll();
        Assert.That(others, Is.EqualTo(1));
        _rig.Model.Run(60_000);
        Assert.That(_rig.Dataplane.ReadWatchdog().Expired, Is.True, "without polls it runs out");
    }
}
