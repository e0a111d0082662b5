using Offload.Protocol.Glbp;

namespace Offload.Testing.Simulation;

/// <summary>
/// A GLBP member written only from what captures of Cisco routers show (issue 13), independently of
/// <c>GlbpGroup</c>, so a mixed group tests Offload against the wire behaviour rather than against itself:
/// <list type="bullet">
/// <item>its own MAC in the header; HSRP-style election (Listen, Speak, Standby/Active by priority then address);</item>
/// <item>one Request/Response TLV per forwarder it knows: 167 for its own, 135 for the others, the full time-out and
/// redirect while the primary lives, counted down in step with time after it is lost (and the earlier start taken
/// from another secondary's TLV);</item>
/// <item>its own forwarder advertised with 167 from its first hellos once it has a number; a number is taken as the
/// lowest nobody advertises after listening for a hold time, two claims settled by MAC (the scheme Offload
/// documents for the part nobody has decoded);</item>
/// <item>a secondary takes a forwarder whose primary and holder are gone (highest weight, then address), yields when the
/// primary claims it Active again, and the primary reclaims after the forwarder preempt delay;</item>
/// <item>as AVG it stops handing out a vMAC at redirect 0, and every member forgets a forwarder at time-out 0;</item>
/// <item>Offload's own TLVs (0xF1–0xF3) are skipped as unknown.</item>
/// </list>
/// Driven by <see cref="Tick"/> with the simulation's time; messages go out through <see cref="Sent"/>.
/// </summary>
public sealed class CiscoShapedMember
{
    private const byte Weight = 100;

    /// <summary>Cisco's limit of virtual forwarders per group.</summary>
    private const int MaxForwarders = 4;

    private readonly Dictionary<uint, PeerState> _peers = [];
    private readonly Dictionary<byte, ForwarderState> _forwarders = [];
    private readonly TimeSpan _hello;
    private readonly TimeSpan _hold;
    private readonly TimeSpan _redirect;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _preemptDelay;
    private TimeSpan _now;
    private TimeSpan _nextHello;
    private TimeSpan _stateUntil;
    private TimeSpan _joinedAt;

    public CiscoShapedMember(ushort group, uint ip, ulong mac, byte priority, uint virtualIp, TimeSpan hello, TimeSpan hold,
        TimeSpan redirect, TimeSpan timeout, TimeSpan? forwarderPreemptDelay = null)
    {
        Group = group;
        Ip = ip;
        Mac = mac;
        Priority = priority;
        VirtualIp = virtualIp;
        _hello = hello;
        _hold = hold;
        _redirect = redirect;
        _timeout = timeout;
        _preemptDelay = forwarderPreemptDelay ?? TimeSpan.FromSeconds(30);
    }

    public ushort Group { get; }
    public uint Ip { get; }
    public ulong Mac { get; }
    public byte Priority { get; }
    public uint VirtualIp { get; }

    /// <summary>Powered; a member that is down neither sends nor receives, and keeps its number for when it returns.</summary>
    public bool Up { get; private set; }

    public GlbpVgState State { get; private set; } = GlbpVgState.Listen;

    /// <summary>Messages it sent since the last call to <see cref="TakeSent"/>.</summary>
    public List<byte[]> Sent { get; } = [];

    /// <summary>The number it owns (0: none yet).</summary>
    public byte OwnNumber { get; private set; }

    /// <summary>The vMACs it forwards now.</summary>
    public IEnumerable<ulong> Forwarding => _forwarders.Values.Where(f => f.Active).Select(f => GlbpVirtualMac.Create(Group, f.Number));

    /// <summary>Each forwarder it knows, with the MAC of its primary as it believes (0 when unknown).</summary>
    public IReadOnlyDictionary<byte, ulong> Owners => _forwarders.ToDictionary(kv => kv.Key, kv => kv.Value.OwnerMac);

    /// <summary>As AVG, the forwarders it hands out to ARP requests: everyone forwarded, minus those past redirect.</summary>
    public IReadOnlyList<byte> HandedOut => [.. _forwarders.Values
        .Where(f => !f.Redirected(_now, _redirect) && (f.Active || f.HolderIp != 0))
        .Select(f => f.Number).Order()];

    public void Start(TimeSpan now)
    {
        Up = true;
        _now = now;
        State = GlbpVgState.Listen;
        _stateUntil = now + _hold;
        _joinedAt = now;
        _nextHello = now;
        _peers.Clear();
        foreach (var f in _forwarders.Values)
        {
            // Back after an outage: it still knows its number and listens before it claims anything.
            f.Active = false;
            f.HolderIp = 0;
            f.PreemptAt = null;
        }
        Tick(now);
    }

