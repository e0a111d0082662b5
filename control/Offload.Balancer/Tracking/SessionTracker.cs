using Offload.Balancer.Classification;
using Offload.Device;

namespace Offload.Balancer.Tracking;

/// <summary>Counts of what the tracker did, for metrics and tests.</summary>
public sealed class TrackerCounters
{
    public long Installed { get; internal set; }

    public long InstallFailed { get; internal set; }

    public long Restored { get; internal set; }

    /// <summary>Hardware entries found at start-up that belong to no configured service (left alone).</summary>
    public long Foreign { get; internal set; }

    /// <summary>NAT return entries found at start-up without their forward entry (removed).</summary>
    public long OrphanReverse { get; internal set; }

    public long FinRstEvents { get; internal set; }

    /// <summary>FIN/RST events whose entry had already gone or moved.</summary>
    public long StaleEvents { get; internal set; }

    public long EndedIdle { get; internal set; }

    public long EndedFinRst { get; internal set; }

    public long EndedDrained { get; internal set; }
}

/// <summary>
/// Shadow of the installed flows: installs on classify, removes after FIN/RST (with a linger), on idle
/// timeouts and when a draining backend's deadline passes. Idle time is measured on the injected clock from
/// the moment an entry's LAST_SEEN was last seen to change, so the tracker never needs to map the data
/// plane's cycle counter onto wall time.
/// </summary>
/// <remarks>
/// A new tracker over a table that holds entries (a control-plane restart) rebuilds its sessions from them:
/// forward entries are matched to services by destination (NAT and DSR), NAT return entries to services by
/// their source-NAT address and paired with their forward entry. Not thread-safe; driven from one loop.
/// </remarks>
public sealed class SessionTracker
{
    private readonly FlowTableManager _flows;
    private readonly ServiceTable _services;
    private readonly Dictionary<FlowKey, Session> _byKey = [];
    private readonly List<Session> _sessions = [];
    private readonly List<Session> _closing = [];
    private readonly List<Session> _ending = [];
    private readonly List<ISessionListener> _listeners = [];
    private TimeSpan _lastSweep;

    public SessionTracker(FlowTableManager flows, ServiceTable services, TrackerOptions? options = null)
    {
        _flows = flows ?? throw new ArgumentNullException(nameof(flows));
        _services = services ?? throw new ArgumentNullException(nameof(services));
        Options = options ?? new TrackerOptions();
        _lastSweep = services.Now;
        if (flows.Count > 0)
            RebuildFromTable();
    }

    public TrackerOptions Options { get; }

    public TrackerCounters Counters { get; } = new();

    public FlowTableManager Flows => _flows;

    public int Count => _sessions.Count;

    public IReadOnlyList<Session> Sessions => _sessions;

    /// <summary>The session owning <paramref name="key"/> as its forward or its reverse entry.</summary>
    public bool TryGet(in FlowKey key, out Session session) => _byKey.TryGetValue(key, out session!);

    /// <summary>
    /// Installs a new connection (the reverse entry first, so the forward entry never exists without its return
    /// path) and starts tracking it. Returns null when the table has no room; nothing is left installed then.
    /// </summary>
    public Session? Install(Service service, BackendState backend, in FlowKey forward, in FlowAction forwardAction,
        in FlowKey? reverse, in FlowAction reverseAction, bool synOnly, int reverseNextHop = -1, MacAddress? vmac = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(backend);
        if (reverse is { } rk && !_flows.TryInsert(rk, reverseAction, out _))
        {
            Counters.InstallFailed++;
            return null;
        }
        if (!_flows.TryInsert(forward, forwardAction, out int index))
        {
            if (reverse is { } rk2)
                _flows.Remove(rk2);
            Counters.InstallFailed++;
            return null;
        }
        var now = _services.Now;
        var session = new Session(service, backend, forward, now)
        {
            Reverse = reverse,
            State = synOnly ? SessionState.SynOnly : SessionState.Established,
            ReverseNextHop = reverseNextHop,
            Vmac = vmac,
            // Baseline for change detection: the write itself set LAST_SEEN.
            ForwardSeen = _flows.ReadLastSeen(index),
        };
        if (reverse is { } rk3)
            session.ReverseSeen = _flows.ReadLastSeen(rk3) ?? 0;
        Track(session);
        service.NoteOpened(backend);
        Counters.Installed++;
        return session;
    }

