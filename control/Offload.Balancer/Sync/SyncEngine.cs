using System.Text;
using Offload.Balancer.Classification;
using Offload.Balancer.Scheduling;
using Offload.Balancer.Tracking;
using Offload.Device;
using Offload.Protocol.Sync;

namespace Offload.Balancer.Sync;

/// <summary>What the engine did with one received sync message.</summary>
public enum SyncVerdict
{
    /// <summary>A FlowBatch, Withdraw or RequestAll applied (and acknowledged).</summary>
    Accepted,

    /// <summary>An Ack for a message of ours still in flight.</summary>
    Acked,

    /// <summary>Seen before (a resend whose ack was lost, or a replay): acknowledged again, not applied again.</summary>
    Duplicate,

    /// <summary>An Ack for nothing in flight (late, duplicated, or for an earlier boot of ours).</summary>
    StaleAck,

    /// <summary>Refused by the codec (<see cref="SyncEngine.LastError"/> says why), forged ones included.</summary>
    Malformed,

    /// <summary>The sender is not a configured peer.</summary>
    UnknownPeer,

    /// <summary>The sender field differs from the datagram's source address.</summary>
    SenderMismatch,

    /// <summary>From an earlier boot of the sender than one already seen: a replay.</summary>
    StaleBoot,

    /// <summary>Behind the replay window: cannot be told from a replay.</summary>
    TooOld,
}

/// <summary>What session sync did, for metrics and tests.</summary>
public sealed class SyncCounters
{
    private readonly long[] _verdicts = new long[Enum.GetValues<SyncVerdict>().Length];
    private readonly long[] _errors = new long[Enum.GetValues<SyncError>().Length];

    public long MessagesSent { get; internal set; }

    public long Resent { get; internal set; }

    public long AcksSent { get; internal set; }

    /// <summary>Messages given up after <see cref="SyncOptions.MaxRetries"/> resends.</summary>
    public long MessagesDropped { get; internal set; }

    /// <summary>Flow and withdraw records inside the dropped messages.</summary>
    public long RecordsDropped { get; internal set; }

    /// <summary>Changes not queued because a peer's backlog was full.</summary>
    public long BacklogDropped { get; internal set; }

    /// <summary>Transport refusals (host TX queue full); the resend timer covers them.</summary>
    public long TransportBusy { get; internal set; }

    /// <summary>Flow records announced (queued for a peer) from local sessions.</summary>
    public long Announced { get; internal set; }

    /// <summary>Peer flows not stored because the store was full.</summary>
    public long StoreFull { get; internal set; }

    /// <summary>Peer flows installed into this gateway's table (takeover, or for a vMAC we forward).</summary>
    public long Installed { get; internal set; }

    public long InstallFailed { get; internal set; }

    /// <summary>Sessions removed because their vMAC went to another gateway.</summary>
    public long Released { get; internal set; }

    /// <summary>Local sessions a sync record cannot describe (a next hop unknown after a restart).</summary>
    public long Unexpressible { get; internal set; }

    public long Count(SyncVerdict verdict) => _verdicts[(int)verdict];

    public long Count(SyncError error) => _errors[(int)error];

    internal void Note(SyncVerdict verdict) => _verdicts[(int)verdict]++;

    internal void Note(SyncError error) => _errors[(int)error]++;
}

/// <summary>A peer's flow held here in case its vMAC comes to this gateway.</summary>
/// <param name="Origin">The gateway that sent it (our own address for copies parked when a vMAC left us).</param>
public sealed record StoredFlow(SyncFlow Flow, string BackendId, uint Origin, ulong Boot, ulong Sequence);

