using Offload.Balancer.Classification;
using Offload.Balancer.Routing;
using Offload.Balancer.Tracking;
using Offload.Device;
using Offload.Protocol;
using static Offload.Balancer.Cosim.Tests.BalancerRig;

namespace Offload.Balancer.Cosim.Tests;

/// <summary>Routed (non-service) traffic on the model: miss once, then forwarded in hardware; no route; rate limit; aging; restart.</summary>
[NonParallelizable]
public class RoutingTests
{
    private const byte UpstreamNh = 60;
    private const byte LocalNh = 61;
    private static readonly MacAddress UpstreamMac = MacAddress.Parse("02:00:00:00:aa:01");
    private static readonly MacAddress LocalRouterMac = MacAddress.Parse("02:00:00:00:bb:01");
    private static readonly uint Internet = Ipv4Address.Parse("203.0.113.5");
    private static readonly uint LocalNet = Ipv4Address.Parse("10.20.0.0");

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
        _rig.Setup(s =>
        {
            // A service next to the routes: its VIP must still be balanced, not routed.
            var nat = s.Add(new ServiceConfig(new ServiceKey(Vip, IpProtocol.Tcp, VipPort), ForwardingMode.Nat));
            nat.SetBackend(Backend(1));
            s.Routes.Add(new Route(0, 0, UpstreamNh, UpstreamMac, EgressPort: 1));
            s.Routes.Add(new Route(LocalNet, 16, LocalNh, LocalRouterMac, EgressPort: 0));
        });
    }

    [TearDown]
    public void Stop() => _rig.Dispose();

    private static byte[] ClientToAnywhere(int client, uint dst, byte protocol = IpProtocol.Udp, byte ttl = 64, byte flags = TcpFlags.Syn, int payload = 40)
    {
        var eth = new EthernetHeader(Vmac.Value, ClientMac(client).Value);
        var ip = new Ipv4Header(ClientIp(client), dst, protocol) { Ttl = ttl };
        return protocol == IpProtocol.Tcp
            ? FrameBuilder.BuildTcp(eth, ip, new TcpHeader((ushort)(40000 + client), 443) { Flags = flags }, new byte[payload])
            : FrameBuilder.BuildUdp(eth, ip, (ushort)(40000 + client), 5000, new byte[payload]);
    }

    private static FlowKey Key(int client, uint dst, byte protocol = IpProtocol.Udp) =>
        new(0, ClientIp(client), dst, protocol, (ushort)(40000 + client), protocol == IpProtocol.Tcp ? (ushort)443 : (ushort)5000);

    [Test]
    public void A_routed_flow_misses_once_then_is_forwarded_in_hardware_with_ttl_and_macs_rewritten()
    {
        var first = ClientToAnywhere(1, Internet);
        _rig.Send(0, first);
        Assert.That(_rig.Counters(0).FlowMiss, Is.EqualTo(1));
        Assert.That(_rig.Poll(), Is.EqualTo(1));
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.Routed), Is.EqualTo(1));
        Assert.That(_rig.Tracker.TryGet(Key(1, Internet), out var session), Is.True);
        Assert.That(session.Service, Is.Null);
        Assert.That(session.Reverse, Is.Null);
        Assert.That(_rig.Flows.EntryAt(_rig.Flows.TryGetIndex(Key(1, Internet), out int index) ? index : -1)?.Action,
            Is.EqualTo(new FlowAction(UpstreamNh, TtlDecrement: true)));

        // The re-injected first packet is what the entry would have produced: upstream MAC, our port-1 MAC, TTL - 1.
        var sent = _rig.Pop(1);
        Assert.That(sent, Has.Count.EqualTo(1));
        Assert.That(sent[0], Is.EqualTo(_rig.Expected(0, first, 1)));
        Assert.That(MacAddress.FromBytes(sent[0]), Is.EqualTo(UpstreamMac));
        Assert.That(MacAddress.FromBytes(sent[0].AsSpan(6)), Is.EqualTo(Port1Mac));
        Assert.That(sent[0][22], Is.EqualTo(63));

        var before = _rig.Counters(0);
        ulong txBefore = _rig.Counters(1).TxFrames;
        for (int k = 0; k < 6; k++)
            _rig.Send(0, ClientToAnywhere(1, Internet, payload: 100 + k));
        var after = _rig.Counters(0);
        Assert.That(after.FlowHit - before.FlowHit, Is.EqualTo(6));
        Assert.That(after.FlowMiss, Is.EqualTo(before.FlowMiss), "no second miss");
        Assert.That(_rig.Counters(1).TxFrames - txBefore, Is.EqualTo(6));
        var later = _rig.Pop(1);
        Assert.That(later, Has.Count.EqualTo(6));
        Assert.That(later.Select(f => f[22]), Has.All.EqualTo(63));
        Assert.That(_rig.Poll(), Is.Zero, "nothing more reaches the host");
        Assert.That(_rig.Flows.VerifyAgainstHardware(), Is.Empty);
    }

    [Test]
    public void The_longest_prefix_picks_the_next_hop_and_service_traffic_is_still_balanced()
    {
        uint local = LocalNet + 0x0305;
        _rig.Send(0, ClientToAnywhere(2, local, IpProtocol.Tcp));
        _rig.Send(0, ClientTcp(3, TcpFlags.Syn));
        _rig.Poll();
        var toLocal = _rig.Pop(0);
        Assert.That(toLocal, Has.Count.EqualTo(1), "the /16 leaves port 0");
        Assert.That(MacAddress.FromBytes(toLocal[0]), Is.EqualTo(LocalRouterMac));
        Assert.That(MacAddress.FromBytes(toLocal[0].AsSpan(6)), Is.EqualTo(Port0Mac));
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.Routed), Is.EqualTo(1));
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.Installed), Is.EqualTo(1), "the VIP went to its service");
        Assert.That(_rig.Tracker.TryGet(ClientKey(3), out var svc) && svc.Service is not null, Is.True);

        _rig.Send(0, ClientToAnywhere(2, local, IpProtocol.Tcp, flags: TcpFlags.Ack));
        Assert.That(_rig.Pop(0), Has.Count.EqualTo(1));
        Assert.That(_rig.Counters(0).FlowHit, Is.EqualTo(1));
    }

    [Test]
    public void A_closed_port_on_a_vip_is_not_routed_on_even_with_a_default_route()
    {
        _rig.Send(0, ClientTcp(6, TcpFlags.Syn, port: 443));
        _rig.Poll();
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.NoService), Is.EqualTo(1));
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.Routed), Is.Zero);
        Assert.That(_rig.Pop(1), Is.Empty);
        Assert.That(_rig.Flows.Count, Is.Zero);
    }

    [Test]
    public void Without_a_matching_route_the_packet_is_dropped_and_counted()
    {
        _rig.Setup(s =>
        {
            foreach (var r in s.Routes.Routes.ToList())
                s.Routes.Remove(r.Prefix, r.Length);
            s.Routes.Add(new Route(LocalNet, 16, LocalNh, LocalRouterMac, EgressPort: 0));
        });
        _rig.Send(0, ClientToAnywhere(4, Internet));
        _rig.Send(0, ClientToAnywhere(5, Internet, ttl: 1));
        _rig.Send(0, ClientToAnywhere(5, LocalNet + 9, ttl: 1));
        _rig.Poll();
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.NoRoute), Is.EqualTo(2));
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.TtlExpired), Is.EqualTo(1), "a routed hop decrements TTL, so TTL 1 cannot pass");
        Assert.That(_rig.Pop(0).Concat(_rig.Pop(1)), Is.Empty);
        Assert.That(_rig.Flows.Count, Is.Zero);
    }

    [Test]
    public void Installs_over_the_route_rate_are_forwarded_without_an_entry_and_counted()
    {
        _rig.Services.Routes.SetInstallRate(10, 3, _rig.Time);
        for (int c = 0; c < 8; c++)
            _rig.Send(0, ClientToAnywhere(c, Internet));
        _rig.Poll();
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.Routed), Is.EqualTo(3));
        Assert.That(_rig.Classifier.Count(ClassifyOutcome.RateLimited), Is.EqualTo(5));
        Assert.That(_rig.Flows.Count, Is.EqualTo(3));
        var sent = _rig.Pop(1);
        Assert.That(sent, Has.Count.EqualTo(8), "never dropped");
        Assert.That(sent.Select(f => MacAddress.FromBytes(f)), Has.All.EqualTo(UpstreamMac));

        // Time refills the bucket: a limited flow's next packet gets its entry.
        _rig.Time.Advance(TimeSpan.FromSeconds(1));
        int limited = Enumerable.Range(0, 8).First(c => !_rig.Flows.Contains(Key(c, Internet)));
        _rig.Send(0, ClientToAnywhere(limited, Internet));
        _rig.Poll();
        Assert.That(_rig.Flows.Contains(Key(limited, Internet)), Is.True);
    }

    [Test]
    public void Idle_routed_flows_age_out_from_last_seen_and_active_ones_stay()
    {
        _rig.Send(0, ClientToAnywhere(1, Internet));
        _rig.Send(0, ClientToAnywhere(2, Internet));
        _rig.Send(0, ClientToAnywhere(3, Internet, IpProtocol.Tcp));
        _rig.Poll();
        _rig.Pop(1);
        Assert.That(_rig.Tracker.Count, Is.EqualTo(3));
        Assert.That(_rig.Tracker.TryGet(Key(3, Internet, IpProtocol.Tcp), out var syn), Is.True);
        Assert.That(syn.State, Is.EqualTo(SessionState.SynOnly));

        for (int t = 0; t < 40; t++)
        {
            _rig.Send(0, ClientToAnywhere(1, Internet));
            _rig.Advance(TimeSpan.FromSeconds(1));
            if (t == 6)
                Assert.That(_rig.Tracker.TryGet(syn.Forward, out _), Is.False, "a routed SYN-only flow goes after the SYN timeout");
        }
        Assert.That(_rig.Tracker.TryGet(Key(2, Internet), out _), Is.False, "the idle UDP flow went after its timeout");
        Assert.That(_rig.Tracker.TryGet(Key(1, Internet), out _), Is.True, "the active one stayed");
        Assert.That(_rig.Flows.Contains(Key(2, Internet)), Is.False);
        Assert.That(_rig.Tracker.Counters.EndedIdle, Is.EqualTo(2));
        Assert.That(_rig.Flows.VerifyAgainstHardware(), Is.Empty);

        ulong misses = _rig.Counters(0).FlowMiss;
        _rig.Send(0, ClientToAnywhere(2, Internet));
        Assert.That(_rig.Counters(0).FlowMiss, Is.EqualTo(misses + 1), "an aged-out flow misses again");
    }

    [Test]
    public void A_routed_tcp_flow_ends_after_its_fin_like_a_balanced_one()
    {
        var key = Key(7, Internet, IpProtocol.Tcp);
        _rig.Send(0, ClientToAnywhere(7, Internet, IpProtocol.Tcp));
        _rig.Poll();
        _rig.Send(0, ClientToAnywhere(7, Internet, IpProtocol.Tcp, flags: TcpFlags.Fin | TcpFlags.Ack));
        Assert.That(_rig.Pop(1), Has.Count.EqualTo(2), "the FIN itself is forwarded by the entry");
        Assert.That(_rig.Counters(0).FinRst, Is.EqualTo(1));
        _rig.Poll();
        Assert.That(_rig.Tracker.TryGet(key, out var s), Is.True);
        Assert.That(s.State, Is.EqualTo(SessionState.Closing));
        _rig.Advance(Timeouts.FinLinger + TimeSpan.FromSeconds(1));
        Assert.That(_rig.Flows.Contains(key), Is.False);
        Assert.That(_rig.Tracker.Counters.EndedFinRst, Is.EqualTo(1));
    }

    [Test]
    public void A_restarted_control_plane_restores_routed_flows_and_ages_them()
    {
        for (int c = 0; c < 4; c++)
            _rig.Send(0, ClientToAnywhere(c, Internet));
        _rig.Poll();
        _rig.Pop(1);
        Assert.That(_rig.Flows.Count, Is.EqualTo(4));

        _rig.StartControlPlane(new FlowTableManager(_rig.Device, _rig.Dataplane.Geometry, FlowTableStart.Load));
        Assert.That(_rig.Tracker.Count, Is.EqualTo(4));
        Assert.That(_rig.Tracker.Counters.Restored, Is.EqualTo(4));
        Assert.That(_rig.Tracker.Counters.Foreign, Is.Zero);
        Assert.That(Enumerable.Range(0, 4).Select(c => _rig.Tracker.TryGet(Key(c, Internet), out _)), Has.All.True);

        // Restored as established (UDP: 30 s here): client 0 keeps sending, the others stop.
        for (int t = 0; t < 35; t++)
        {
            _rig.Send(0, ClientToAnywhere(0, Internet));
            _rig.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.That(_rig.Tracker.Count, Is.EqualTo(1));
        Assert.That(_rig.Flows.Count, Is.EqualTo(1));
        Assert.That(_rig.Tracker.Counters.EndedIdle, Is.EqualTo(3));
        Assert.That(_rig.Poll(), Is.Zero, "client 0 never missed");
    }
}
