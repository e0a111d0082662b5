using Offload.Protocol.Glbp;

namespace Offload.Group;

// Virtual forwarders: assignment by the Active AVG, this member's AVF states, takeover by the best secondary,
// forwarder preemption by the owner, and the redirect and timeout timers that retire a lost owner's vMAC.
public sealed partial class GlbpGroup
{
    private sealed class Forwarder
    {
        public byte Number;
        public ulong Vmac;

        /// <summary>The primary: the member the AVG assigned this forwarder to, by its MAC (0 when unknown).</summary>
        public ulong OwnerMac;

        public ForwarderState State;

        /// <summary>The other member forwarding it now, or 0 (none known, or we forward it).</summary>
        public uint HolderIp;

        /// <summary>
        /// With a holder: when its claim lapses. Without one: the earliest moment secondaries may compete, so a
        /// member that just learned the forwarder first listens for a hold time to find out who holds it.
        /// </summary>
        public long HolderDeadline;

        public long PreemptAt = Never;
        public long OwnerLostAt = Never;
        public bool Redirected;

        /// <summary>Taken from the data plane at a restart (<see cref="Resume"/>), owner not yet known.</summary>
        public bool Resumed;
    }

    private bool Eligible => _weighting.Forwarding && _state >= GatewayState.Listen;

    private void HandleForwarders(GlbpPacket packet, Peer peer, long now)
    {
        if (packet.HasHello)
            peer.ClaimsPrimary = false;
        foreach (var tlv in packet.Forwarders)
        {
            byte n = tlv.Forwarder;
            if (n == 0)
                continue;
            // Ownership is what the sender says of itself: priority 167 makes it the forwarder's primary. Secondaries
            // (135) and members that will not forward (0) say nothing about whose it is.
            bool primary = tlv.Role == GlbpForwarderRole.Primary;
            peer.ClaimsPrimary |= primary;
            Forwarder f = _forwarders[n] ?? AddForwarder(n, primary ? peer.Mac : 0, now);
            if (primary)
                PrimaryClaims(f, peer);
            else
                FollowCountdown(f, tlv, now);
            if (tlv.State == GlbpVfState.Active)
                PeerClaims(f, peer, now);
            else if (f.HolderIp == peer.Ip)
                DropHolder(f, now); // it gave the forwarder up (weighting, shutdown): no need to wait for its hold
        }
        // Only the Active AVG's record of owners counts, and only the better of two Actives (a healed partition).
        bool fromAvg = peer.State == GlbpVgState.Active && _state != GatewayState.Active && BestPeerIn(GlbpVgState.Active) == peer;
        if (fromAvg)
        {
            foreach (var record in packet.OffloadOwners)
                ApplyOwnerRecord(record, now);
        }
    }

    /// <summary>
    /// A member advertised <paramref name="f"/> with priority 167. Two members that picked the same free number at
    /// once both claim it: the one with the higher MAC keeps it, the other gives it up and picks again.
    /// </summary>
    private void PrimaryClaims(Forwarder f, Peer peer)
    {
        if (f.OwnerMac == peer.Mac)
            return;
        if (f.OwnerMac == _options.LocalMac)
        {
            if (peer.Mac < _options.LocalMac)
            {
                _sendNow = true; // our own 167 makes it give the number up
                return;
            }
            Log.OwnerConflict(_log, _options.Group, f.Number, peer.Mac);
        }
        else if (f.OwnerMac != 0 && f.OwnerMac > peer.Mac && FindPeerByMac(f.OwnerMac) is not null)
        {
            return;
        }
        f.OwnerMac = peer.Mac;
        f.PreemptAt = Never;
    }

    /// <summary>
    /// A secondary counts the redirect and time-out down from when it lost the primary; a member that learned of
    /// the loss later (or joined later) takes the earlier start from it, so every member retires the vMAC together.
    /// </summary>
    private void FollowCountdown(Forwarder f, in GlbpForwarder tlv, long now)
    {
        if (f.OwnerMac == _options.LocalMac || (f.OwnerMac != 0 && FindPeerByMac(f.OwnerMac) is not null))
            return;
        if (tlv.TimeoutRemaining >= _timeoutTicks / TimeSpan.TicksPerSecond)
            return; // the sender has not seen the primary go (or counts from a longer time-out than ours)
        long lostAt = now - (_timeoutTicks - (tlv.TimeoutRemaining * TimeSpan.TicksPerSecond));
        if (lostAt < f.OwnerLostAt)
            f.OwnerLostAt = lostAt;
    }