/// <summary>
/// Session sync between the gateways of a group. Sender: listens to the tracker and announces the sessions a
/// peer could not rebuild on its own (below), batched into authenticated messages with per-peer sequence
/// numbers, resent until acknowledged; withdraws them when they end. Receiver: checks, acknowledges and
/// de-duplicates messages, keeps peer flows by the vMAC their clients use, installs them when that vMAC is taken
/// over here (<see cref="OnVmacTakenOver"/>) and removes them when it leaves (<see cref="OnVmacReleased"/>).
/// </summary>
/// <remarks>
/// <para>Which sessions need sync: NAT sessions always (their reverse entry and client next hop exist nowhere
/// else); sessions of a scheduler other than Maglev; and Maglev sessions whose backend is no longer what the
/// current Maglev table picks for their key (pinned by a pool change; re-checked whenever a service rebuilds).
/// A plain Maglev session needs nothing: every gateway builds the same table for the same pool, and the
/// classifier sends any TCP packet that is not a bare SYN to <c>PickMaglev</c> whatever the scheduler (see
/// Classifier: "midStream"), so the first packet a new owner sees of such a connection misses, is classified
/// mid-stream, and lands on the very backend the old owner used. Routed flows are recomputed from the route table.</para>
/// <para>Not thread-safe: driven from the balancer's loop (<see cref="Poll"/>, <see cref="TryHandleFrame"/>).</para>
/// </remarks>
public sealed class SyncEngine : ISessionListener
{
    private readonly SessionTracker _tracker;
    private readonly ServiceTable _services;
    private readonly ISyncTransport _transport;
    private readonly SyncOptions _options;
    private readonly byte[] _key;
    private readonly Dictionary<uint, PeerState> _peers = [];
    private readonly HashSet<FlowKey> _announced = [];
    private readonly HashSet<MacAddress> _owned = [];
    private readonly Dictionary<SyncFlowKey, StoredFlow> _stored = [];
    private readonly Dictionary<(uint Origin, SyncFlowKey Key), (ulong Boot, ulong Sequence, TimeSpan At)> _tombstones = [];
    private readonly Dictionary<Service, int> _rebuilds = [];
    private readonly byte[] _scratch = new byte[SyncWire.MaxMessage];
    private bool _releasing;