    /// <summary>
    /// Installs a routed flow (traffic for no service, next hop from the route table): one forward entry, no service
    /// or backend, aged and ended like any other session. Returns null when the table has no room.
    /// </summary>
    public Session? InstallRouted(in FlowKey key, in FlowAction action, bool synOnly)
    {
        if (!_flows.TryInsert(key, action, out int index))
        {
            Counters.InstallFailed++;
            return null;
        }
        var session = new Session(null, null, key, _services.Now)
        {
            State = synOnly ? SessionState.SynOnly : SessionState.Established,
            ForwardSeen = _flows.ReadLastSeen(index),
        };
        Track(session);
        Counters.Installed++;
        return session;
    }

    /// <summary>A FIN_RST event from the host queue: the session closes after the linger.</summary>
    public void OnFinRst(in HostFrame evt)
    {
        Counters.FinRstEvents++;
        // Index to key through the shadow: entries move (cuckoo), so the index alone could name another flow.
        if (_flows.EntryAt(evt.FlowIndex) is not { } entry || !_byKey.TryGetValue(entry.Key, out var session))
        {
            Counters.StaleEvents++;
            return;
        }
        bool rst = (evt.TcpFlags & 0x04) != 0;
        var closeAt = _services.Now + (rst ? Options.RstLinger : Options.FinLinger);
        if (session.State == SessionState.Closing)
        {
            if (closeAt < session.CloseAt)
                session.CloseAt = closeAt;
            return;
        }
        session.State = SessionState.Closing;
        session.CloseAt = closeAt;
        _closing.Add(session);
    }

    /// <summary>
    /// Ends lingering sessions whose time has come (every call) and, once per sweep interval, reads LAST_SEEN of
    /// every entry to age idle sessions and cuts flows of backends whose drain deadline passed.
    /// </summary>
    public void Age()
    {
        var now = _services.Now;
        for (int i = _closing.Count - 1; i >= 0; i--)
        {
            var s = _closing[i];
            if (now >= s.CloseAt)
            {
                _closing.RemoveAt(i);
                End(s, SessionEnd.FinRst);
            }
        }
        if (now - _lastSweep < Options.SweepInterval)
            return;
        _lastSweep = now;

        _ending.Clear();
        foreach (var s in _sessions)
        {
            if (s.State == SessionState.Closing)
                continue;
            if (s.Backend is { Draining: true } b && now >= b.DrainDeadline)
            {
                _ending.Add(s);
                continue;
            }
            bool active = false;
            uint seen = _flows.ReadLastSeen(s.Forward) ?? s.ForwardSeen;
            if (seen != s.ForwardSeen)
            {
                s.ForwardSeen = seen;
                active = true;
            }
            if (s.Reverse is { } rk)
            {
                uint rseen = _flows.ReadLastSeen(rk) ?? s.ReverseSeen;
                if (rseen != s.ReverseSeen)
                {
                    s.ReverseSeen = rseen;
                    active = true;
                }
            }
            if (active)
            {
                s.LastActivity = now;
                if (s.State == SessionState.SynOnly)
                    s.State = SessionState.Established;
            }
            else if (now - s.LastActivity >= Timeout(s))
            {
                _ending.Add(s);
            }
        }
        foreach (var s in _ending)
            End(s, s.Backend is { Draining: true } b && now >= b.DrainDeadline ? SessionEnd.Drained : SessionEnd.Idle);
        _ending.Clear();
        _services.FinishDrains(now);
    }

    /// <summary>Removes every session on <paramref name="backend"/> and their entries now; returns how many.</summary>
    public int RemoveSessionsOf(BackendState backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        _ending.Clear();
        foreach (var s in _sessions)
        {
            if (ReferenceEquals(s.Backend, backend))
                _ending.Add(s);
        }
        foreach (var s in _ending)
        {
            if (s.State == SessionState.Closing)
                _closing.Remove(s);
            End(s, SessionEnd.Removed);
        }
        int n = _ending.Count;
        _ending.Clear();
        return n;
    }