    /// <summary>
    /// The Active AVG's record of whose a number is (Offload's own TLV): a member that restarted learns its old
    /// number from it and reclaims it, as a member that was only away does, instead of taking a new one.
    /// </summary>
    private void ApplyOwnerRecord(GlbpOffloadOwner record, long now)
    {
        if (record.OwnerMac == 0)
            return;
        Forwarder? f = _forwarders[record.Forwarder];
        if (f is null)
        {
            if (record.OwnerMac != _options.LocalMac || OwnForwarder() is null)
                AddForwarder(record.Forwarder, record.OwnerMac, now);
            return;
        }
        if (f.OwnerMac == record.OwnerMac || (f.OwnerMac != 0 && (f.OwnerMac == _options.LocalMac || FindPeerByMac(f.OwnerMac) is not null)))
            return; // a live primary's own claim outranks a record
        if (record.OwnerMac == _options.LocalMac && OwnForwarder() is not null)
            return;
        f.OwnerMac = record.OwnerMac;
        f.PreemptAt = Never;
    }

    private Forwarder? OwnForwarder()
    {
        foreach (var f in _forwarders)
        {
            if (f is not null && f.OwnerMac == _options.LocalMac)
                return f;
        }
        return null;
    }

    private void PeerClaims(Forwarder f, Peer peer, long now)
    {
        if (f.State == ForwarderState.Active)
        {
            bool peerIsOwner = peer.Mac == f.OwnerMac;
            bool peerWins = peerIsOwner
                || (f.OwnerMac != _options.LocalMac && Better(peer.Weight, peer.Ip, _weighting.Current, _options.LocalIp));
            if (!peerWins)
            {
                _sendNow = true; // our claim makes it yield
                return;
            }
            SetForwarderState(f, ForwarderState.Listen, peerIsOwner ? Reasons.YieldOwner : Reasons.YieldBetter);
        }
        f.HolderIp = peer.Ip;
        f.HolderDeadline = now + peer.HoldTicks;
    }

    private static void DropHolder(Forwarder f, long now)
    {
        f.HolderIp = 0;
        f.HolderDeadline = now;
    }

    private Forwarder AddForwarder(byte n, ulong owner, long now)
    {
        var f = new Forwarder
        {
            Number = n,
            Vmac = GlbpVirtualMac.Create(_options.Group, n),
            OwnerMac = owner,
            State = ForwarderState.Init,
            // A member still in its first hold time has, by the end of it, heard every live holder's claims (they
            // repeat every hello), whenever it learned the forwarder; waiting a hold from learning instead delayed a
            // rebooted member's takeover of orphaned forwarders past hold + one hello when a hello was lost.
            HolderDeadline = _state >= GatewayState.Listen && now < _joinedAt + _holdTicks ? _joinedAt + _holdTicks : now + _holdTicks,
        };
        _forwarders[n] = f;
        _pending.Add(new ForwarderNotice(Stamp, _options.Group, n, owner, ForwarderNoticeKind.Added));
        return f;
    }

    private void RemoveForwarder(Forwarder f, ForwarderNoticeKind kind, string reason)
    {
        SetForwarderState(f, ForwarderState.Init, reason);
        _forwarders[f.Number] = null;
        _loads[f.Number] = 0;
        _pending.Add(new ForwarderNotice(Stamp, _options.Group, f.Number, f.OwnerMac, kind));
    }

    /// <summary>
    /// A member without a forwarder takes the lowest number nobody advertises (the next ones if members with lower
    /// MACs are also still without one), once it has listened for a hold time (by then it has heard every live member's forwarders, and the AVG's record of owners), and claims it with
    /// priority 167 from then on. How a Cisco AVG hands out numbers is not public; this scheme only uses what the wire
    /// shows: primaries advertise their own number, and two claims of one number are settled by MAC.
    /// </summary>
    private void SelectOwnForwarder(long now)
    {
        if (_state < GatewayState.Listen || now < _joinedAt + _holdTicks || OwnForwarder() is not null)
            return;
        // A forwarder resumed from the data plane that nobody has claimed in a hold time was most likely ours.
        foreach (var f in _forwarders)
        {
            if (f is { Resumed: true, OwnerMac: 0 })
            {
                f.OwnerMac = _options.LocalMac;
                f.Resumed = false;
                Log.Assigned(_log, _options.Group, f.Number, _options.LocalMac);
                return;
            }
        }
        // Members that start together would all pick the same lowest number and then settle it by MAC; instead each
        // member still without one takes the free number of its rank by MAC among them, so they pick apart.
        int rank = 0;
        foreach (var p in _peers)
        {
            if (!p.ClaimsPrimary && p.Mac != 0 && p.Mac < _options.LocalMac)
                rank++;
        }
        for (int n = 1; n <= _options.MaxForwarders && n < _forwarders.Length; n++)
        {
            if (_forwarders[n] is null && rank-- == 0)
            {
                Forwarder added = AddForwarder((byte)n, _options.LocalMac, now);
                Log.Assigned(_log, _options.Group, added.Number, _options.LocalMac);
                return;
            }
        }
    }