    public SyncEngine(SessionTracker tracker, ServiceTable services, ISyncTransport transport, SyncOptions options)
    {
        _tracker = tracker ?? throw new ArgumentNullException(nameof(tracker));
        _services = services ?? throw new ArgumentNullException(nameof(services));
        _transport = transport ?? throw new ArgumentNullException(nameof(transport));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        if (options.Key.IsEmpty)
            throw new ArgumentException("session sync needs a group key", nameof(options));
        _key = options.Key.ToArray();
        BootId = options.BootId ?? (ulong)(services.Time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks / 10;
        foreach (var p in options.Peers)
        {
            if (p.Ip == options.LocalIp)
                throw new ArgumentException($"peer {Ipv4(p.Ip)} is this gateway's own address", nameof(options));
            _peers[p.Ip] = new PeerState(p.Ip);
        }
        foreach (var s in services.Services)
            _rebuilds[s] = s.Rebuilds;
        tracker.AddListener(this);
        // A restarted control plane rebuilt these from the hardware table (client hops read back with it). Peers
        // may hold them from before the restart even when one cannot be described now, so their end must still
        // be withdrawn; upserts are idempotent.
        foreach (var s in tracker.Sessions)
        {
            if (!_announced.Contains(s.Forward) && NeedsSync(s))
                Announce(s, _peers.Values, heldAnyway: true);
        }
    }

    public ulong BootId { get; }

    public SyncCounters Counters { get; } = new();

    /// <summary>Why the last malformed message was refused.</summary>
    public SyncError LastError { get; private set; }

    /// <summary>Peer flows held for takeover.</summary>
    public IReadOnlyCollection<StoredFlow> Stored => _stored.Values;

    /// <summary>Local sessions announced to the peers and not withdrawn.</summary>
    public int AnnouncedCount => _announced.Count;

    public bool IsAnnounced(in FlowKey key) => _announced.Contains(key);

    /// <summary>Messages of ours not yet acknowledged by <paramref name="peer"/>.</summary>
    public int InFlight(uint peer) => _peers.TryGetValue(peer, out var p) ? p.InFlight.Count : 0;

    /// <summary>Changes waiting for room in <paramref name="peer"/>'s window.</summary>
    public int Backlog(uint peer) => _peers.TryGetValue(peer, out var p) ? p.Pending.Count : 0;

    public IReadOnlyCollection<MacAddress> OwnedVmacs => _owned;

    /// <summary>A vMAC this gateway forwards from the start (no stored flows to install).</summary>
    public void AddOwnedVmac(MacAddress vmac) => _owned.Add(vmac);

    /// <summary>
    /// This gateway now forwards <paramref name="vmac"/> (its data plane filter holds it): every stored flow of
    /// that vMAC (and those whose vMAC the sender could not tell) goes into the table, with the client next hops
    /// acquired here. Returns how many were installed.
    /// </summary>
    public int OnVmacTakenOver(MacAddress vmac)
    {
        _owned.Add(vmac);
        var done = new List<SyncFlowKey>();
        int installed = 0;
        foreach (var (key, stored) in _stored)
        {
            if (stored.Flow.Vmac != vmac.Value && stored.Flow.Vmac != 0)
                continue;
            if (Install(stored))
            {
                installed++;
                done.Add(key);
            }
        }
        // Installed flows are local sessions now: announced onward like any other, so the copy is no longer ours to keep.
        foreach (var k in done)
            _stored.Remove(k);
        return installed;
    }

    /// <summary>
    /// <paramref name="vmac"/> went to another gateway: its sessions leave this table (parked in the store, in case
    /// it comes back) without withdrawing them from the peers, since the connections go on elsewhere.
    /// </summary>
    public int OnVmacReleased(MacAddress vmac)
    {
        _owned.Remove(vmac);
        var leaving = _tracker.Sessions.Where(s => s.Vmac == vmac).ToList();
        _releasing = true;
        try
        {
            foreach (var s in leaving)
            {
                if (TryDescribe(s, out var flow, out string id))
                    _stored[flow.Forward] = new StoredFlow(flow, id, _options.LocalIp, BootId, 0);
                _tracker.Remove(s.Forward);
                Counters.Released++;
            }
        }
        finally
        {
            _releasing = false;
        }
        return leaving.Count;
    }

    /// <summary>Asks every peer for what it holds for us and what it forwards (after losing our state).</summary>
    public void RequestAll()
    {
        foreach (var p in _peers.Values)
            p.WantsRequestAll = true;
        Flush();
    }

    /// <summary>One round: re-checks services that rebuilt, resends what timed out, sends what is queued.</summary>
    public void Poll()
    {
        var now = _services.Now;
        CheckRebuilds();
        foreach (var p in _peers.Values)
        {
            List<ulong>? dead = null;
            foreach (var (seq, m) in p.InFlight)
            {
                if (now < m.Deadline)
                    continue;
                if (m.Tries > _options.MaxRetries)
                {
                    (dead ??= []).Add(seq);
                    continue;
                }
                m.Tries++;
                m.Deadline = now + _options.RetransmitTimeout;
                Counters.Resent++;
                Transmit(p.Ip, m.Bytes.AsSpan(0, m.Length));
            }
            if (dead is not null)
            {
                foreach (ulong seq in dead)
                {
                    p.InFlight.Remove(seq, out var m);
                    Counters.MessagesDropped++;
                    Counters.RecordsDropped += m!.Records;
                }
            }
        }
        if (_tombstones.Count > 0)
        {
            foreach (var (k, t) in _tombstones)
            {
                if (now - t.At >= _options.TombstoneLifetime)
                    _tombstones.Remove(k);
            }
        }
        Flush();
    }

    /// <summary>
    /// Takes a frame from the host queue if it is a sync datagram (UDP to SYNC_PORT); false for anything else, so
    /// the caller can hand it on. Fits <see cref="BalancerLoop.OtherFrames"/>.
    /// </summary>
    public bool TryHandleFrame(in HostFrame meta, ReadOnlySpan<byte> frame)
    {
        // The data plane punts UDP to SYNC_PORT as PROTO; the same datagram under any other reason was not for us.
        if (meta.Reason != HostReason.Protocol || SyncDatagram.TryParse(frame, _options.Port, out var info) != SyncFrameError.None)
            return false;
        Receive(frame.Slice(info.PayloadOffset, info.PayloadLength), info.SourceIp);
        return true;
    }

    /// <summary>Handles one sync message that arrived from <paramref name="sourceIp"/>.</summary>
    public SyncVerdict Receive(ReadOnlySpan<byte> message, uint sourceIp)
    {
        var verdict = ReceiveCore(message, sourceIp);
        Counters.Note(verdict);
        return verdict;
    }

    void ISessionListener.SessionStarted(Session session) => SessionStarted(session);

    void ISessionListener.SessionEnded(Session session, SessionEnd why)
    {
        if (!_announced.Remove(session.Forward) || _releasing)
            return;
        var key = ToSync(session.Forward);
        foreach (var p in _peers.Values)
            Enqueue(p, key, new Pending(true, default, ""));
    }

    private void SessionStarted(Session session)
    {
        if (_announced.Contains(session.Forward) || !NeedsSync(session))
            return;
        Announce(session, _peers.Values);
    }

    private void Announce(Session session, IEnumerable<PeerState> peers, bool heldAnyway = false)
    {
        if (!TryDescribe(session, out var flow, out string id))
        {
            Counters.Unexpressible++;
            if (heldAnyway)
                _announced.Add(session.Forward);
            return;
        }
        _announced.Add(session.Forward);
        foreach (var p in peers)
        {
            Enqueue(p, flow.Forward, new Pending(false, flow, id));
            Counters.Announced++;
        }
    }

    /// <summary>True when a peer taking over could not rebuild this session by classifying its next packet.</summary>
    private static bool NeedsSync(Session s)
    {
        if (s.Reverse is not null)
            return true;
        if (s.Service is not { } service)
            return s.FromPeer;
        // The peer classifies a non-TCP packet, or a retransmitted bare SYN, with the service's own scheduler.
        if (service.Config.Scheduler != SchedulerKind.Maglev && (s.Forward.Protocol != 6 || s.State == SessionState.SynOnly))
            return true;
        if (s.Backend is null)
            return true;
        // TCP mid-stream packets and Maglev services both land on PickMaglev at the peer.
        return !ReferenceEquals(service.PickMaglev(s.Forward), s.Backend);
    }

    private void CheckRebuilds()
    {
        HashSet<Service>? changed = null;
        foreach (var s in _services.Services)
        {
            if (!_rebuilds.TryGetValue(s, out int seen) || seen != s.Rebuilds)
            {
                _rebuilds[s] = s.Rebuilds;
                (changed ??= []).Add(s);
            }
        }
        if (changed is null)
            return;
        foreach (var session in _tracker.Sessions)
        {
            if (session.Service is { } svc && changed.Contains(svc) && !_announced.Contains(session.Forward) && NeedsSync(session))
                Announce(session, _peers.Values);
        }
    }

    private bool TryDescribe(Session s, out SyncFlow flow, out string backendId)
    {
        flow = default;
        backendId = s.Backend?.Id ?? "";
        var flows = _tracker.Flows;
        if (!flows.TryGetIndex(s.Forward, out int fi) || flows.EntryAt(fi) is not { } fwd)
            return false;
        var action = fwd.Action;
        ulong backendMac;
        byte backendPort;
        if (_services.NextHops.Get(action.NextHop) is { } hop)
            (backendMac, backendPort) = (hop.Destination.Value, hop.Port);
        else if (s.Backend is { } b)
            (backendMac, backendPort) = (b.Config.Mac.Value, b.Config.EgressPort);
        else
            return false;
        // A backend still being resolved by ARP (right after a restart) has no MAC to tell: a peer would install a hop
        // to 00:00:00:00:00:00. The flow is told once its next hop is known again.
        if (backendMac == 0)
            return false;
        if (Encoding.UTF8.GetByteCount(backendId) > SyncWire.MaxBackendId)
            backendId = "";
        // The classifier records the vMAC the client addressed; only sessions restored from hardware may lack it.
        ulong vmac = s.Vmac?.Value ?? (_owned.Count == 1 ? _owned.First().Value : 0);
        var flags = (action.TtlDecrement ? SyncFlowFlags.TtlDecrement : 0) | (s.State == SessionState.SynOnly ? SyncFlowFlags.SynOnly : 0);
        flow = new SyncFlow(ToSync(s.Forward), vmac, flags, (byte)action.Nat, action.NatIp, action.NatPort, backendMac, backendPort);
        if (s.Reverse is { } rk)
        {
            if (!flows.TryGetIndex(rk, out int ri) || flows.EntryAt(ri) is not { } rev
                || _services.NextHops.Get(rev.Action.NextHop) is not { } client)
                return false;
            flow = flow with
            {
                Flags = flags | SyncFlowFlags.HasReverse,
                Reverse = ToSync(rk),
                ReverseNatIp = rev.Action.NatIp,
                ReverseNatPort = rev.Action.NatPort,
                ClientMac = client.Destination.Value,
                ClientPort = client.Port,
                Vmac = vmac != 0 ? vmac : client.Source.Value,
            };
        }
        return true;
    }

    private bool Install(StoredFlow stored)
    {
        var f = stored.Flow;
        var key = FromSync(f.Forward);
        _services.TryFind(new ServiceKey(key.DstIp, key.Protocol, key.DstPort), out var service);
        var backend = stored.BackendId.Length > 0 ? service?.Find(stored.BackendId) : null;
        var backendMac = new MacAddress(f.BackendMac);
        byte index = 0;
        NextHop? forwardHop = null;
        if (backendMac == default)
        {
            // Never a hop to 00:00:00:00:00:00 (what an older peer sends for a backend it has not resolved).
            Counters.InstallFailed++;
            return false;
        }
        if (backend is not null && backend.Config.Mac == backendMac && backend.Config.EgressPort == f.BackendPort)
            index = backend.Config.NextHopIndex;
        else if (FindBackendHop(backendMac, f.BackendPort) is { } configured)
            index = configured;
        else
            forwardHop = new NextHop(f.BackendPort, backendMac, _services.PortMac(f.BackendPort));
        var forwardAction = new FlowAction(index, f.TtlDecrement, (NatMode)f.Nat, f.NatIp, f.NatPort);
        FlowKey? reverse = null;
        FlowAction reverseAction = default;
        NextHop? clientHop = null;
        MacAddress? vmac = f.Vmac != 0 ? new MacAddress(f.Vmac) : null;
        if (f.HasReverse)
        {
            reverse = FromSync(f.Reverse);
            reverseAction = new FlowAction(0, f.TtlDecrement, NatMode.Source, f.ReverseNatIp, f.ReverseNatPort);
            // Replies must come from the MAC the client uses as its gateway, which is the vMAC we now forward.
            clientHop = new NextHop(f.ClientPort, new MacAddress(f.ClientMac), vmac ?? _services.PortMac(f.ClientPort));
        }
        var session = _tracker.InstallFromPeer(service, backend, key, forwardAction, forwardHop, reverse, reverseAction, clientHop, vmac, f.SynOnly);
        if (session is null)
        {
            Counters.InstallFailed++;
            return false;
        }
        Counters.Installed++;
        return true;
    }

    private byte? FindBackendHop(MacAddress mac, byte port)
    {
        foreach (var s in _services.Services)
        {
            foreach (var b in s.Backends)
            {
                if (b.Config.Mac == mac && b.Config.EgressPort == port)
                    return b.Config.NextHopIndex;
            }
        }
        return null;
    }

    private SyncVerdict ReceiveCore(ReadOnlySpan<byte> message, uint sourceIp)
    {
        var error = SyncMessage.TryDecode(message, _key, out var header);
        if (error != SyncError.None)
        {
            LastError = error;
            Counters.Note(error);
            return SyncVerdict.Malformed;
        }
        if (!_peers.TryGetValue(header.Sender, out var peer))
            return SyncVerdict.UnknownPeer;
        if (header.Sender != sourceIp)
            return SyncVerdict.SenderMismatch;
        if (header.Type == SyncMessageType.Ack)
            return header.Boot == BootId && peer.InFlight.Remove(header.Sequence) ? SyncVerdict.Acked : SyncVerdict.StaleAck;

        if (header.Boot < peer.RxBoot)
            return SyncVerdict.StaleBoot;
        if (header.Boot > peer.RxBoot)
        {
            peer.RxBoot = header.Boot;
            peer.RxHighest = 0;
            peer.RxSeen.Clear();
        }
        if (peer.RxHighest >= (ulong)_options.ReplayWindow && header.Sequence <= peer.RxHighest - (ulong)_options.ReplayWindow)
            return SyncVerdict.TooOld;
        if (!peer.RxSeen.Add(header.Sequence))
        {
            SendAck(peer.Ip, header);
            return SyncVerdict.Duplicate;
        }
        if (header.Sequence > peer.RxHighest)
        {
            peer.RxHighest = header.Sequence;
            if (peer.RxSeen.Count > 2 * _options.ReplayWindow && peer.RxHighest >= (ulong)_options.ReplayWindow)
                peer.RxSeen.RemoveWhere(s => s <= peer.RxHighest - (ulong)_options.ReplayWindow);
        }

        switch (header.Type)
        {
            case SyncMessageType.FlowBatch:
                ApplyBatch(message, header);
                break;
            case SyncMessageType.Withdraw:
                ApplyWithdraw(message, header);
                break;
            case SyncMessageType.RequestAll:
                AnswerRequestAll(peer);
                break;
            default:
                break;
        }
        SendAck(peer.Ip, header);
        return SyncVerdict.Accepted;
    }

    private void ApplyBatch(ReadOnlySpan<byte> message, in SyncHeader header)
    {
        var reader = new SyncRecordReader(message, header);
        while (reader.TryReadFlow(out var flow, out var idBytes))
        {
            if (_tombstones.TryGetValue((header.Sender, flow.Forward), out var t) && !Newer(header.Boot, header.Sequence, t.Boot, t.Sequence))
                continue;
            if (_stored.TryGetValue(flow.Forward, out var old) && old.Origin == header.Sender
                && !Newer(header.Boot, header.Sequence, old.Boot, old.Sequence))
                continue;
            if (old is null && _stored.Count >= _options.MaxStoredFlows)
            {
                Counters.StoreFull++;
                continue;
            }
            var stored = new StoredFlow(flow, Encoding.UTF8.GetString(idBytes), header.Sender, header.Boot, header.Sequence);
            var key = FromSync(flow.Forward);
            if (_owned.Contains(new MacAddress(flow.Vmac)))
            {
                // We forward it already (our own flow echoed back after a control-plane restart): nothing to hold,
                // but the restart forgot whose flow it is, and the echo says.
                if (_tracker.TryGet(key, out var existing))
                {
                    existing.Vmac ??= new MacAddress(flow.Vmac);
                    _stored.Remove(flow.Forward);
                    continue;
                }
                // Ours to forward (a restart that lost the table, or a vMAC we already took over): straight in.
                if (Install(stored))
                {
                    _stored.Remove(flow.Forward);
                    continue;
                }
            }
            _stored[flow.Forward] = stored;
        }
    }

    private void ApplyWithdraw(ReadOnlySpan<byte> message, in SyncHeader header)
    {
        var reader = new SyncRecordReader(message, header);
        var now = _services.Now;
        while (reader.TryReadWithdraw(out var key))
        {
            if (_stored.TryGetValue(key, out var old) && (old.Origin == _options.LocalIp
                || (old.Origin == header.Sender && Newer(header.Boot, header.Sequence, old.Boot, old.Sequence))))
                _stored.Remove(key);
            _tombstones[(header.Sender, key)] = (header.Boot, header.Sequence, now);
        }
    }

    private void AnswerRequestAll(PeerState peer)
    {
        // Its own flows we hold for it, then every session of ours it should hold for us.
        foreach (var s in _stored.Values)
        {
            if (s.Origin == peer.Ip)
                Enqueue(peer, s.Flow.Forward, new Pending(false, s.Flow, s.BackendId));
        }
        foreach (var session in _tracker.Sessions)
        {
            if (_announced.Contains(session.Forward) && TryDescribe(session, out var flow, out string id))
                Enqueue(peer, flow.Forward, new Pending(false, flow, id));
        }
    }

    private static bool Newer(ulong boot, ulong seq, ulong thanBoot, ulong thanSeq) =>
        boot > thanBoot || (boot == thanBoot && seq > thanSeq);

    private void Enqueue(PeerState p, SyncFlowKey key, Pending op)
    {
        if (p.Pending.ContainsKey(key))
        {
            p.Pending[key] = op;
            return;
        }
        if (p.Pending.Count >= _options.MaxBacklog)
        {
            Counters.BacklogDropped++;
            return;
        }
        p.Pending[key] = op;
        p.Order.Enqueue(key);
    }

    private void Flush()
    {
        foreach (var p in _peers.Values)
        {
            while (p.InFlight.Count < _options.MaxInFlight && (p.WantsRequestAll || p.Pending.Count > 0))
                SendNext(p);
        }
    }

    private void SendNext(PeerState p)
    {
        var writer = new SyncMessageWriter(_scratch);
        ulong seq = p.NextSequence++;
        if (p.WantsRequestAll)
        {
            p.WantsRequestAll = false;
            writer.Begin(SyncMessageType.RequestAll, _options.LocalIp, BootId, seq);
        }
        else
        {
            bool? withdraw = null;
            while (p.Order.TryPeek(out var key))
            {
                if (!p.Pending.TryGetValue(key, out var op))
                {
                    p.Order.Dequeue();
                    continue;
                }
                if (withdraw is null)
                {
                    withdraw = op.Withdraw;
                    writer.Begin(op.Withdraw ? SyncMessageType.Withdraw : SyncMessageType.FlowBatch, _options.LocalIp, BootId, seq);
                }
                else if (withdraw != op.Withdraw)
                {
                    break;
                }
                bool added = op.Withdraw ? writer.TryAddWithdraw(key) : writer.TryAddFlow(op.Flow, op.BackendId);
                if (!added)
                    break;
                p.Order.Dequeue();
                p.Pending.Remove(key);
            }
            if (withdraw is null)
            {
                p.NextSequence--;
                return;
            }
        }
        int length = writer.Finish(_key);
        var m = new InFlightMessage(_scratch.AsSpan(0, length).ToArray(), length, writer.Count, _services.Now + _options.RetransmitTimeout);
        p.InFlight[seq] = m;
        Counters.MessagesSent++;
        Transmit(p.Ip, m.Bytes);
    }

    private void SendAck(uint peer, in SyncHeader acked)
    {
        Span<byte> buffer = stackalloc byte[SyncWire.HeaderLength + SyncWire.TagLength];
        var writer = new SyncMessageWriter(buffer);
        writer.Begin(SyncMessageType.Ack, _options.LocalIp, acked.Boot, acked.Sequence);
        int n = writer.Finish(_key);
        Counters.AcksSent++;
        Transmit(peer, buffer[..n]);
    }

    private void Transmit(uint peer, ReadOnlySpan<byte> message)
    {
        if (!_transport.Send(peer, message))
            Counters.TransportBusy++;
    }

    private static SyncFlowKey ToSync(in FlowKey k) => new(k.InPort, k.SrcIp, k.DstIp, k.Protocol, k.SrcPort, k.DstPort);

    private static FlowKey FromSync(in SyncFlowKey k) => new(k.InPort, k.SrcIp, k.DstIp, k.Protocol, k.SrcPort, k.DstPort);

    private static string Ipv4(uint a) => Protocol.Ipv4Address.Format(a);

    private readonly record struct Pending(bool Withdraw, SyncFlow Flow, string BackendId);

    private sealed class InFlightMessage(byte[] bytes, int length, int records, TimeSpan deadline)
    {
        public byte[] Bytes { get; } = bytes;

        public int Length { get; } = length;

        public int Records { get; } = records;

        public TimeSpan Deadline { get; set; } = deadline;

        public int Tries { get; set; } = 1;
    }

    private sealed class PeerState(uint ip)
    {
        public uint Ip { get; } = ip;

        public ulong NextSequence { get; set; } = 1;

        public bool WantsRequestAll { get; set; }

        public Dictionary<SyncFlowKey, Pending> Pending { get; } = [];

        public Queue<SyncFlowKey> Order { get; } = new();

        public SortedDictionary<ulong, InFlightMessage> InFlight { get; } = [];

        public ulong RxBoot { get; set; }

        public ulong RxHighest { get; set; }

        public HashSet<ulong> RxSeen { get; } = [];
    }
}
