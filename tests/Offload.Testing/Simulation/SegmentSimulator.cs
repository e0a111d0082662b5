using System.Buffers.Binary;
using Offload.Group;
using Offload.Protocol.Glbp;

namespace Offload.Testing.Simulation;

/// <summary>
/// A deterministic simulated LAN segment of GLBP gateways (boxes), each running members of one or more groups on
/// one <see cref="VirtualClock"/>. Every hello is encoded by its sender's real <see cref="GlbpGroup"/> and decoded
/// by each receiver's <see cref="GlbpGroup.Receive"/>; the simulator only carries the bytes. One event queue,
/// ordered by delivery time, holds deliveries, timers, scenario actions and hosts' ARP requests; one seeded
/// random stream decides loss, delay and hosts' timing, so a seed replays the same run to the tick.
/// <para>
/// The segment: a message from a box reaches every other box that runs a member of the same group (a daemon
/// dispatches by the header's group number) unless it is lost on that link or the two boxes are on different
/// sides of a partition when it arrives. Messages already on the wire when their sender crashes still arrive.
/// Hosts reach every powered box (partitions split the gateways' GLBP traffic, not the hosts' access).
/// </para>
/// </summary>
public sealed class SegmentSimulator : IDisposable
{
    private const int GroupOffset = 2; // the header's big-endian group number (GlbpHeader)
    private const int HeaderLength = 12;

    private readonly Random _random;
    private readonly bool _trackDeliveries;
    private readonly List<SimMember> _members = [];
    private readonly Dictionary<ushort, List<SimMember>> _byGroup = [];
    private readonly Dictionary<(int From, int To), LinkProfile> _links = [];
    private readonly Dictionary<int, int> _side = [];
    private readonly List<SegmentEvent> _history = [];
    private readonly List<SimHost> _hosts = [];
    private LinkProfile _defaultLink;
    private bool _disposed;

    public SegmentSimulator(SegmentOptions? options = null)
    {
        options ??= new SegmentOptions();
        options.Link.Validate();
        _random = new Random(options.Seed);
        _defaultLink = options.Link;
        _trackDeliveries = options.TrackDeliveries;
        Clock = new VirtualClock(options.Start);
    }

    public VirtualClock Clock { get; }

    public TimeSpan Now => Clock.Elapsed;

    public IReadOnlyList<SimMember> Members => _members;

    public IReadOnlyList<SegmentEvent> History => _history;

    public IReadOnlyList<SimHost> Hosts => _hosts;

    /// <summary>The random stream scenarios should draw from, so one seed fixes the whole run.</summary>
    public Random Random => _random;

    /// <summary>Raised after every event the simulator runs and after every scenario action: the checker's hook.</summary>
    public event Action? Stepped;

    /// <summary>Every state change and notice any member's group raised, with the member.</summary>
    public event Action<SimMember, GlbpEvent>? GroupEvent;

    public long Delivered { get; private set; }
    public long Lost { get; private set; }
    public long Blocked { get; private set; }

    /// <summary>Deliveries that arrived after a later message from the same sender to the same receiver.</summary>
    public long Reordered { get; private set; }

    /// <summary>True while a partition splits the boxes.</summary>
    public bool Partitioned => _side.Count > 0;

    /// <summary>The longest delay any link may currently give a message.</summary>
    public TimeSpan MaxDelay
    {
        get
        {
            TimeSpan max = _defaultLink.MaxDelay;
            foreach (var l in _links.Values)
            {
                if (l.MaxDelay > max)
                    max = l.MaxDelay;
            }
            return max;
        }
    }

    public static uint BoxIp(int box) => 0x0A00_0000u + (uint)box;

    public static ulong BoxMac(int box) => 0x0200_0000_0000ul + (ulong)box;

    /// <summary>10.100.x.y: one virtual IP per group number.</summary>
    public static uint VirtualIpOf(ushort group) => 0x0A64_0000u + group;

    public IReadOnlyList<SimMember> MembersOf(ushort group) => _byGroup.TryGetValue(group, out var list) ? list : [];

    public IEnumerable<SimMember> Live(ushort group = 1) => MembersOf(group).Where(m => m.Up);

