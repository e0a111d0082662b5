using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Offload.Device;
using Offload.Gateway;
using Offload.Protocol;
using Offload.Testing.Device;

namespace Offload.Daemon.Tests;

/// <summary>
/// The ARP state machine of <see cref="NeighbourTable"/> alone, on a fake clock and the register-file device (no model):
/// what it sends and when, what it believes, and what it tells its owner. The model-level behaviour (next hops
/// installed, backends in and out of pools) is <see cref="NeighbourTests"/>.
/// </summary>
public class NeighbourTableTests
{
    private static readonly MacAddress Port0Mac = MacAddress.Parse("02:00:00:00:00:10");
    private static readonly MacAddress Port1Mac = MacAddress.Parse("02:00:00:00:00:11");
    private static readonly uint Port1Ip = Ipv4Address.Parse("198.51.100.254");
    private static readonly uint BackendIp = Ipv4Address.Parse("198.51.100.1");
    private static readonly NeighbourKey Backend = new(1, BackendIp);
    private static readonly MacAddress BackendMac = MacAddress.Parse("02:bb:00:00:00:01");
    private static readonly MacAddress OtherMac = MacAddress.Parse("02:bb:00:00:00:99");

    private FakeTimeProvider _time = null!;
    private List<(int Port, ArpPacket Arp, ulong Destination)> _sent = null!;
    private List<(NeighbourKey Key, MacAddress? Mac)> _changes = null!;
    private NeighbourTable _table = null!;