    public void Crash() => Up = false;

    public List<byte[]> TakeSent()
    {
        var sent = new List<byte[]>(Sent);
        Sent.Clear();
        return sent;
    }

    public void Receive(ReadOnlySpan<byte> message, uint sourceIp)
    {
        if (!Up || sourceIp == Ip || !GlbpPacket.TryDecode(message, out GlbpPacket p).IsOk || p.Header.Group != Group)
            return;
        if (!p.HasHello && !_peers.ContainsKey(sourceIp))
            return;
        if (!_peers.TryGetValue(sourceIp, out PeerState? peer))
            _peers[sourceIp] = peer = new PeerState { Ip = sourceIp };
        peer.Mac = p.Header.OwnerMac;
        if (p.HasHello)
        {
            peer.State = p.Hello.State;
            peer.Priority = p.Hello.Priority;
            peer.Deadline = _now + TimeSpan.FromMilliseconds(p.Hello.HoldMs);
        }
        foreach (GlbpForwarder tlv in p.Forwarders)
        {
            if (!_forwarders.TryGetValue(tlv.Forwarder, out ForwarderState? f))
                _forwarders[tlv.Forwarder] = f = new ForwarderState { Number = tlv.Forwarder, LearnedAt = _now };
            if (tlv.Role == GlbpForwarderRole.Primary)
            {
                if (f.OwnerMac == Mac && tlv.Forwarder == OwnNumber)
                {
                    if (peer.Mac > Mac)
                    {
                        OwnNumber = 0; // the higher MAC keeps it; pick again
                        f.OwnerMac = peer.Mac;
                        f.Active = false;
                    }
                }
                else
                {
                    f.OwnerMac = peer.Mac;
                }
            }
            else if (tlv.Role == GlbpForwarderRole.Secondary && tlv.TimeoutRemaining < (ushort)_timeout.TotalSeconds && !OwnerAlive(f))
            {
                TimeSpan lostAt = _now - (_timeout - TimeSpan.FromSeconds(tlv.TimeoutRemaining));
                if (f.LostAt is null || lostAt < f.LostAt)
                    f.LostAt = lostAt;
            }
            if (tlv.State == GlbpVfState.Active)
            {
                bool ownerClaims = tlv.Role == GlbpForwarderRole.Primary && peer.Mac == f.OwnerMac;
                if (f.Active && (ownerClaims || (f.OwnerMac != Mac && peer.Ip > Ip)))
                    f.Active = false;
                if (!f.Active)
                {
                    f.HolderIp = peer.Ip;
                    f.HolderDeadline = _now + _hold;
                }
            }
            else if (f.HolderIp == peer.Ip)
            {
                f.HolderIp = 0;
            }
        }
    }

    public void Tick(TimeSpan now)
    {
        if (!Up)
            return;
        _now = now;
        foreach (var dead in _peers.Values.Where(p => now >= p.Deadline).ToList())
        {
            _peers.Remove(dead.Ip);
            foreach (var f in _forwarders.Values.Where(f => f.HolderIp == dead.Ip))
                f.HolderIp = 0;
        }
        StepGateway(now);
        StepForwarders(now);
        if (now >= _nextHello)
        {
            SendHello();
            _nextHello = now + _hello;
        }
    }

    private bool OwnerAlive(ForwarderState f) => f.OwnerMac == Mac || _peers.Values.Any(p => p.Mac == f.OwnerMac && f.OwnerMac != 0);

    private bool BetterThanMe(PeerState p) => p.Priority > Priority || (p.Priority == Priority && p.Ip > Ip);

    private void StepGateway(TimeSpan now)
    {
        bool activeHeard = _peers.Values.Any(p => p.State == GlbpVgState.Active);
        bool standbyHeard = _peers.Values.Any(p => p.State == GlbpVgState.Standby);
        switch (State)
        {
            case GlbpVgState.Listen when now >= _stateUntil && (!activeHeard || !standbyHeard):
                State = GlbpVgState.Speak;
                _stateUntil = now + _hold;
                break;
            case GlbpVgState.Speak when now >= _stateUntil:
                int better = _peers.Values.Count(p => p.State is GlbpVgState.Speak or GlbpVgState.Standby && BetterThanMe(p));
                State = !activeHeard && better == 0 ? GlbpVgState.Active
                    : (activeHeard && better == 0) || (!activeHeard && better == 1) ? GlbpVgState.Standby
                    : GlbpVgState.Listen;
                _stateUntil = now + _hold;
                break;
            case GlbpVgState.Standby when !activeHeard && now >= _stateUntil:
                State = GlbpVgState.Active;
                break;
            case GlbpVgState.Standby when _peers.Values.Any(p => p.State == GlbpVgState.Standby && BetterThanMe(p)):
                State = GlbpVgState.Listen;
                _stateUntil = now + _hold;
                break;
            case GlbpVgState.Active when _peers.Values.Any(p => p.State == GlbpVgState.Active && BetterThanMe(p)):
                State = GlbpVgState.Speak;
                _stateUntil = now + _hold;
                break;
        }
    }

