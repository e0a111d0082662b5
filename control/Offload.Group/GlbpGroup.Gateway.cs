using Offload.Protocol.Glbp;

namespace Offload.Group;

// The virtual gateway: who else is in the group, and the AVG election (Listen → Speak → Standby/Active,
// HSRP-style, highest priority then highest IP).
public sealed partial class GlbpGroup
{
    private sealed class Peer
    {
        public uint Ip;
        public ulong Mac;
        public GlbpVgState State;
        public byte Priority;
        public byte Weight;
        public bool Eligible;
        public long Deadline;
        public long HoldTicks;
        public long Order;
        public uint Sequence;
        public bool HasSequence;

        /// <summary>Its last hello advertised a forwarder with priority 167 (it has a number of its own).</summary>
        public bool ClaimsPrimary;
    }

    private static bool Better(byte priorityA, uint ipA, byte priorityB, uint ipB) =>
        priorityA > priorityB || (priorityA == priorityB && ipA > ipB);

    private bool BetterThanMe(Peer p) => Better(p.Priority, p.Ip, _priority, _options.LocalIp);

    private Peer? FindPeer(uint ip)
    {
        foreach (var p in _peers)
        {
            if (p.Ip == ip)
                return p;
        }
        return null;
    }

    private Peer? FindPeerByMac(ulong mac)
    {
        foreach (var p in _peers)
        {
            if (p.Mac == mac)
                return p;
        }
        return null;
    }

    /// <summary>The best peer claiming <paramref name="state"/> (two can, briefly, while they sort it out).</summary>
    private Peer? BestPeerIn(GlbpVgState state)
    {
        Peer? best = null;
        foreach (var p in _peers)
        {
            if (p.State == state && (best is null || Better(p.Priority, p.Ip, best.Priority, best.Ip)))
                best = p;
        }
        return best;
    }

    private void ExpirePeers(long now)
    {
        for (int i = _peers.Count - 1; i >= 0; i--)
        {
            Peer p = _peers[i];
            if (now < p.Deadline)
                continue;
            _peers.RemoveAt(i);
            foreach (var f in _forwarders)
            {
                if (f is not null && f.HolderIp == p.Ip)
                    DropHolder(f, now);
            }
        }
    }

    private GlbpReceiveResult Handle(GlbpPacket packet, uint sourceIp)
    {
        if (_disposed || _state == GatewayState.Disabled)
            return GlbpReceiveResult.GroupDisabled;
        if (sourceIp == _options.LocalIp)
            return GlbpReceiveResult.OwnMessage;
        if (packet.Header.Group != _options.Group)
            return GlbpReceiveResult.WrongGroup;
        if (packet.HasHello && packet.Hello.AddressType != GlbpAddressType.Ipv4)
            return GlbpReceiveResult.NoHello;
        // Cisco sends Request/Response TLVs without a Hello when a forwarder changes state: they count from a member
        // already heard (a Hello places it), and do not stand for a Hello's liveness.
        if (!packet.HasHello && FindPeer(sourceIp) is null)
            return GlbpReceiveResult.NoHello;
        var auth = GlbpAuthenticator.Verify(packet, sourceIp, _options.Authentication);
        if (auth != GlbpAuthStatus.Ok)
        {
            Log.AuthFailed(_log, _options.Group, sourceIp, auth);
            return GlbpReceiveResult.AuthenticationFailed;
        }

        long now = Now;
        Peer? peer = FindPeer(sourceIp);
        if (packet.HasOffloadAuth)
        {
            uint seq = packet.OffloadAuth.Sequence;
            if (peer is { HasSequence: true } && (int)(seq - peer.Sequence) <= 0)
                return GlbpReceiveResult.Replayed;
        }
        if (peer is null)
        {
            peer = new Peer { Ip = sourceIp, Order = _peerOrder++ };
            _peers.Add(peer);
            // The Active answers a new member at once, so it learns the group, the forwarders and their owners
            // within a round trip rather than a hello time.
            if (_state == GatewayState.Active)
                _sendNow = true;
        }
        if (packet.HasOffloadAuth)
        {
            peer.Sequence = packet.OffloadAuth.Sequence;
            peer.HasSequence = true;
        }
        if (!packet.HasHello)
        {
            HandleForwarders(packet, peer, now);
            return GlbpReceiveResult.Accepted;
        }

        GlbpHello hello = packet.Hello;
        peer.Mac = packet.Header.OwnerMac;
        peer.State = hello.State;
        peer.Priority = hello.Priority;
        // The sender's hold time, not ours: that is the promise its hellos make (Cisco and HSRP do the same).
        peer.HoldTicks = hello.HoldMs > 0 ? TimeSpan.FromMilliseconds(hello.HoldMs).Ticks : _holdTicks;
        peer.Deadline = now + peer.HoldTicks;
        if (_virtualIp == 0 && hello.VirtualIpv4 != 0)
            _virtualIp = hello.VirtualIpv4;

        // Weighting is per gateway, so any of its forwarder TLVs carries it.
        foreach (var tlv in packet.Forwarders)
        {
            peer.Weight = tlv.Weight;
            peer.Eligible = tlv.Priority > 0;
            break;
        }

        // Answer a rival at once so the worse of two Actives (or Standbys) steps down within one round trip.
        if ((_state == GatewayState.Active && hello.State == GlbpVgState.Active && !BetterThanMe(peer))
            || (_state == GatewayState.Standby && hello.State == GlbpVgState.Standby && !BetterThanMe(peer)))
            _sendNow = true;

        HandleForwarders(packet, peer, now);
        HandleLoads(packet, peer);
        return GlbpReceiveResult.Accepted;
    }