    [SetUp]
    public void SetUp()
    {
        _time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero));
        var device = new RegisterFileDevice();
        _sent = [];
        device.Committed += (port, frame) =>
        {
            Assert.That(ArpPacket.TryReadFrame(frame, out var arp), Is.True, "only ARP leaves the table");
            _sent.Add((port, arp, EthernetHeader.ReadMac(frame)));
        };
        _table = new NeighbourTable(new Dataplane(device), _time, [Port0Mac, Port1Mac], [0, Port1Ip], NullLogger.Instance);
        _changes = [];
        _table.Changed += (key, mac) => _changes.Add((key, mac));
    }

    private void From(MacAddress mac, ArpPacket arp, byte port = 1) =>
        Assert.That(_table.OnFrame(new HostFrame(HostReason.Arp, port, 60, 0, 0), FrameBuilder.BuildArp(new EthernetHeader(Port1Mac.Value, mac.Value), arp)), Is.True);

    private void Answer(MacAddress mac) => From(mac, ArpPacket.Reply(mac.Value, BackendIp, Port1Mac.Value, Port1Ip));

    private void Step(TimeSpan by)
    {
        _time.Advance(by);
        _table.Poll();
    }

    private NeighbourState State => _table.ViewOf(Backend)!.State;

    [Test]
    public void A_watched_address_is_asked_for_by_broadcast_from_the_ports_own_address_and_resolved_by_the_answer()
    {
        _table.Watch(Backend);
        _table.Poll();
        Assert.That(_sent, Has.Count.EqualTo(1));
        var (port, arp, destination) = _sent[0];
        Assert.That((port, destination), Is.EqualTo((1, MacAddress.Broadcast.Value)));
        Assert.That(arp, Is.EqualTo(ArpPacket.Request(Port1Mac.Value, Port1Ip, BackendIp)));
        Assert.That(State, Is.EqualTo(NeighbourState.Incomplete));
        Assert.That(_table.TryGet(Backend, out _), Is.False);

        Answer(BackendMac);
        Assert.That(_table.TryGet(Backend, out var mac) && mac == BackendMac, Is.True);
        Assert.That(State, Is.EqualTo(NeighbourState.Reachable));
        Assert.That(_changes, Is.EqualTo(new[] { (Backend, (MacAddress?)BackendMac) }));
        _table.Poll();
        Assert.That(_sent, Has.Count.EqualTo(1), "nothing more is asked while reachable");
    }

    [Test]
    public void Silence_is_asked_three_times_a_second_apart_then_given_up_and_retried_every_5_s()
    {
        _table.Watch(Backend);
        _table.Poll();
        Step(TimeSpan.FromMilliseconds(999));
        Assert.That(_sent, Has.Count.EqualTo(1), "not before the retransmit time");
        Step(TimeSpan.FromMilliseconds(1));
        Step(TimeSpan.FromSeconds(1));
        Assert.That(_sent, Has.Count.EqualTo(3));
        Step(TimeSpan.FromSeconds(1));
        Assert.That(State, Is.EqualTo(NeighbourState.Failed));
        Assert.That((_table.Failures, _changes.Count), Is.EqualTo((1L, 0)), "never resolved, so nothing to withdraw");
        // The give-up round sends nothing; the failed entry asks again after the failed retry time.
        Step(TimeSpan.FromSeconds(4.9));
        Assert.That(_sent, Has.Count.EqualTo(3));
        Step(TimeSpan.FromSeconds(0.1));
        Assert.That(_sent, Has.Count.EqualTo(4));
        Answer(BackendMac);
        Assert.That(State, Is.EqualTo(NeighbourState.Reachable), "a late answer resolves it");
    }

    [Test]
    public void A_reachable_neighbour_is_probed_at_its_mac_first_then_by_broadcast_and_withdrawn_when_silent()
    {
        _table.Watch(Backend);
        _table.Poll();
        Answer(BackendMac);
        Step(TimeSpan.FromSeconds(60));
        Assert.That(State, Is.EqualTo(NeighbourState.Probing));
        Assert.That(_table.TryGet(Backend, out _), Is.True, "a probing neighbour keeps its MAC");
        for (int i = 0; i < 5; i++)
            Step(TimeSpan.FromSeconds(1));
        var probes = _sent.Skip(1).Select(s => s.Destination).ToList();
        Assert.That(probes, Is.EqualTo(new[] { BackendMac.Value, BackendMac.Value, BackendMac.Value, MacAddress.Broadcast.Value, MacAddress.Broadcast.Value, MacAddress.Broadcast.Value }));
        Step(TimeSpan.FromSeconds(1));
        Assert.That(State, Is.EqualTo(NeighbourState.Failed));
        Assert.That(_table.TryGet(Backend, out _), Is.False);
        Assert.That(_changes[^1], Is.EqualTo((Backend, (MacAddress?)null)), "the owner hears the MAC withdrawn");
    }

    [Test]
    public void An_answer_to_a_probe_keeps_it_reachable_without_telling_the_owner_again()
    {
        _table.Watch(Backend);
        _table.Poll();
        Answer(BackendMac);
        Step(TimeSpan.FromSeconds(60));
        Answer(BackendMac);
        Assert.That(State, Is.EqualTo(NeighbourState.Reachable));
        Assert.That(_changes, Has.Count.EqualTo(1));
        Assert.That(_table.Confirmations, Is.EqualTo(2));
    }

    [Test]
    public void A_moved_mac_is_followed_but_not_a_second_move_within_the_lock_time()
    {
        _table.Watch(Backend);
        _table.Poll();
        Answer(BackendMac);
        _time.Advance(TimeSpan.FromSeconds(2));
        // A gratuitous ARP (a failover on the backends' side) moves it at once.
        From(OtherMac, ArpPacket.Request(OtherMac.Value, BackendIp, BackendIp));
        Assert.That(_changes[^1], Is.EqualTo((Backend, (MacAddress?)OtherMac)));
        Assert.That(_table.MacChanges, Is.EqualTo(1));
        // Within a second of that move, the old MAC again is the flip-flop the lock time is for.
        _time.Advance(TimeSpan.FromMilliseconds(500));
        Answer(BackendMac);
        Assert.That((_table.LockedOut, _changes.Count), Is.EqualTo((1L, 2)));
        Assert.That(_table.TryGet(Backend, out var held) && held == OtherMac, Is.True);
        _time.Advance(TimeSpan.FromMilliseconds(500));
        Answer(BackendMac);
        Assert.That(_table.TryGet(Backend, out held) && held == BackendMac, Is.True, "after the lock time it may move back");
    }

    [Test]
    public void Arp_for_the_ports_own_address_is_answered_to_the_asker_and_strangers_are_not_learnt()
    {
        var asker = MacAddress.Parse("02:cc:00:00:00:07");
        uint askerIp = Ipv4Address.Parse("198.51.100.7");
        From(asker, ArpPacket.Request(asker.Value, askerIp, Port1Ip));
        Assert.That(_sent, Has.Count.EqualTo(1));
        Assert.That(_sent[0], Is.EqualTo((1, ArpPacket.Reply(Port1Mac.Value, Port1Ip, asker.Value, askerIp), asker.Value)));
        Assert.That(_table.RepliesSent, Is.EqualTo(1));
        Assert.That(_table.Count, Is.Zero, "only watched addresses are learnt");

        // Port 0 has no address here: a request there for any address is nobody's business of ours.
        From(asker, ArpPacket.Request(asker.Value, askerIp, Port1Ip), port: 0);
        Assert.That(_sent, Has.Count.EqualTo(1));
    }

    [Test]
    public void A_port_without_an_address_asks_by_arp_probe_and_multicast_senders_are_never_believed()
    {
        var key = new NeighbourKey(0, Ipv4Address.Parse("10.0.0.99"));
        _table.Watch(key);
        _table.Poll();
        Assert.That(_sent[0].Arp, Is.EqualTo(ArpPacket.Request(Port0Mac.Value, 0, key.Ip)), "sender 0.0.0.0: RFC 5227's probe");

        var multicast = MacAddress.Parse("01:00:5e:00:00:01");
        From(multicast, ArpPacket.Reply(multicast.Value, key.Ip, Port0Mac.Value, 0), port: 0);
        Assert.That(_table.TryGet(key, out _), Is.False);
        Assert.That(_changes, Is.Empty);
    }

    [Test]
    public void Watching_refuses_what_is_no_neighbour_and_unwatching_forgets()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _table.Watch(new NeighbourKey(2, BackendIp)));
        Assert.Throws<ArgumentException>(() => _table.Watch(new NeighbourKey(1, 0)));
        _table.Watch(Backend);
        _table.Watch(Backend);
        Assert.That(_table.Count, Is.EqualTo(1));
        Assert.That(_table.Unwatch(Backend), Is.True);
        _table.Poll();
        Assert.That(_sent, Is.Empty);
        Answer(BackendMac);
        Assert.That(_changes, Is.Empty, "an answer for an address no longer watched is not learnt");
    }
}