    /// <summary>Removes a session and its entries now.</summary>
    public bool Remove(in FlowKey key)
    {
        if (!_byKey.TryGetValue(key, out var s))
            return false;
        if (s.State == SessionState.Closing)
            _closing.Remove(s);
        End(s, SessionEnd.Removed);
        return true;
    }

    /// <summary>Adds a listener told about every session started and ended from now on.</summary>
    public void AddListener(ISessionListener listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        _listeners.Add(listener);
    }

    public bool RemoveListener(ISessionListener listener) => _listeners.Remove(listener);

    /// <summary>
    /// Installs a connection a peer gateway classified (session sync, on a vMAC takeover or a restart): the forward
    /// entry toward <paramref name="forwardHop"/> (a configured backend's index, or a dynamic hop acquired here when
    /// this gateway does not know the backend), and for NAT the reverse entry toward the client through a client
    /// next hop acquired here (indices differ between gateways). <paramref name="service"/> and
    /// <paramref name="backend"/> may be null when this gateway does not configure them (the session is then
    /// tracked like one restored from hardware). An existing session with this key is returned as it is.
    /// </summary>
    /// <returns>The session, or null when the table or the dynamic next hops are full (nothing is left installed).</returns>
    public Session? InstallFromPeer(Service? service, BackendState? backend, in FlowKey forward, in FlowAction forwardAction,
        NextHop? forwardHop, in FlowKey? reverse, in FlowAction reverseAction, NextHop? clientHop, MacAddress? vmac, bool synOnly)
    {
        if (_byKey.TryGetValue(forward, out var existing))
            return existing;
        if (_flows.Contains(forward) || (reverse is { } taken && _flows.Contains(taken)))
        {
            // An entry nobody tracks (foreign): never overwrite what we cannot explain.
            Counters.InstallFailed++;
            return null;
        }
        var nextHops = _services.NextHops;
        int fwdHop = -1, revHop = -1;
        var fwdAction = forwardAction;
        var revAction = reverseAction;
        if (forwardHop is { } fh)
        {
            fwdHop = nextHops.Acquire(fh);
            fwdAction = fwdAction with { NextHop = (byte)fwdHop };
        }
        if (reverse is not null && clientHop is { } ch)
        {
            revHop = nextHops.Acquire(ch);
            revAction = revAction with { NextHop = (byte)revHop };
        }
        bool ok = (forwardHop is null || fwdHop >= 0) && (reverse is null || clientHop is null || revHop >= 0);
        if (ok && reverse is { } rk && !_flows.TryInsert(rk, revAction, out _))
            ok = false;
        int index = -1;
        if (ok && !_flows.TryInsert(forward, fwdAction, out index))
        {
            if (reverse is { } rk2)
                _flows.Remove(rk2);
            ok = false;
        }
        if (!ok)
        {
            if (fwdHop >= 0)
                nextHops.Release(fwdHop);
            if (revHop >= 0)
                nextHops.Release(revHop);
            Counters.InstallFailed++;
            return null;
        }
        var session = new Session(service, backend, forward, _services.Now)
        {
            Reverse = reverse,
            State = synOnly ? SessionState.SynOnly : SessionState.Established,
            ReverseNextHop = revHop,
            ForwardNextHop = fwdHop,
            Vmac = vmac,
            FromPeer = true,
            ForwardSeen = _flows.ReadLastSeen(index),
        };
        if (reverse is { } rk3)
            session.ReverseSeen = _flows.ReadLastSeen(rk3) ?? 0;
        Track(session);
        if (backend is not null)
            service?.NoteOpened(backend);
        Counters.Installed++;
        return session;
    }

