using System.Globalization;
using Offload.Group;

namespace Offload.Testing.Simulation;

/// <summary>One broken invariant: when it was seen, which one, and what exactly was wrong.</summary>
public sealed record InvariantViolation(TimeSpan At, string Invariant, string Detail)
{
    public override string ToString() => $"{At.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)} s {Invariant}: {Detail}";
}

/// <summary>
/// Checks one group's invariants (issue 4) after every step of a <see cref="SegmentSimulator"/>.
/// <para>Terms. H = the longest hold time and h = the longest hello time among the group's members. Links may
/// delay a message by at most h (checked), so "hold + one hello" bounds a takeover: the last hello of a member
/// that crashes at t left at most at t and arrived at most at t + h; its peers expire it, and the best one takes
/// over, at most H later.</para>
/// <para>A <b>disturbance</b> is either an <i>event</i> (a member joins, crashes, restarts, changes priority,
/// preemption or weighting, tracks an object or sees one change; <see cref="SegmentEvent.MovesForwarders"/> marks
/// the failures and joins that may change which member forwards a vMAC, the "forwarder events" below) or an
/// <i>interval</i>: an explicit partition, or an <b>outage</b> = two powered members on the same side with no
/// message from one delivered to the other for at least the sender's hold time. Loss that long is, to the
/// receiver, the same as the sender's death; the protocol cannot do better than treat it as one. (Only delivery
/// counts: a message delivered but rejected, say for a bad key, is a misconfiguration the invariants must catch,
/// not an outage.)</para>
/// <para>The group has <b>converged</b> when no interval is in force and the last disturbance ended at least
/// 2H + h ago (H in Listen, H in Speak, then one hello to spread the result).</para>
/// <para>Invariants:</para>
/// <list type="number">
/// <item><see cref="AtMostOneActive"/>: two or more Actives may coexist while an interval is in force and for H
/// after it ends (they hear each other's next hello and the worse steps down), and otherwise only for H at a
/// time: a preempting member goes Active before the old Active has heard it, and its claim repeats every hello,
/// so an overlap of a hold time means an outage.</item>
/// <item><see cref="AnActiveExists"/>: once converged, a group with a powered member has an Active.</item>
/// <item><see cref="VmacForwardedOnce"/>: with exactly one Active and no interval in force or ended within
/// H + h, every forwarder in the Active's table is in the vMAC filter of exactly one powered member, and no
/// powered member forwards a vMAC of the group the table lacks. Nobody forwarding is allowed only within H + h
/// of a forwarder event or of the forwarder entering the table (its owner claims it after listening for a hold
/// time), or while no powered member is willing to forward (all below their lower threshold). Two forwarding
/// (or a stray) is allowed for H at a time: a handover, where the old holder yields when it hears the new
/// claim.</item>
/// <item><see cref="HostReachesForwarder"/>: a host that resolved the virtual IP (from any Active's responder,
/// emulated as the hardware does it) has its vMAC in some powered member's filter, except within H + h of a
/// forwarder event, a partition or a heal, or while no powered member is willing to forward. A host whose vMAC
/// came from before a moment when every member was down (the last one rebooting, say) is exempt until it asks
/// again: nobody is left who knows that forwarder. Checked during outages, not during partitions: a partition
/// splits the hosts too, and a side whose members cannot forward cannot serve its hosts whatever the protocol
/// does, while the other side does not even know the forwarders that side assigned.</item>
/// </list>
/// </summary>
public sealed class InvariantChecker : IDisposable
{
    public const string AtMostOneActive = "at-most-one-active";
    public const string AnActiveExists = "an-active-exists";
    public const string VmacForwardedOnce = "vmac-forwarded-once";
    public const string HostReachesForwarder = "host-reaches-forwarder";

    private const int MaxKept = 100;
    private const long Never = long.MinValue / 4;

