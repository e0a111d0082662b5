using System.Text;
using Offload.Protocol.Glbp;

namespace Offload.Group.Tests;

/// <summary>What goes on the wire, checked with the Protocol project's decoder, and authentication.</summary>
public class HelloWireTests
{
    private Lab _lab = null!;

    [SetUp]
    public void SetUp() => _lab = new Lab();

    [TearDown]
    public void TearDown() => _lab.Dispose();

    [Test]
    public void The_AVG_hello_carries_its_state_timers_virtual_IP_and_one_TLV_per_forwarder()
    {
        var a = _lab.Add(1, o => o with { Priority = 150 });
        _lab.RunSeconds(12); // a has taken forwarder 1 before b joins (two starting together settle it by MAC)
        var b = _lab.Add(2);
        _lab.RunSeconds(40);
        _lab.RunSeconds(3);

        Assert.That(GlbpPacket.TryDecode(a.LastSent, out GlbpPacket p).IsOk, Is.True);
        Assert.That(p.Header.Group, Is.EqualTo(Lab.GroupNumber));
        Assert.That(p.Header.OwnerMac, Is.EqualTo(Lab.Mac(1)));
        Assert.That(p.HasAuth, Is.False);
        GlbpHello hello = p.Hello;
        Assert.That(hello.State, Is.EqualTo(GlbpVgState.Active));
        Assert.That(hello.Priority, Is.EqualTo(150));
        Assert.That((hello.HelloMs, hello.HoldMs, hello.RedirectSeconds, hello.TimeoutSeconds), Is.EqualTo((3000u, 10000u, (ushort)600, (ushort)14400)));
        Assert.That(hello.VirtualIpv4, Is.EqualTo(Lab.VirtualIp));
        var tlvs = new List<GlbpForwarder>();
        foreach (var f in p.Forwarders)
            tlvs.Add(f);
        Assert.That(tlvs.Select(t => (t.Forwarder, t.State, t.Weight, t.VirtualMac)), Is.EqualTo(new[]
        {
            ((byte)1, GlbpVfState.Active, (byte)100, 0x0007_B400_0101ul),
            ((byte)2, GlbpVfState.Listen, (byte)100, 0x0007_B400_0102ul),
        }));
        // Cisco's bytes: 167 for its own forwarder, 135 for the other, full time-out and redirect while the
        // primaries are alive, and nothing of Offload's own in the bytes nobody has decoded.
        Assert.That(tlvs.Select(t => (t.Priority, t.Role, t.TimeoutRemaining, t.RedirectRemaining, t.Unknown21, t.Unknown22)), Is.EqualTo(new[]
        {
            ((byte)167, GlbpForwarderRole.Primary, (ushort)14400, (ushort)600, (byte)0, 0u),
            ((byte)135, GlbpForwarderRole.Secondary, (ushort)14400, (ushort)600, (byte)0, 0u),
        }));
        var owners = new List<GlbpOffloadOwner>();
        foreach (var o in p.OffloadOwners)
            owners.Add(o);
        Assert.That(owners, Is.EqualTo(new[] { new GlbpOffloadOwner(1, Lab.Mac(1)), new GlbpOffloadOwner(2, Lab.Mac(2)) }), "the AVG's record, in Offload's own TLV");
        Assert.That(a.LastSource, Is.EqualTo(0x0007_B400_0101ul), "sent from the vMAC it forwards, as Cisco does");
        Assert.That(b.LastResult, Is.EqualTo(GlbpReceiveResult.Accepted));
        Assert.That(GlbpPacket.TryDecode(b.LastSent, out GlbpPacket q).IsOk && !q.OffloadOwners.MoveNext(), Is.True, "only the Active sends the record");
    }

    [Test]
    public void A_member_forwarding_nothing_sends_from_its_own_MAC_and_one_forwarding_two_vMACs_takes_them_in_turn()
    {
        var a = _lab.Add(1, o => o with { Priority = 150 });
        Assert.That(a.LastSource, Is.EqualTo(Lab.Mac(1)), "no forwarder yet");
        var b = _lab.Add(2);
        _lab.RunSeconds(40);
        _lab.Crash(b);
        _lab.RunSeconds(10.5);
        Assert.That(a.Plane.Vmacs, Does.Contain(0x0007_B400_0102ul), "a stands in for b's forwarder");
        Assert.That(a.LastSource, Is.EqualTo(0x0007_B400_0102ul), "the hello right after the takeover goes from the vMAC taken over, so switches relearn it");
        _lab.RunSeconds(4.5);
        var sources = new HashSet<ulong>();
        for (int i = 0; i < 4; i++)
        {
            _lab.RunSeconds(3);
            sources.Add(a.LastSource);
        }
        Assert.That(sources, Is.EquivalentTo(new[] { 0x0007_B400_0101ul, 0x0007_B400_0102ul }));
    }