    private void EvaluateForwarders(long now)
    {
        bool eligible = Eligible;
        foreach (var f in _forwarders)
        {
            if (f is null)
                continue;
            if (f.HolderIp != 0 && now >= f.HolderDeadline)
                DropHolder(f, now);
            if (!TrackOwner(f, now))
                continue;

            bool mine = f.OwnerMac == _options.LocalMac;
            if (!eligible)
            {
                f.PreemptAt = Never;
                SetForwarderState(f, ForwarderState.Listen, _state >= GatewayState.Listen ? Reasons.BelowThreshold : Reasons.Disabled);
                continue;
            }
            if (mine)
                EvaluateOwned(f, now);
            else
                EvaluateSecondary(f, now);
        }
    }

    /// <summary>Runs the redirect and timeout timers; false when the forwarder has just been deleted.</summary>
    private bool TrackOwner(Forwarder f, long now)
    {
        bool ownerAlive = f.OwnerMac == _options.LocalMac || (f.OwnerMac != 0 && FindPeerByMac(f.OwnerMac) is not null);
        if (ownerAlive)
        {
            f.OwnerLostAt = Never;
            if (f.Redirected)
            {
                f.Redirected = false;
                _pending.Add(new ForwarderNotice(Stamp, _options.Group, f.Number, f.OwnerMac, ForwarderNoticeKind.Restored));
            }
            return true;
        }
        if (f.OwnerLostAt == Never)
            f.OwnerLostAt = now;
        if (now >= f.OwnerLostAt + _timeoutTicks)
        {
            RemoveForwarder(f, ForwarderNoticeKind.TimedOut, Reasons.TimedOut);
            return false;
        }
        if (!f.Redirected && now >= f.OwnerLostAt + _redirectTicks)
        {
            f.Redirected = true;
            _pending.Add(new ForwarderNotice(Stamp, _options.Group, f.Number, f.OwnerMac, ForwarderNoticeKind.Redirected));
        }
        return true;
    }

    private void EvaluateOwned(Forwarder f, long now)
    {
        if (f.State == ForwarderState.Active)
            return;
        // A member that has only just joined first listens for a hold time: its forwarder may be held by a
        // secondary since it went away, and then it must wait for the preempt delay rather than grab it.
        if (f.HolderIp == 0 && now < f.HolderDeadline && now < _joinedAt + _holdTicks)
        {
            SetForwarderState(f, ForwarderState.Listen, Reasons.Secondary);
            return;
        }
        if (f.HolderIp == 0)
        {
            f.PreemptAt = Never;
            SetForwarderState(f, ForwarderState.Active, Reasons.Assigned);
            return;
        }
        SetForwarderState(f, ForwarderState.Listen, Reasons.Secondary);
        if (!_options.ForwarderPreempt)
            return;
        if (f.PreemptAt == Never)
            f.PreemptAt = now + _forwarderPreemptTicks;
        if (now < f.PreemptAt)
            return;
        f.PreemptAt = Never;
        DropHolder(f, now); // the holder yields when it hears the owner's claim
        SetForwarderState(f, ForwarderState.Active, Reasons.ForwarderPreempt);
    }

