using System.Text;
using Offload.Group.Observer;
using Offload.Protocol.Glbp;
using static Offload.Group.Tests.ObserverMessages;

namespace Offload.Group.Tests;

/// <summary>The passive observer on hand-built message sequences, in capture time only.</summary>
public class ObserverTests
{
    private static List<GlbpChange> Of(GroupObserver o, GlbpChangeKind kind) => [.. o.Changes.Where(c => c.Kind == kind)];

    /// <summary>Two routers elect: R1 (priority 150) goes Active, R2 (100) Standby, each through Listen and Speak.</summary>
    private static GroupObserver Elected()
    {
        var o = new GroupObserver();
        o.Send(0.0, R1, Hello(R1, GlbpVgState.Listen, 150));
        o.Send(0.5, R2, Hello(R2, GlbpVgState.Listen, 100));
        o.Send(3.0, R1, Hello(R1, GlbpVgState.Speak, 150));
        o.Send(3.5, R2, Hello(R2, GlbpVgState.Speak, 100));
        o.Send(6.0, R1, Hello(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active)));
        o.Send(6.5, R2, Hello(R2, GlbpVgState.Standby, 100, Fwd(1, GlbpVfState.Listen, priority: 135), Fwd(2, GlbpVfState.Active)));
        o.Send(9.0, R1, Hello(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Listen, priority: 135)));
        return o;
    }

    [Test]
    public void An_election_is_learnt_with_each_role_change_in_order()
    {
        GroupObserver o = Elected();
        ObservedGroup g = o.Group(GroupNumber)!;
        Assert.Multiple(() =>
        {
            Assert.That(g.Active!.Ip, Is.EqualTo(R1));
            Assert.That(g.Active.Priority, Is.EqualTo(150));
            Assert.That(g.Standby!.Ip, Is.EqualTo(R2));
            Assert.That(g.VirtualIp, Is.EqualTo("10.0.0.254"));
            Assert.That(g.Timers, Is.EqualTo(new GlbpTimers(3000, 10_000, 600, 14_400)));
            Assert.That(g.Authentication, Is.EqualTo(GlbpAuthMode.None));
            Assert.That(g.Members.Select(m => m.Ip), Is.EqualTo(new[] { R1, R2 }));
            Assert.That(Of(o, GlbpChangeKind.GroupHeard), Has.Count.EqualTo(1));
            Assert.That(Of(o, GlbpChangeKind.MemberHeard).Select(c => c.Member), Is.EqualTo(new[] { Ip(R1), Ip(R2) }));
            Assert.That(Of(o, GlbpChangeKind.MemberState).Select(c => $"{c.Member} {c.From}->{c.To}"), Is.EqualTo(new[]
            {
                "10.0.0.1 Listen->Speak", "10.0.0.2 Listen->Speak", "10.0.0.1 Speak->Active", "10.0.0.2 Speak->Standby",
            }));
            Assert.That(o.Changes.Select(c => c.TimestampNanoseconds), Is.Ordered, "the log is in capture time order");
            Assert.That(o.Changes.First(c => c.Kind == GlbpChangeKind.MemberState && c.To == "Active").TimestampNanoseconds, Is.EqualTo(T0 + (6 * Second)));
            Assert.That(Of(o, GlbpChangeKind.MemberSilent), Is.Empty, "nobody was quiet longer than 10 s");
            Assert.That(o.Malformed, Is.Empty);
        });
    }

    [Test]
    public void Forwarders_show_their_owner_weight_and_listeners()
    {
        GroupObserver o = Elected();
        var f = o.Group(GroupNumber)!.Forwarders;
        Assert.Multiple(() =>
        {
            Assert.That(f.Select(x => x.Number), Is.EqualTo(new byte[] { 1, 2 }));
            Assert.That(f[0].VirtualMac, Is.EqualTo(0x0007_B400_0101));
            Assert.That(f[0].State, Is.EqualTo(GlbpVfState.Active));
            Assert.That(f[0].Owner!.Ip, Is.EqualTo(R1), "its primary: the member sending 167");
            Assert.That(f[0].Holder!.Ip, Is.EqualTo(R1));
            Assert.That(f[0].StandIn, Is.False);
            Assert.That(f[0].Owner!.Mac, Is.EqualTo(Mac(R1)), "named by the header's MAC");
            Assert.That((f[0].RedirectRemaining, f[0].TimeoutRemaining), Is.EqualTo(((ushort?)null, (ushort?)null)), "no countdown while the owner forwards");
            Assert.That(f[0].Weight, Is.EqualTo(100));
            Assert.That(f[0].Listeners.Select(m => m.Ip), Is.EqualTo(new[] { R2 }));
            Assert.That(f[1].Owner!.Ip, Is.EqualTo(R2));
            Assert.That(f[1].Listeners.Select(m => m.Ip), Is.EqualTo(new[] { R1 }));
            Assert.That(Of(o, GlbpChangeKind.ForwarderAppeared).Select(c => c.Forwarder), Is.EqualTo(new byte?[] { 1, 2 }));
            Assert.That(Of(o, GlbpChangeKind.ForwarderOwner), Is.Empty, "a listener joining is no change of owner");
        });
    }

    [Test]
    public void A_silent_member_is_reported_when_its_hold_time_runs_out_in_capture_time()
    {
        GroupObserver o = Elected();
        // R2 last spoke at 6.5 s; R1 keeps its 3 s hellos. 16.4 s is inside R2's 10 s hold, 16.6 s past it.
        o.Send(12.0, R1, Hello(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Listen, priority: 135)));
        o.Send(15.0, R1, Hello(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Listen, priority: 135)));
        o.Advance(T0 + (long)(16.4 * Second));
        Assert.That(Of(o, GlbpChangeKind.MemberSilent), Is.Empty);
        o.Send(18.0, R1, Hello(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Listen, priority: 135)));

        var silent = Of(o, GlbpChangeKind.MemberSilent);
        ObservedGroup g = o.Group(GroupNumber)!;
        Assert.Multiple(() =>
        {
            Assert.That(silent, Has.Count.EqualTo(1));
            Assert.That(silent[0].Member, Is.EqualTo(Ip(R2)));
            Assert.That(silent[0].TimestampNanoseconds, Is.EqualTo(T0 + (long)(16.5 * Second)), "silence is dated when the hold time ran out");
            Assert.That(silent[0].Text, Does.Contain("10 s"));
            Assert.That(g.Standby, Is.Null, "a silent member holds no role");
            Assert.That(g.Members.Single(m => m.Ip == R2).IsSilent, Is.True);
            Assert.That(g.Forwarders[1].Holder, Is.Null, "forwarder 2's owner went quiet and nobody forwards it yet");
            Assert.That((g.Forwarders[1].Owner!.Ip, g.Forwarders[1].OwnerLive), Is.EqualTo((R2, false)), "still its owner, silent");
            Assert.That(g.Forwarders[1].State, Is.EqualTo(GlbpVfState.Listen), "R1 still listens for it");
            Assert.That(Of(o, GlbpChangeKind.ForwarderOwner), Is.Empty, "an owner going quiet is no change of owner");
            var lost = Of(o, GlbpChangeKind.ForwarderState).Single();
            Assert.That((lost.Forwarder, lost.From, lost.To), Is.EqualTo(((byte?)2, "10.0.0.2", "Listen")));
            Assert.That(lost.TimestampNanoseconds, Is.EqualTo(silent[0].TimestampNanoseconds));
        });
    }

    [Test]
    public void A_forwarder_takeover_is_a_stand_in_not_a_change_of_owner()
    {
        GroupObserver o = Elected();
        // R2 stops; after its hold time R1's secondary forwarder for vMAC 2 goes Active (135), counting down.
        o.Send(12.0, R1, Hello(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Listen, priority: 135)));
        o.Send(15.0, R1, Hello(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Listen, priority: 135)));
        o.Send(17.0, R1, Hello(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active), Fwd(2, GlbpVfState.Active, priority: 135) with { TimeoutRemaining = 14399, RedirectRemaining = 599 }));
        var standIn = Of(o, GlbpChangeKind.ForwarderStandIn);
        ObservedForwarder f2 = o.Group(GroupNumber)!.Forwarders[1];
        Assert.Multiple(() =>
        {
            Assert.That(Of(o, GlbpChangeKind.ForwarderOwner), Is.Empty);
            Assert.That(standIn.Select(c => $"{c.From}->{c.To}"), Is.EqualTo(new[] { "none->10.0.0.1" }));
            Assert.That(standIn[0].TimestampNanoseconds, Is.EqualTo(T0 + (17 * Second)));
            Assert.That(standIn[0].Text, Does.Contain("standing in for its owner 10.0.0.2 (0011.2233.0002), silent"));
            Assert.That((f2.Holder!.Ip, f2.StandIn, f2.Owner!.Ip), Is.EqualTo((R1, true, R2)));
            Assert.That((f2.RedirectRemaining, f2.TimeoutRemaining), Is.EqualTo(((ushort?)599, (ushort?)14399)));
            Assert.That(f2.VirtualMac, Is.EqualTo(0x0007_B400_0102), "the vMAC stays; only who answers for it moves");
        });
    }

    [Test]
    public void A_takeover_while_the_old_owner_still_claims_it_goes_to_the_higher_priority()
    {
        var o = new GroupObserver();
        o.Send(0, R1, Hello(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active, priority: 167)));
        o.Send(1, R2, Hello(R2, GlbpVgState.Standby, 100, Fwd(1, GlbpVfState.Active, priority: 200)));
        o.Send(2, R1, Hello(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active, priority: 167)));
        Assert.Multiple(() =>
        {
            Assert.That(o.Group(GroupNumber)!.Forwarders[0].Holder!.Ip, Is.EqualTo(R2));
            Assert.That(o.Group(GroupNumber)!.Forwarders[0].Owner!.Ip, Is.EqualTo(R1), "R1 still says 167: it is the primary");
            Assert.That(Of(o, GlbpChangeKind.ForwarderState), Has.Count.EqualTo(1), "two claims must not flap the holder on every hello");
        });
    }

    [Test]
    public void A_silent_member_heard_again_is_logged_with_the_gap()
    {
        GroupObserver o = Elected();
        o.Send(30.0, R2, Hello(R2, GlbpVgState.Listen, 100, Fwd(1, GlbpVfState.Listen, priority: 135), Fwd(2, GlbpVfState.Listen)));
        var heard = Of(o, GlbpChangeKind.MemberHeard).Last();
        ObservedMember r2 = o.Group(GroupNumber)!.Members.Single(m => m.Ip == R2);
        Assert.Multiple(() =>
        {
            Assert.That(heard.Member, Is.EqualTo(Ip(R2)));
            Assert.That(heard.From, Is.EqualTo("silent"));
            Assert.That(heard.Text, Does.Contain("after 13.5 s of silence"));
            Assert.That(r2.IsSilent, Is.False);
            Assert.That(Of(o, GlbpChangeKind.MemberState).Last().To, Is.EqualTo("Listen"));
            // Both went silent in the 20.5 s gap: R1 at 19 s, R2 at 16.5 s, logged in that order.
            Assert.That(Of(o, GlbpChangeKind.MemberSilent).Select(c => c.Member), Is.EqualTo(new[] { Ip(R2), Ip(R1) }));
        });
    }

    [Test]
    public void Weight_priority_timers_and_virtual_ip_changes_are_logged()
    {
        GroupObserver o = Elected();
        var slow = new GlbpHello(GlbpVgState.Active, 150, 5000, 15_000, 600, 14_400, 0x0A00_00FD);
        o.Send(10, R1, Hello(R1, GlbpVgState.Active, 160, slow, Fwd(1, GlbpVfState.Active, weight: 50), Fwd(2, GlbpVfState.Listen, priority: 135)));
        Assert.Multiple(() =>
        {
            var w = Of(o, GlbpChangeKind.ForwarderWeight).Single();
            Assert.That((w.Forwarder, w.From, w.To), Is.EqualTo(((byte?)1, "100", "50")));
            var p = Of(o, GlbpChangeKind.MemberPriority).Single();
            Assert.That((p.Member, p.From, p.To), Is.EqualTo((Ip(R1), "150", "160")));
            Assert.That(Of(o, GlbpChangeKind.Timers).Single().To, Is.EqualTo("hello 5 s, hold 15 s, redirect 600 s, timeout 14400 s"));
            Assert.That(Of(o, GlbpChangeKind.VirtualIp).Single().To, Is.EqualTo("10.0.0.253"));
            Assert.That(o.Group(GroupNumber)!.Members.Single(m => m.Ip == R1).HoldMs, Is.EqualTo(15_000), "silence now waits for the new hold time");
        });
    }

    [Test]
    public void Malformed_messages_are_counted_by_reason_and_change_nothing()
    {
        var o = new GroupObserver();
        byte[] good = Hello(R1, GlbpVgState.Active, 150, Fwd(1, GlbpVfState.Active));
        byte[] badVersion = (byte[])good.Clone();
        badVersion[0] = 2;
        byte[] pastEnd = (byte[])good.Clone();
        pastEnd[13] = 200; // the Hello TLV claims more bytes than the message has
        byte[] duplicateHello = [.. good, .. good.AsSpan(12, GlbpHello.Ipv4Length)];
        Assert.Multiple(() =>
        {
            Assert.That(o.Send(0, R1, [1, 0, 0]), Is.EqualTo(GlbpObservation.Malformed));
            Assert.That(o.Send(1, R1, badVersion), Is.EqualTo(GlbpObservation.Malformed));
            Assert.That(o.Send(2, R1, pastEnd), Is.EqualTo(GlbpObservation.Malformed));
            Assert.That(o.Send(3, R1, pastEnd), Is.EqualTo(GlbpObservation.Malformed));
            Assert.That(o.Send(4, R1, duplicateHello), Is.EqualTo(GlbpObservation.Malformed));
            Assert.That(o.Send(4, R1, []), Is.EqualTo(GlbpObservation.Malformed));
        });
        Assert.Multiple(() =>
        {
            Assert.That(o.Malformed, Is.EqualTo(new Dictionary<GlbpError, long>
            {
                [GlbpError.TooShort] = 2,
                [GlbpError.UnsupportedVersion] = 1,
                [GlbpError.TlvPastEnd] = 2,
                [GlbpError.DuplicateHello] = 1,
            }));
            Assert.That(o.Groups, Is.Empty);
            Assert.That(o.Changes, Is.Empty);
            Assert.That(o.MessagesSeen, Is.EqualTo(6));
            Assert.That(o.MessagesApplied, Is.Zero);
        });
        Assert.That(o.Send(5, R1, good), Is.EqualTo(GlbpObservation.Applied), "the observer carries on after bad input");
        Assert.That(o.Group(GroupNumber)!.Active!.Ip, Is.EqualTo(R1));
    }

    [Test]
    public void Random_bytes_never_throw()
    {
        var o = new GroupObserver("k"u8.ToArray());
        var random = new Random(20240101);
        byte[] good = Md5Hello(R1, "k"u8.ToArray(), GlbpVgState.Active, 150);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] message = (byte[])good.Clone();
            // Flip a few bytes of a valid message: deeper than pure noise, which the header check stops.
            for (int k = random.Next(1, 4); k > 0; k--)
                message[random.Next(message.Length)] = (byte)random.Next(256);
            o.Observe(T0 + i, R1, Mac(R1), message.AsSpan(0, random.Next(message.Length + 1)));
        }
        Assert.That(o.MessagesSeen, Is.EqualTo(20_000));
    }

    [Test]
    public void With_a_key_only_messages_that_pass_it_are_applied()
    {
        byte[] key = "s3cret"u8.ToArray();
        var o = new GroupObserver(key);
        Assert.Multiple(() =>
        {
            Assert.That(o.Send(0, R1, Md5Hello(R1, key, GlbpVgState.Active, 150)), Is.EqualTo(GlbpObservation.Applied));
            Assert.That(o.Send(1, R2, Md5Hello(R2, "wrong"u8.ToArray(), GlbpVgState.Active, 200)), Is.EqualTo(GlbpObservation.AuthenticationFailed));
            Assert.That(o.Send(2, R2, Md5Hello(R2, "wrong"u8.ToArray(), GlbpVgState.Active, 200)), Is.EqualTo(GlbpObservation.AuthenticationFailed));
            Assert.That(o.Send(3, R3, Hello(R3, GlbpVgState.Active, 250)), Is.EqualTo(GlbpObservation.AuthenticationFailed));
            // Signed over R1's address, sent from R2's: the digest covers the source address.
            Assert.That(o.Observe(T0 + (4 * Second), R2, Mac(R2), Md5Hello(R1, key, GlbpVgState.Active, 150)), Is.EqualTo(GlbpObservation.AuthenticationFailed));
        });
        ObservedGroup g = o.Group(GroupNumber)!;
        var failed = Of(o, GlbpChangeKind.AuthenticationFailed);
        Assert.Multiple(() =>
        {
            Assert.That(g.Members.Select(m => m.Ip), Is.EqualTo(new[] { R1 }));
            Assert.That(g.Active!.Ip, Is.EqualTo(R1), "a higher priority that fails the key must not take the role");
            Assert.That(g.Authentication, Is.EqualTo(GlbpAuthMode.Md5KeyString));
            Assert.That(o.AuthenticationFailures[GlbpAuthStatus.DigestMismatch], Is.EqualTo(3));
            Assert.That(o.AuthenticationFailures[GlbpAuthStatus.ModeMismatch], Is.EqualTo(1));
            Assert.That(failed.Select(c => c.Member), Is.EqualTo(new[] { Ip(R2), Ip(R3) }), "logged when a sender starts failing, not per message");
            Assert.That(failed[0].Text, Does.Contain("digest"));
        });
    }

    [Test]
    public void Plain_text_authentication_is_checked_against_the_key()
    {
        var o = new GroupObserver(Encoding.UTF8.GetBytes("cisco"));
        o.Send(0, R1, TextHello(R1, "cisco"u8.ToArray(), GlbpVgState.Active, 150));
        o.Send(1, R2, TextHello(R2, "Cisco"u8.ToArray(), GlbpVgState.Standby, 100));
        Assert.Multiple(() =>
        {
            Assert.That(o.Group(GroupNumber)!.Members.Select(m => m.Ip), Is.EqualTo(new[] { R1 }));
            Assert.That(o.Group(GroupNumber)!.Authentication, Is.EqualTo(GlbpAuthMode.PlainText));
            Assert.That(o.AuthenticationFailures[GlbpAuthStatus.TextMismatch], Is.EqualTo(1));
        });
    }

    [Test]
    public void Without_a_key_authentication_is_shown_not_checked()
    {
        var o = new GroupObserver();
        o.Send(0, R1, Hello(R1, GlbpVgState.Active, 150));
        o.Send(1, R1, Md5Hello(R1, "any"u8.ToArray(), GlbpVgState.Active, 150));
        var change = Of(o, GlbpChangeKind.Authentication).Single();
        Assert.Multiple(() =>
        {
            Assert.That((change.From, change.To), Is.EqualTo(("none", "md5 key-string")));
            Assert.That(o.AuthenticationFailures, Is.Empty);
        });
    }

    [Test]
    public void Time_never_runs_backwards_and_groups_are_kept_apart()
    {
        var o = new GroupObserver();
        o.Send(10, R1, Hello(R1, GlbpVgState.Active, 150));
        var buffer = new byte[64];
        var w = new GlbpWriter(buffer, new GlbpHeader(7, Mac(R2)));
        w.WriteHello(new GlbpHello(GlbpVgState.Active, 100, 3000, 10_000, 600, 14_400, 0xC0A8_0001));
        // A frame from another interface of a merged capture, stamped a little earlier.
        o.Send(9.5, R2, w.Written.ToArray());
        Assert.Multiple(() =>
        {
            Assert.That(o.Groups.Select(g => g.Number), Is.EqualTo(new ushort[] { 1, 7 }));
            Assert.That(o.Group(7)!.VirtualIp, Is.EqualTo("192.168.0.1"));
            Assert.That(o.Group(7)!.Members.Single().FirstHeardNanoseconds, Is.EqualTo(T0 + (10 * Second)));
            Assert.That(o.Changes.Select(c => c.TimestampNanoseconds), Is.Ordered);
        });
    }
    /// <summary>A Hello TLV by hand (the writer builds IPv4 only): the fixed 24 bytes, then the address.</summary>
    private static byte[] HelloWithAddress(byte type, byte[] address)
    {
        var value = new byte[22 + address.Length];
        value[1] = (byte)GlbpVgState.Active;
        value[3] = 150;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(6), 3000);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(value.AsSpan(10), 10_000);
        value[20] = type;
        value[21] = (byte)address.Length;
        address.CopyTo(value, 22);
        var buffer = new byte[128];
        var w = new GlbpWriter(buffer, new GlbpHeader(GroupNumber, Mac(R1)));
        w.WriteTlv(GlbpTlvType.Hello, value);
        return w.Written.ToArray();
    }

    [Test]
    public void Ipv6_and_unknown_virtual_addresses_are_shown_not_thrown_on()
    {
        var o = new GroupObserver();
        byte[] v6 = System.Net.IPAddress.Parse("2001:db8::fe").GetAddressBytes();
        Assert.That(o.Send(0, R1, HelloWithAddress((byte)GlbpAddressType.Ipv6, v6)), Is.EqualTo(GlbpObservation.Applied));
        Assert.That(o.Group(GroupNumber)!.VirtualIp, Is.EqualTo("2001:db8::fe"));
        Assert.That(o.Send(1, R1, HelloWithAddress(9, [1, 2, 3, 4, 5])), Is.EqualTo(GlbpObservation.Applied));
        Assert.That(o.Group(GroupNumber)!.VirtualIp, Is.EqualTo("type 9: 0102030405"));
    }
}