    /// <summary>The idle timeout that applies to <paramref name="session"/> in its current state.</summary>
    public TimeSpan Timeout(Session session)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.State == SessionState.SynOnly)
            return Options.SynTimeout;
        return session.Forward.Protocol switch
        {
            6 => Options.TcpEstablishedTimeout,
            17 => Options.UdpTimeout,
            _ => Options.OtherTimeout,
        };
    }

    private void Track(Session s)
    {
        s.Slot = _sessions.Count;
        _sessions.Add(s);
        _byKey[s.Forward] = s;
        if (s.Reverse is { } rk)
            _byKey[rk] = s;
        // The way back leaves from the MAC the client addressed: that is whose flow it is.
        if (s.Vmac is null && s.ReverseNextHop >= 0)
            s.Vmac = _services.NextHops.Get(s.ReverseNextHop)?.Source;
        foreach (var l in _listeners)
            l.SessionStarted(s);
    }

    private void End(Session s, SessionEnd why)
    {
        foreach (var l in _listeners)
            l.SessionEnded(s, why);
        if (s.ForwardNextHop >= 0)
            _services.NextHops.Release(s.ForwardNextHop);
        _flows.Remove(s.Forward);
        _byKey.Remove(s.Forward);
        if (s.Reverse is { } rk)
        {
            _flows.Remove(rk);
            _byKey.Remove(rk);
        }
        if (s.ReverseNextHop >= 0)
            _services.NextHops.Release(s.ReverseNextHop);
        int last = _sessions.Count - 1;
        _sessions[s.Slot] = _sessions[last];
        _sessions[s.Slot].Slot = s.Slot;
        _sessions.RemoveAt(last);
        s.Slot = -1;
        if (s.Backend is { } b)
            s.Service?.NoteClosed(b);
        switch (why)
        {
            case SessionEnd.Idle:
                Counters.EndedIdle++;
                break;
            case SessionEnd.FinRst:
                Counters.EndedFinRst++;
                break;
            case SessionEnd.Drained:
                Counters.EndedDrained++;
                break;
            default:
                break;
        }
    }

    // Restart: every entry this gateway's services explain becomes an established session (we cannot know
    // better, and the long timeout is the safe side); entries nobody explains are left as they are.
    private void RebuildFromTable()
    {
        var now = _services.Now;
        var reverses = new List<(int Index, FlowKey Key, FlowAction Action)>();
        foreach (var (index, key, action) in _flows.Entries.ToList())
        {
            if (action.Nat == NatMode.Source)
            {
                reverses.Add((index, key, action));
                continue;
            }
            if (!_services.TryFind(new ServiceKey(key.DstIp, key.Protocol, key.DstPort), out var service))
            {
                // A routed flow: its route still leads to the next hop it names, so it ages like the ones we install.
                if (action.Nat == NatMode.None && _services.Routes.TryLookup(key.DstIp, out var route) && route.NextHopIndex == action.NextHop)
                {
                    Track(new Session(null, null, key, now) { State = SessionState.Established, ForwardSeen = _flows.ReadLastSeen(index) });
                    Counters.Restored++;
                    continue;
                }
                Counters.Foreign++;
                continue;
            }
            BackendState? backend = action.Nat == NatMode.Destination
                ? service.FindByTarget(action.NatIp, action.NatPort)
                : service.FindByNextHop(action.NextHop);
            var s = new Session(service, backend, key, now) { State = SessionState.Established, ForwardSeen = _flows.ReadLastSeen(index) };
            Track(s);
            if (backend is not null)
                service.NoteOpened(backend);
            Counters.Restored++;
        }
        foreach (var (index, key, action) in reverses)
        {
            // Return entry {backend -> client} SNATs to the VIP; its forward entry is {client -> VIP:port}.
            ushort servicePort = action.NatPort != 0 ? action.NatPort : key.SrcPort;
            Session? owner = null;
            for (byte port = 0; port < 2 && owner is null; port++)
            {
                var forward = new FlowKey(port, key.DstIp, action.NatIp, key.Protocol, key.DstPort, servicePort);
                if (_byKey.TryGetValue(forward, out var s) && s.Reverse is null)
                    owner = s;
            }
            if (owner is null)
            {
                _flows.Remove(key);
                Counters.OrphanReverse++;
                continue;
            }
            owner.Reverse = key;
            owner.ReverseSeen = _flows.ReadLastSeen(index);
            _byKey[key] = owner;
            _services.NextHops.MarkUsed(action.NextHop);
            owner.ReverseNextHop = _services.NextHops.IsDynamic(action.NextHop) ? action.NextHop : -1;
            // The return hop (read back from the hardware) leaves from the vMAC the client addressed.
            if (owner.ReverseNextHop >= 0)
                owner.Vmac ??= _services.NextHops.Get(owner.ReverseNextHop)?.Source;
        }
    }
}