    private void StepForwarders(TimeSpan now)
    {
        foreach (var f in _forwarders.Values.ToList())
        {
            if (f.HolderIp != 0 && now >= f.HolderDeadline)
                f.HolderIp = 0;
            if (OwnerAlive(f))
            {
                f.LostAt = null;
            }
            else
            {
                f.LostAt ??= now;
                if (now >= f.LostAt + _timeout)
                {
                    _forwarders.Remove(f.Number);
                    continue;
                }
            }
            if (f.OwnerMac == Mac)
            {
                if (f.Active)
                    continue;
                if (f.HolderIp == 0)
                {
                    f.Active = now >= _joinedAt + _hold;
                    f.PreemptAt = null;
                }
                else
                {
                    f.PreemptAt ??= now + _preemptDelay;
                    if (now >= f.PreemptAt)
                    {
                        f.Active = true;
                        f.HolderIp = 0;
                        f.PreemptAt = null;
                    }
                }
                continue;
            }
            bool ownerHere = _peers.Values.Any(p => p.Mac == f.OwnerMac && f.OwnerMac != 0);
            if (!f.Active && f.HolderIp == 0 && !ownerHere && now >= f.LearnedAt + _hold && now >= _joinedAt + _hold
                && !_peers.Values.Any(p => p.Mac != f.OwnerMac && p.Ip > Ip))
                f.Active = true;
        }
        if (OwnNumber == 0 && now >= _joinedAt + _hold)
        {
            for (byte n = 1; n <= MaxForwarders; n++)
            {
                if (!_forwarders.ContainsKey(n))
                {
                    OwnNumber = n;
                    _forwarders[n] = new ForwarderState { Number = n, OwnerMac = Mac, LearnedAt = now, Active = true };
                    break;
                }
            }
        }
        else if (OwnNumber != 0 && !_forwarders.ContainsKey(OwnNumber))
        {
            _forwarders[OwnNumber] = new ForwarderState { Number = OwnNumber, OwnerMac = Mac, LearnedAt = now };
        }
    }

    private void SendHello()
    {
        var buffer = new byte[GlbpProtocol.MaxLength];
        var w = new GlbpWriter(buffer, new GlbpHeader(Group, Mac));
        w.WriteHello(new GlbpHello(State, Priority, (uint)_hello.TotalMilliseconds, (uint)_hold.TotalMilliseconds,
            (ushort)_redirect.TotalSeconds, (ushort)_timeout.TotalSeconds, VirtualIp));
        foreach (var f in _forwarders.Values.OrderBy(f => f.Number))
        {
            bool primary = f.OwnerMac == Mac;
            TimeSpan? lost = primary || f.LostAt is null ? null : _now - f.LostAt.Value;
            var (timeout, redirect) = GlbpOwnership.Remaining((ushort)_timeout.TotalSeconds, (ushort)_redirect.TotalSeconds, lost);
            w.WriteForwarder(new GlbpForwarder(f.Number, f.Active ? GlbpVfState.Active : GlbpVfState.Listen,
                primary ? GlbpOwnership.PrimaryPriority : GlbpOwnership.SecondaryPriority, Weight, GlbpVirtualMac.Create(Group, f.Number))
            {
                TimeoutRemaining = timeout,
                RedirectRemaining = redirect,
            });
        }
        Sent.Add(w.Written.ToArray());
    }

    public override string ToString() => $"cisco-{Ip & 0xFF}";

    private sealed class PeerState
    {
        public uint Ip;
        public ulong Mac;
        public GlbpVgState State;
        public byte Priority;
        public TimeSpan Deadline;
    }

    private sealed class ForwarderState
    {
        public byte Number;
        public ulong OwnerMac;
        public bool Active;
        public uint HolderIp;
        public TimeSpan HolderDeadline;
        public TimeSpan LearnedAt;
        public TimeSpan? LostAt;
        public TimeSpan? PreemptAt;

        public bool Redirected(TimeSpan now, TimeSpan redirect) => LostAt is TimeSpan l && now >= l + redirect;
    }
}