    private void EvaluateSecondary(Forwarder f, long now)
    {
        f.PreemptAt = Never;
        if (f.State == ForwarderState.Active)
            return;
        if (f.HolderIp != 0 || now < f.HolderDeadline)
        {
            SetForwarderState(f, ForwarderState.Listen, Reasons.Secondary);
            return;
        }
        // Nobody forwards it. An owner that is alive and willing takes it itself; otherwise the eligible
        // secondary with the highest weighting (then address) does, and the rest look again after a hold time
        // in case the winner is itself gone.
        Peer? owner = FindPeerByMac(f.OwnerMac);
        if (owner is not { Eligible: true } && IAmBestSecondary(f))
        {
            SetForwarderState(f, ForwarderState.Active, Reasons.Takeover);
            return;
        }
        f.HolderDeadline = now + _holdTicks;
        SetForwarderState(f, ForwarderState.Listen, Reasons.Secondary);
    }

    private bool IAmBestSecondary(Forwarder f)
    {
        foreach (var p in _peers)
        {
            if (p.Eligible && p.Mac != f.OwnerMac && Better(p.Weight, p.Ip, _weighting.Current, _options.LocalIp))
                return false;
        }
        return true;
    }

    private void SetForwarderState(Forwarder f, ForwarderState to, string reason)
    {
        ForwarderState from = f.State;
        if (from == to)
            return;
        f.State = to;
        if (to == ForwarderState.Active)
            _freshSource = f.Vmac;
        if (_state >= GatewayState.Listen)
            _sendNow = true;
        Log.ForwarderState(_log, _options.Group, f.Number, from, to, reason);
        _pending.Add(new ForwarderStateChanged(Stamp, _options.Group, f.Number, f.Vmac, from, to, reason));
    }

    /// <summary>Writes the vMAC filter and, on the Active AVG only, the ARP responder, when they change.</summary>
    private void UpdatePlane()
    {
        int active = 0;
        bool vmacsChanged = false;
        foreach (var f in _forwarders)
        {
            if (f is { State: ForwarderState.Active })
            {
                vmacsChanged |= active >= _writtenVmacs.Length || _writtenVmacs[active] != f.Vmac;
                active++;
            }
        }
        if (vmacsChanged || active != _writtenVmacs.Length || !_planeWritten)
        {
            var vmacs = new ulong[active];
            int i = 0;
            foreach (var f in _forwarders)
            {
                if (f is { State: ForwarderState.Active })
                    vmacs[i++] = f.Vmac;
            }
            _writtenVmacs = vmacs;
            _plane.SetVmacs(_options.Group, vmacs);
        }

        int slots = _state == GatewayState.Active && _virtualIp != 0 ? BuildSlots() : 0;
        bool enabled = slots > 0;
        bool arpChanged = !_planeWritten || enabled != _arpEnabledWritten || (enabled && _loadBalancing != _arpModeWritten)
            || (enabled && !_slots.AsSpan().SequenceEqual(_writtenSlots));
        _planeWritten = true;
        if (!arpChanged)
            return;
        _arpEnabledWritten = enabled;
        _arpModeWritten = _loadBalancing;
        _slots.CopyTo(_writtenSlots, 0);
        _plane.SetArpResponder(_options.Group, _virtualIp, enabled, enabled ? _slots : ReadOnlySpan<byte>.Empty, _loadBalancing);
    }

    /// <summary>
    /// Hands out every forwarder someone forwards, except those past their redirect time, weighted by the
    /// weighting of whoever forwards it now.
    /// </summary>
    private int BuildSlots()
    {
        Span<byte> numbers = stackalloc byte[SlotTableBuilder.SlotCount];
        Span<double> weights = stackalloc double[SlotTableBuilder.SlotCount];
        Span<double> loads = stackalloc double[SlotTableBuilder.SlotCount];
        int k = 0;
        foreach (var f in _forwarders)
        {
            if (f is null || f.Redirected || k == SlotTableBuilder.SlotCount)
                continue;
            double weight;
            if (f.State == ForwarderState.Active)
                weight = _weighting.Current;
            else if (f.HolderIp != 0 && FindPeer(f.HolderIp) is { } holder)
                weight = holder.Weight;
            else
                continue;
            numbers[k] = f.Number;
            weights[k] = weight;
            loads[k] = _loads[f.Number];
            k++;
        }
        return _loadBalancing switch
        {
            GlbpLoadBalancing.Weighted => SlotTableBuilder.Build(numbers[..k], weights[..k], _slots),
            GlbpLoadBalancing.LoadBased => SlotTableBuilder.BuildLoadBased(numbers[..k], weights[..k], loads[..k], _slots),
            _ => SlotTableBuilder.BuildEqual(numbers[..k], _slots),
        };
    }
}