    public LinkProfile DefaultLink
    {
        get => _defaultLink;
        set
        {
            value.Validate();
            _defaultLink = value;
        }
    }

    /// <summary>Overrides the link from <paramref name="fromBox"/> to <paramref name="toBox"/> (one direction).</summary>
    public void SetLink(int fromBox, int toBox, LinkProfile profile)
    {
        profile.Validate();
        _links[(fromBox, toBox)] = profile;
    }

    public void ClearLinks() => _links.Clear();

    /// <summary>
    /// A new member of <paramref name="group"/> on <paramref name="box"/>, started now. Its address and MAC derive
    /// from the box (<see cref="BoxIp"/>, <see cref="BoxMac"/>), its virtual IP from the group.
    /// </summary>
    public SimMember Join(int box, Func<GlbpGroupOptions, GlbpGroupOptions>? configure = null, ushort group = 1, bool record = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(box, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(box, 0xFFFF);
        if (!_byGroup.TryGetValue(group, out var list))
            _byGroup[group] = list = [];
        if (list.Exists(m => m.Box == box))
            throw new ArgumentException($"box {box} already runs a member of group {group}", nameof(box));
        var options = new GlbpGroupOptions { Group = group, LocalIp = BoxIp(box), LocalMac = BoxMac(box), VirtualIp = VirtualIpOf(group) };
        options = configure?.Invoke(options) ?? options;
        if (options.Group != group || options.LocalIp != BoxIp(box) || options.LocalMac != BoxMac(box))
            throw new ArgumentException("configure may not change the group, address or MAC the simulator derives from the box", nameof(configure));
        var member = new SimMember(this, _members.Count, box, options);
        _members.Add(member);
        list.Add(member);
        Record(SegmentEventKind.Join, member, $"{member} joins (priority {options.Priority}, weighting {options.Weighting})", record);
        member.Up = true;
        member.StartedAt = Now;
        member.Group.Start();
        Changed();
        return member;
    }

    /// <summary>Power off: no resign message, nothing more sent; what is already on the wire still arrives.</summary>
    public void Crash(SimMember member)
    {
        ArgumentNullException.ThrowIfNull(member);
        if (!member.Up)
            throw new InvalidOperationException($"{member} is already down");
        member.Up = false;
        member.Group.Dispose();
        Record(SegmentEventKind.Crash, member, $"{member} crashes");
        Changed();
    }

    /// <summary>Powers a crashed member on again: same options, fresh state (empty tables, empty data plane).</summary>
    public void Restart(SimMember member)
    {
        ArgumentNullException.ThrowIfNull(member);
        if (member.Up)
            throw new InvalidOperationException($"{member} is running; crash it first or use Reboot");
        member.Reincarnate();
        member.Up = true;
        member.StartedAt = Now;
        Record(SegmentEventKind.Restart, member, $"{member} restarts");
        member.Group.Start();
        Changed();
    }

    /// <summary>Crash and immediate restart.</summary>
    public void Reboot(SimMember member)
    {
        Crash(member);
        Restart(member);
    }

    public void SetPriority(SimMember member, byte priority)
    {
        ArgumentNullException.ThrowIfNull(member);
        member.Options = member.Options with { Priority = priority };
        Record(SegmentEventKind.Priority, member, $"{member} priority {priority}");
        if (member.Up)
            member.Group.SetPriority(priority);
        Changed();
    }

    public void SetPreempt(SimMember member, bool enabled, TimeSpan delay = default)
    {
        ArgumentNullException.ThrowIfNull(member);
        member.Options = member.Options with { Preempt = enabled, PreemptDelay = delay };
        Record(SegmentEventKind.Preempt, member, $"{member} preempt {(enabled ? "on" : "off")} delay {delay}");
        if (member.Up)
            member.Group.SetPreempt(enabled, delay);
        Changed();
    }

    public void SetWeighting(SimMember member, byte maximum, byte lower = 1, byte? upper = null)
    {
        ArgumentNullException.ThrowIfNull(member);
        member.Options = member.Options with { Weighting = maximum, LowerThreshold = lower, UpperThreshold = upper };
        Record(SegmentEventKind.Weighting, member, $"{member} weighting {maximum} lower {lower} upper {upper?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "="}");
        if (member.Up)
            member.Group.SetWeighting(maximum, lower, upper);
        Changed();
    }

    /// <summary>Tracking is run-time state the daemon re-registers after a reboot; a restart here starts untracked.</summary>
    public void Track(SimMember member, int id, byte decrement)
    {
        ArgumentNullException.ThrowIfNull(member);
        Record(SegmentEventKind.Track, member, $"{member} tracks object {id} (-{decrement})");
        if (member.Up)
            member.Group.Track(id, decrement);
        Changed();
    }

    public void SetTrackedObject(SimMember member, int id, bool up)
    {
        ArgumentNullException.ThrowIfNull(member);
        Record(SegmentEventKind.TrackedObject, member, $"{member} tracked object {id} {(up ? "up" : "down")}");
        if (member.Up)
            member.Group.SetTrackedObject(id, up);
        Changed();
    }

    /// <summary>
    /// Splits the boxes into sides that hear only each other; boxes not named form one more side together.
    /// Applies to messages arriving from now on.
    /// </summary>
    public void Partition(params IReadOnlyCollection<int>[] sides)
    {
        ArgumentNullException.ThrowIfNull(sides);
        _side.Clear();
        for (int s = 0; s < sides.Length; s++)
        {
            foreach (int box in sides[s])
            {
                if (!_side.TryAdd(box, s + 1))
                    throw new ArgumentException($"box {box} is on two sides", nameof(sides));
            }
        }
        string text = string.Join(" | ", sides.Select(s => string.Join(",", s)));
        _history.Add(new SegmentEvent(Now, SegmentEventKind.Partition, 0, 0, $"partition {text} | rest"));
        Changed();
    }

    public void Heal()
    {
        _side.Clear();
        _history.Add(new SegmentEvent(Now, SegmentEventKind.Heal, 0, 0, "partition healed"));
        Changed();
    }

    public bool CanTalk(int boxA, int boxB) => _side.GetValueOrDefault(boxA) == _side.GetValueOrDefault(boxB);

    /// <summary>Runs <paramref name="action"/> at virtual time <paramref name="at"/> (not before now).</summary>
    public void At(TimeSpan at, Action<SegmentSimulator> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Clock.Schedule(at > Now ? at - Now : TimeSpan.Zero, static s =>
        {
            var (sim, act) = ((SegmentSimulator, Action<SegmentSimulator>))s!;
            act(sim);
        }, (this, action));
    }

    /// <summary>Runs every event up to <see cref="Now"/> + <paramref name="span"/>.</summary>
    public void Run(TimeSpan span) => RunUntil(Now + span);

    public void RunSeconds(double seconds) => Run(TimeSpan.FromSeconds(seconds));

    public void RunUntil(TimeSpan until)
    {
        long spin = 0;
        TimeSpan last = Now;
        while (Clock.Step(until))
        {
            Stepped?.Invoke();
            // A timer that keeps re-arming at the same instant would hang the run instead of failing it.
            spin = Now == last ? spin + 1 : 0;
            last = Now;
            if (spin > 1_000_000)
                throw new InvalidOperationException($"events spin at {Now}");
        }
        Stepped?.Invoke();
    }

    /// <summary>
    /// Runs until <paramref name="condition"/> holds after a step (checked first now) or <paramref name="limit"/>
    /// has passed; returns the virtual time it first held, or null.
    /// </summary>
    public TimeSpan? RunUntil(Func<bool> condition, TimeSpan limit)
    {
        ArgumentNullException.ThrowIfNull(condition);
        if (condition())
            return Now;
        TimeSpan end = Now + limit;
        while (Clock.Step(end))
        {
            Stepped?.Invoke();
            if (condition())
                return Now;
        }
        Stepped?.Invoke();
        return null;
    }

    /// <summary>
    /// Adds <paramref name="count"/> hosts (random unicast, locally administered MACs) that first ARP at a random
    /// moment within <paramref name="firstWithin"/>, then again every <paramref name="refresh"/> × U(0.5, 1.5)
    /// (Linux's randomised reachable time), and one second after a request nobody answered.
    /// </summary>
    public IReadOnlyList<SimHost> AddHosts(int count, TimeSpan refresh, TimeSpan firstWithin, ushort group = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(refresh, TimeSpan.Zero);
        var added = new List<SimHost>(count);
        for (int i = 0; i < count; i++)
        {
            ulong mac = ((ulong)_random.NextInt64() & 0xFEFF_FFFF_FFFFUL) | 0x0200_0000_0000UL;
            var host = new SimHost(_hosts.Count, group, mac);
            _hosts.Add(host);
            added.Add(host);
            var state = new HostState(this, host, refresh);
            Clock.Schedule(TimeSpan.FromTicks((long)(_random.NextDouble() * firstWithin.Ticks)), static s => ((HostState)s!).Arp(), state);
        }
        return added;
    }

    /// <summary>
    /// One ARP request from <paramref name="host"/> now: every powered box whose responder for the group is on
    /// answers (there are two only while two Actives exist); the host keeps the last reply, as Linux does.
    /// Returns whether anyone answered.
    /// </summary>
    public bool Arp(SimHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        bool answered = ArpCore(host);
        Changed();
        return answered;
    }

    private bool ArpCore(SimHost host)
    {
        host.Requests++;
        bool answered = false;
        foreach (var m in MembersOf(host.Group))
        {
            if (!m.Up)
                continue;
            ulong vmac = m.Plane.AnswerVmac(host.Mac);
            if (vmac == 0)
                continue;
            host.Vmac = vmac;
            host.ResolvedAt = Now;
            host.Replies++;
            answered = true;
        }
        return answered;
    }

    internal void Broadcast(SimMember from, ReadOnlySpan<byte> message)
    {
        if (!from.Up || _disposed || message.Length < HeaderLength)
            return;
        ushort group = BinaryPrimitives.ReadUInt16BigEndian(message[GroupOffset..]);
        if (!_byGroup.TryGetValue(group, out var receivers))
            return;
        byte[] bytes = message.ToArray();
        foreach (var to in receivers)
        {
            if (to.Box == from.Box)
                continue;
            LinkProfile link = _links.Count > 0 && _links.TryGetValue((from.Box, to.Box), out var l) ? l : _defaultLink;
            if (link.Loss > 0 && _random.NextDouble() < link.Loss)
            {
                Lost++;
                continue;
            }
            long delay = link.MinDelay.Ticks;
            if (link.MaxDelay > link.MinDelay)
                delay += (long)(_random.NextDouble() * (link.MaxDelay.Ticks - link.MinDelay.Ticks));
            Clock.Schedule(TimeSpan.FromTicks(delay), static s => ((Delivery)s!).Arrive(), new Delivery(this, from, to, bytes, from.Sent));
        }
    }

    private void Record(SegmentEventKind kind, SimMember member, string detail, bool record = true)
    {
        if (record)
            _history.Add(new SegmentEvent(Now, kind, member.Box, member.GroupNumber, detail));
    }

    private void Changed() => Stepped?.Invoke();

    internal void OnGroupEvent(SimMember member, GlbpEvent e) => GroupEvent?.Invoke(member, e);

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var m in _members)
            m.Group.Dispose();
    }

    private sealed class Delivery(SegmentSimulator sim, SimMember from, SimMember to, byte[] message, long sequence)
    {
        public void Arrive()
        {
            if (!to.Up || !sim.CanTalk(from.Box, to.Box))
            {
                sim.Blocked++;
                return;
            }
            sim.Delivered++;
            if (sim._trackDeliveries)
            {
                to.HeardFrom[from.Id] = sim.Now.Ticks;
                if (to.LastSequenceFrom.TryGetValue(from.Id, out long last) && sequence < last)
                    sim.Reordered++;
                else
                    to.LastSequenceFrom[from.Id] = sequence;
            }
            to.Received++;
            to.Group.Receive(message, from.Options.LocalIp);
        }
    }

    private sealed class HostState(SegmentSimulator sim, SimHost host, TimeSpan refresh)
    {
        public void Arp()
        {
            TimeSpan next = sim.ArpCore(host) ? TimeSpan.FromTicks((long)(refresh.Ticks * (0.5 + sim._random.NextDouble()))) : TimeSpan.FromSeconds(1);
            sim.Clock.Schedule(next, static s => ((HostState)s!).Arp(), this);
        }
    }
}