    [Test]
    public void Millisecond_timers_are_advertised_in_milliseconds()
    {
        var a = _lab.Add(1, o => o with { HelloTime = TimeSpan.FromMilliseconds(50), HoldTime = TimeSpan.FromMilliseconds(170) });
        GlbpPacket.TryDecode(a.LastSent, out GlbpPacket p);
        Assert.That((p.Hello.HelloMs, p.Hello.HoldMs), Is.EqualTo((50u, 170u)));
    }

    [TestCase(GlbpAuthMode.PlainText)]
    [TestCase(GlbpAuthMode.Md5KeyString)]
    [TestCase(GlbpAuthMode.Md5KeyChain)]
    [TestCase(GlbpAuthMode.OffloadHmacSha256)]
    public void Authenticated_groups_converge_and_a_wrong_key_is_shut_out(GlbpAuthMode mode)
    {
        var good = new GlbpAuthSettings(mode, Encoding.ASCII.GetBytes("s3cret"), 7);
        var bad = good with { Key = Encoding.ASCII.GetBytes("guess") };
        var a = _lab.Add(1, o => o with { Authentication = good });
        var b = _lab.Add(2, o => o with { Authentication = good });
        _lab.RunSeconds(40);
        Assert.That(b.State, Is.EqualTo(GatewayState.Active));
        Assert.That(a.State, Is.EqualTo(GatewayState.Standby));
        Assert.That(a.LastResult, Is.EqualTo(GlbpReceiveResult.Accepted));

        var intruder = _lab.Add(9, o => o with { Authentication = bad, Priority = 255, Preempt = true });
        _lab.RunSeconds(40);
        Assert.That(a.Results.GetValueOrDefault(GlbpReceiveResult.AuthenticationFailed), Is.GreaterThan(10));
        Assert.That(intruder.Results.GetValueOrDefault(GlbpReceiveResult.Accepted), Is.Zero);
        Assert.That(b.State, Is.EqualTo(GatewayState.Active));
        Assert.That(b.Group.Snapshot().Members, Is.EqualTo(2));
        Assert.That(intruder.Plane.ArpEnabled, Is.True, "it only fools itself");
        Assert.That(b.Plane.ArpEnabled, Is.True);
    }

    [Test]
    public void A_replayed_HMAC_hello_is_rejected()
    {
        var auth = new GlbpAuthSettings(GlbpAuthMode.OffloadHmacSha256, Encoding.ASCII.GetBytes("k"), 1);
        var a = _lab.Add(1, o => o with { Authentication = auth });
        var b = _lab.Add(2, o => o with { Authentication = auth });
        _lab.RunSeconds(5);
        byte[] old = b.LastSent!;
        _lab.RunSeconds(5);
        Assert.That(a.Group.Receive(old, Lab.Ip(2)), Is.EqualTo(GlbpReceiveResult.Replayed));
    }

    [Test]
    public void Other_groups_own_echoes_and_garbage_are_ignored()
    {
        var a = _lab.Add(1);
        var other = new Lab();
        var stranger = other.Add(2);
        Assert.That(a.Group.Receive(a.LastSent, Lab.Ip(1)), Is.EqualTo(GlbpReceiveResult.OwnMessage));
        Assert.That(a.Group.Receive([1, 2, 3], Lab.Ip(2)), Is.EqualTo(GlbpReceiveResult.Malformed));
        byte[] wrongGroup = (byte[])stranger.LastSent!.Clone();
        wrongGroup[3] = 9;
        Assert.That(a.Group.Receive(wrongGroup, Lab.Ip(2)), Is.EqualTo(GlbpReceiveResult.WrongGroup));
        other.Dispose();
    }

    [Test]
    public void The_virtual_IP_is_learned_from_the_AVG()
    {
        var a = _lab.Add(1);
        var b = _lab.Add(2, o => o with { VirtualIp = 0 });
        Assert.That(b.State, Is.EqualTo(GatewayState.Init));
        _lab.RunSeconds(3);
        Assert.That(b.State, Is.EqualTo(GatewayState.Listen));
        Assert.That(b.Group.Snapshot().VirtualIp, Is.EqualTo(Lab.VirtualIp));
        _lab.RunSeconds(40);
        Assert.That(a.State, Is.Not.EqualTo(b.State));
    }

    [Test]
    public void Receiving_a_steady_state_hello_does_not_allocate()
    {
        var a = _lab.Add(1);
        var b = _lab.Add(2);
        _lab.RunSeconds(60);
        byte[] hello = b.LastSent!;
        a.Group.Receive(hello, Lab.Ip(2));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
            a.Group.Receive(hello, Lab.Ip(2));
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }
}