    private readonly SegmentSimulator _sim;
    private readonly ushort _group;
    private readonly List<InvariantViolation> _violations = [];
    private readonly Dictionary<(ulong Vmac, ulong Owner), long> _firstSeen = [];
    private readonly Conditions<int> _multiActive = new();
    private readonly Conditions<int> _noActive = new();
    private readonly Conditions<ulong> _unforwarded = new();
    private readonly Conditions<ulong> _duplicated = new();
    private readonly Conditions<ulong> _stray = new();
    private readonly Conditions<int> _hostOut = new();
    private readonly List<SimMember> _live = [];
    private readonly HashSet<ulong> _tableVmacs = [];
    private readonly HashSet<ulong> _forwarded = [];
    private long _lastNow;
    private int _historyCursor;
    private long _lastEvent = Never;
    private long _lastMove = Never;
    private long _lastIntervalEnd = Never;
    private long _lastAllDown = Never;
    private bool _disposed;

    public InvariantChecker(SegmentSimulator sim, ushort group = 1)
    {
        _sim = sim ?? throw new ArgumentNullException(nameof(sim));
        _group = group;
        sim.Stepped += Check;
    }

    /// <summary>The first violations seen (up to 100); <see cref="ViolationCount"/> counts them all.</summary>
    public IReadOnlyList<InvariantViolation> Violations => _violations;

    public int ViolationCount { get; private set; }
    public long Checks { get; private set; }

    /// <summary>Most Actives seen at once.</summary>
    public int MaxActives { get; private set; }

    /// <summary>Longest stretch with two or more Actives (partitions included).</summary>
    public TimeSpan LongestMultipleActives => _multiActive.LongestAt(_lastNow);

    /// <summary>Longest stretch without an Active while a member was powered.</summary>
    public TimeSpan LongestWithoutActive => _noActive.LongestAt(_lastNow);

    /// <summary>Longest stretch a forwarder in the Active's table was forwarded by nobody (measured with one Active).</summary>
    public TimeSpan LongestUnforwarded => _unforwarded.LongestAt(_lastNow);

    /// <summary>Longest stretch a vMAC was forwarded by two members at once (measured with one Active).</summary>
    public TimeSpan LongestDuplicated => _duplicated.LongestAt(_lastNow);

    /// <summary>Longest stretch any host's vMAC was forwarded by no powered member.</summary>
    public TimeSpan LongestHostOutage => _hostOut.LongestAt(_lastNow);

    /// <summary>Steps at which an outage (a hold time without delivery between two members) was in force.</summary>
    public long OutageSteps { get; private set; }

    public TimeSpan Hold { get; private set; }
    public TimeSpan Hello { get; private set; }

    /// <summary>Hold + one hello: the bound on every takeover.</summary>
    public TimeSpan TakeoverBound => Hold + Hello;