    private void EvaluateGateway(long now)
    {
        // A transition may enable the next (Standby → Active when the Active is gone): settle in a few steps.
        for (int step = 0; step < 4; step++)
        {
            GatewayState before = _state;
            StepGateway(now);
            CheckPreempt(now);
            if (_state == before)
                break;
        }
    }

    private void StepGateway(long now)
    {
        switch (_state)
        {
            case GatewayState.Init:
                if (_virtualIp != 0)
                    SetState(GatewayState.Listen, Reasons.VirtualIpKnown, now);
                break;
            case GatewayState.Listen:
                if (now >= _listenUntil && (BestPeerIn(GlbpVgState.Active) is null || BestPeerIn(GlbpVgState.Standby) is null))
                    SetState(GatewayState.Speak, Reasons.NoActiveOrStandby, now);
                break;
            case GatewayState.Speak:
                if (now >= _speakUntil)
                    EndSpeak(now);
                break;
            case GatewayState.Standby:
                {
                    Peer? standby = BestPeerIn(GlbpVgState.Standby);
                    // Waiting a hold time for an Active is for a Standby that has heard none. Once one is heard, its going
                    // (a resign hello, or its hold time running out) hands the role over at once: a gateway that resigns
                    // right after its election must not leave the group without an AVG for a hold time.
                    bool activeKnown = BestPeerIn(GlbpVgState.Active) is not null;
                    if (activeKnown)
                        _standbyUntil = Math.Min(_standbyUntil, now);
                    if (!activeKnown && now >= _standbyUntil)
                        SetState(GatewayState.Active, Reasons.ActiveExpired, now);
                    else if (standby is not null && BetterThanMe(standby))
                        SetState(GatewayState.Listen, Reasons.BetterStandby, now);
                    break;
                }
            case GatewayState.Active:
                {
                    Peer? active = BestPeerIn(GlbpVgState.Active);
                    if (active is not null && BetterThanMe(active))
                        SetState(GatewayState.Speak, Reasons.BetterActive, now);
                    break;
                }
        }
    }

    /// <summary>
    /// After a hold time of speaking every candidate has heard every other, so each can rank itself among the
    /// Speak and Standby members alone and reach the same answer: best takes the free Active role (if any),
    /// next best the Standby role.
    /// </summary>
    private void EndSpeak(long now)
    {
        int better = 0;
        foreach (var p in _peers)
        {
            if ((p.State == GlbpVgState.Speak || p.State == GlbpVgState.Standby) && BetterThanMe(p))
                better++;
        }
        bool activeKnown = BestPeerIn(GlbpVgState.Active) is not null;
        if (!activeKnown && better == 0)
            SetState(GatewayState.Active, Reasons.ElectedActive, now);
        else if ((activeKnown && better == 0) || (!activeKnown && better == 1))
            SetState(GatewayState.Standby, Reasons.ElectedStandby, now);
        else
            SetState(GatewayState.Listen, Reasons.LostElection, now);
    }

    private void CheckPreempt(long now)
    {
        Peer? active = _state is GatewayState.Listen or GatewayState.Speak or GatewayState.Standby ? BestPeerIn(GlbpVgState.Active) : null;
        if (!_preempt || active is null || BetterThanMe(active))
        {
            _preemptAt = Never;
            return;
        }
        if (_preemptAt == Never)
            _preemptAt = now + _preemptDelayTicks;
        if (now >= _preemptAt)
            SetState(GatewayState.Active, Reasons.Preempted, now);
    }

    private void SetState(GatewayState to, string reason, long now)
    {
        GatewayState from = _state;
        if (from == to)
            return;
        _state = to;
        _listenUntil = to == GatewayState.Listen ? now + _holdTicks : Never;
        _speakUntil = to == GatewayState.Speak ? now + _holdTicks : Never;
        // A Standby elected while no Active exists waits one hold time for the winner to announce itself.
        _standbyUntil = to == GatewayState.Standby && BestPeerIn(GlbpVgState.Active) is null ? now + _holdTicks : now;
        if (to >= GatewayState.Listen)
            _sendNow = true;
        else
            _nextHello = Never;
        if (from < GatewayState.Listen && to >= GatewayState.Listen)
        {
            _nextHello = now;
            _joinedAt = now;
        }
        Log.GatewayState(_log, _options.Group, from, to, reason);
        _pending.Add(new GatewayStateChanged(Stamp, _options.Group, from, to, reason));
    }
}