    public string Report() => ViolationCount == 0
        ? $"no violations in {Checks} checks"
        : $"{ViolationCount} violations in {Checks} checks; first: " + string.Join("; ", _violations.Take(5));

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _sim.Stepped -= Check;
    }

    /// <summary>Checks every invariant at the simulator's current time.</summary>
    public void Check()
    {
        Checks++;
        long now = _sim.Now.Ticks;
        _lastNow = now;
        ReadHistory();

        var members = _sim.MembersOf(_group);
        _live.Clear();
        long hold = 0, hello = 0;
        foreach (var m in members)
        {
            hold = Math.Max(hold, m.Options.HoldTime.Ticks);
            hello = Math.Max(hello, m.Options.HelloTime.Ticks);
            if (m.Up)
                _live.Add(m);
        }
        Hold = TimeSpan.FromTicks(hold);
        Hello = TimeSpan.FromTicks(hello);
        if (_live.Count == 0)
        {
            // The whole group is down: whatever it assigned is forgotten, so a fresh start owes nothing to the
            // forwarders, or the hosts' cached vMACs, of the group that was.
            _lastAllDown = now;
            _firstSeen.Clear();
            return;
        }
        if (_sim.MaxDelay.Ticks > hello)
            throw new InvalidOperationException($"links delay up to {_sim.MaxDelay}, longer than the hello time {Hello}: the windows assume delivery within one hello");

        bool interval = _sim.Partitioned || Outage(now);
        if (interval)
            _lastIntervalEnd = now;
        long sinceInterval = now - _lastIntervalEnd;
        long quiet = now - Math.Max(_lastEvent, _lastIntervalEnd);

        // 1 and 2: the AVG.
        int actives = 0;
        SimMember? active = null;
        foreach (var m in _live)
        {
            if (m.State == GatewayState.Active)
            {
                actives++;
                active = m;
            }
        }
        MaxActives = Math.Max(MaxActives, actives);

        _multiActive.Begin();
        if (actives >= 2)
        {
            var c = _multiActive.Hold(0, now);
            if (!interval && sinceInterval > hold && now - c.Since > hold)
                Violate(c, AtMostOneActive, $"{actives} Actives ({Names(GatewayState.Active)}) for {Ms(now - c.Since)}, last partition/outage ended {Ms(sinceInterval)} ago");
        }
        _multiActive.End(now);

        _noActive.Begin();
        if (actives == 0)
        {
            var c = _noActive.Hold(0, now);
            if (!interval && quiet > (2 * hold) + hello)
                Violate(c, AnActiveExists, $"no Active for {Ms(now - c.Since)} with {_live.Count} members powered, {Ms(quiet)} after the last disturbance");
        }
        _noActive.End(now);

        // 3: every assigned vMAC forwarded by exactly one member.
        if (actives == 1)
            CheckVmacs(active!, now, hold, hello, checking: !interval && sinceInterval > hold + hello);

        // 4: hosts reach a forwarder.
        if (!_sim.Partitioned)
            CheckHosts(now, hold, hello);
    }

    private void CheckVmacs(SimMember active, long now, long hold, long hello, bool checking)
    {
        _tableVmacs.Clear();
        _unforwarded.Begin();
        _duplicated.Begin();
        _stray.Begin();
        foreach (var f in active.Group.Snapshot().Forwarders)
        {
            _tableVmacs.Add(f.Vmac);
            if (!_firstSeen.TryGetValue((f.Vmac, f.OwnerMac), out long first))
                _firstSeen[(f.Vmac, f.OwnerMac)] = first = now;
            int count = 0;
            foreach (var m in _live)
            {
                if (m.Plane.Forwards(f.Vmac))
                    count++;
            }
            if (count == 0)
            {
                var c = _unforwarded.Hold(f.Vmac, now);
                if (checking && now - _lastMove > hold + hello && now - first > hold + hello && AnyoneWilling())
                {
                    Violate(c, VmacForwardedOnce, $"forwarder {f.Number} ({f.Vmac:x12}, owner {f.OwnerMac:x12}) forwarded by nobody for {Ms(now - c.Since)}; "
                        + $"last forwarder-moving event {Ms(now - _lastMove)} ago, in the table {Ms(now - first)}");
                }
            }
            else if (count > 1)
            {
                var c = _duplicated.Hold(f.Vmac, now);
                if (checking && now - c.Since > hold)
                    Violate(c, VmacForwardedOnce, $"forwarder {f.Number} ({f.Vmac:x12}) forwarded by {count} members ({Forwarding(f.Vmac)}) for {Ms(now - c.Since)}");
            }
        }
        foreach (var m in _live)
        {
            foreach (ulong vmac in m.Plane.Vmacs)
            {
                if (_tableVmacs.Contains(vmac))
                    continue;
                var c = _stray.Hold(vmac, now);
                if (checking && now - c.Since > hold)
                    Violate(c, VmacForwardedOnce, $"{m} forwards {vmac:x12}, which the Active's table lacks, for {Ms(now - c.Since)}");
            }
        }
        _unforwarded.End(now);
        _duplicated.End(now);
        _stray.End(now);
    }

    private void CheckHosts(long now, long hold, long hello)
    {
        _hostOut.Begin();
        _forwarded.Clear();
        foreach (var m in _live)
        {
            foreach (ulong vmac in m.Plane.Vmacs)
                _forwarded.Add(vmac);
        }
        foreach (var host in _sim.Hosts)
        {
            if (host.Group != _group || host.Vmac == 0 || host.ResolvedAt.Ticks <= _lastAllDown)
                continue;
            if (_forwarded.Contains(host.Vmac))
                continue;
            var c = _hostOut.Hold(host.Id, now);
            if (now - _lastMove > hold + hello && AnyoneWilling())
            {
                Violate(c, HostReachesForwarder, $"{host}'s vMAC {host.Vmac:x12} (resolved at {host.ResolvedAt.TotalSeconds:0.000} s) is forwarded by no powered member "
                    + $"for {Ms(now - c.Since)}; last forwarder-moving event {Ms(now - _lastMove)} ago");
            }
        }
        _hostOut.End(now);
    }

    /// <summary>
    /// Whether any powered member is willing to forward (weighting not below its threshold). When none is, no
    /// protocol could forward anything, so "forwarded by nobody" is not the protocol's fault.
    /// </summary>
    private bool AnyoneWilling()
    {
        foreach (var m in _live)
        {
            if (m.Group.Snapshot().Forwarding)
                return true;
        }
        return false;
    }

    private bool Outage(long now)
    {
        bool any = false;
        foreach (var to in _live)
        {
            foreach (var from in _live)
            {
                if (from == to || from.Box == to.Box || !_sim.CanTalk(from.Box, to.Box))
                    continue;
                long since = Math.Max(from.StartedAt.Ticks, to.StartedAt.Ticks);
                if (to.HeardFrom.TryGetValue(from.Id, out long heard))
                    since = Math.Max(since, heard);
                if (now - since >= from.Options.HoldTime.Ticks)
                    any = true;
            }
        }
        if (any)
            OutageSteps++;
        return any;
    }

    private void ReadHistory()
    {
        var history = _sim.History;
        for (; _historyCursor < history.Count; _historyCursor++)
        {
            SegmentEvent e = history[_historyCursor];
            if (e.AllGroups)
            {
                // A heal ends the partition interval; both start and end count as forwarder events for the hosts.
                if (e.Kind == SegmentEventKind.Heal)
                    _lastIntervalEnd = Math.Max(_lastIntervalEnd, e.At.Ticks);
                _lastMove = Math.Max(_lastMove, e.At.Ticks);
                continue;
            }
            if (e.Group != _group)
                continue;
            _lastEvent = Math.Max(_lastEvent, e.At.Ticks);
            if (e.MovesForwarders)
                _lastMove = Math.Max(_lastMove, e.At.Ticks);
        }
    }

    private void Violate(Cond c, string invariant, string detail)
    {
        if (c.Reported)
            return;
        c.Reported = true;
        ViolationCount++;
        if (_violations.Count < MaxKept)
            _violations.Add(new InvariantViolation(_sim.Now, invariant, detail));
    }

    private string Names(GatewayState state) => string.Join(", ", _live.Where(m => m.State == state));

    private string Forwarding(ulong vmac) => string.Join(", ", _live.Where(m => m.Plane.Forwards(vmac)));

    private static string Ms(long ticks) => ticks > TimeSpan.TicksPerDay * 365
        ? "ever"
        : $"{TimeSpan.FromTicks(ticks).TotalMilliseconds.ToString("0.#", CultureInfo.InvariantCulture)} ms";

    private sealed class Cond
    {
        public long Since;
        public int Generation;
        public bool Reported;
    }

    /// <summary>Conditions that hold over time, keyed by subject: when each began, and the longest that ended.</summary>
    private sealed class Conditions<TKey>
        where TKey : notnull
    {
        private readonly Dictionary<TKey, Cond> _open = [];
        private readonly List<TKey> _ended = [];
        private int _generation;

        public TimeSpan Longest { get; private set; }

        /// <summary>The longest stretch, counting the ones still open at <paramref name="now"/>.</summary>
        public TimeSpan LongestAt(long now)
        {
            TimeSpan longest = Longest;
            foreach (var c in _open.Values)
            {
                if (now - c.Since > longest.Ticks)
                    longest = TimeSpan.FromTicks(now - c.Since);
            }
            return longest;
        }

        public void Begin() => _generation++;

        public Cond Hold(TKey key, long now)
        {
            if (!_open.TryGetValue(key, out Cond? c))
                _open[key] = c = new Cond { Since = now };
            c.Generation = _generation;
            return c;
        }

        public void End(long now)
        {
            if (_open.Count == 0)
                return;
            _ended.Clear();
            foreach (var (key, c) in _open)
            {
                if (c.Generation == _generation)
                    continue;
                _ended.Add(key);
                var lasted = TimeSpan.FromTicks(now - c.Since);
                if (lasted > Longest)
                    Longest = lasted;
            }
            foreach (var key in _ended)
                _open.Remove(key);
        }
    }
}
