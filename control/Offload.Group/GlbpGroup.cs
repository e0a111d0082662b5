using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Offload.Protocol.Glbp;

namespace Offload.Group;

/// <summary>
/// One GLBP group on one gateway: the AVG election, this member's virtual forwarders, and, while it is the
/// Active AVG, forwarder assignment and the ARP slot table. Deterministic: its only inputs are messages,
/// configuration calls and one timer on the injected <see cref="TimeProvider"/>, so a test (or the multi-node
/// simulator) replays hours of protocol time exactly. Thread-safe: every input takes one lock; events are
/// raised after it is released, so a handler may call back in.
/// <para>
/// Every input ends in <see cref="Evaluate"/>, which re-derives the states from the peer and forwarder tables
/// and the deadlines. It is idempotent, so a timer that fires early or twice changes nothing.
/// </para>
/// </summary>
public sealed partial class GlbpGroup : IDisposable
{
    private const long Never = long.MaxValue;
    private const ulong MacMask = 0xFFFF_FFFF_FFFF;

    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly IGlbpTransport _transport;
    private readonly IForwardingPlane _plane;
    private readonly ILogger _log;
    private readonly ITimer _timer;
    private readonly long _origin;
    // Not readonly: Reconfigure swaps them under the lock (a SIGHUP reload changes timers and priorities live).
    private GlbpGroupOptions _options;
    private long _helloTicks;
    private long _holdTicks;
    private long _redirectTicks;
    private long _timeoutTicks;
    private long _forwarderPreemptTicks;

    // Members in the order we first heard them: the AVG assigns forwarders in that order.
    private readonly List<Peer> _peers = [];
    private readonly Forwarder?[] _forwarders = new Forwarder?[GlbpVirtualMac.MaxForwarder + 1];
    private readonly GlbpWeighting _weighting;
    private readonly List<GlbpEvent> _pending = [];

    // One buffer for every hello and the last plane state written, so steady state neither allocates nor writes.
    private readonly byte[] _tx = new byte[GlbpProtocol.MaxLength];
    private readonly byte[] _slots = new byte[SlotTableBuilder.SlotCount];
    private readonly byte[] _writtenSlots = new byte[SlotTableBuilder.SlotCount];
    private readonly double[] _loads = new double[GlbpVirtualMac.MaxForwarder + 1];
    private ulong[] _writtenVmacs = [];
    private bool _arpEnabledWritten;
    private GlbpLoadBalancing _arpModeWritten;
    private bool _planeWritten;

    private GatewayState _state = GatewayState.Disabled;
    private GlbpLoadBalancing _loadBalancing;
    private uint _virtualIp;
    private byte _priority;
    private bool _preempt;
    private long _preemptDelayTicks;
    private long _listenUntil = Never;
    private long _speakUntil = Never;
    private long _standbyUntil = Never;
    private long _preemptAt = Never;
    private long _nextHello = Never;
    private long _scheduled = Never;
    private long _peerOrder;
    private long _joinedAt;
    private uint _sequence;
    private bool _sendNow;
    private bool _disposed;

    public GlbpGroup(GlbpGroupOptions options, TimeProvider time, IGlbpTransport transport, IForwardingPlane plane,
        ILogger<GlbpGroup>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _transport = transport ?? throw new ArgumentNullException(nameof(transport));
        _plane = plane ?? throw new ArgumentNullException(nameof(plane));
        _log = logger ?? (ILogger)NullLogger.Instance;
        _helloTicks = options.HelloTime.Ticks;
        _holdTicks = options.HoldTime.Ticks;
        _redirectTicks = options.RedirectTime.Ticks;
        _timeoutTicks = options.TimeoutTime.Ticks;
        _forwarderPreemptTicks = options.ForwarderPreemptDelay.Ticks;
        _weighting = new GlbpWeighting(options.Weighting, options.LowerThreshold, options.UpperThreshold);
        _priority = options.Priority;
        _preempt = options.Preempt;
        _preemptDelayTicks = options.PreemptDelay.Ticks;
        _loadBalancing = options.LoadBalancing;
        _virtualIp = options.VirtualIp;
        // Seeding the HMAC sequence from the clock keeps it rising across restarts, which peers' replay checks need.
        _sequence = (uint)time.GetUtcNow().ToUnixTimeSeconds();
        _origin = time.GetTimestamp();
        _timer = time.CreateTimer(static s => ((GlbpGroup)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>State changes and forwarder notices, raised outside the group's lock.</summary>
    public event EventHandler<GlbpEvent>? Changed;

    public ushort GroupNumber => _options.Group;

    public GatewayState State
    {
        get
        {
            lock (_lock)
                return _state;
        }
    }

    /// <summary>
    /// Time until the group's next deadline, or null when nothing is pending. Lets a simulator step virtual time
    /// from deadline to deadline instead of in fixed ticks.
    /// </summary>
    public TimeSpan? NextDeadline
    {
        get
        {
            lock (_lock)
            {
                long now = Now;
                return _scheduled == Never ? null : TimeSpan.FromTicks(Math.Max(0, _scheduled - now));
            }
        }
    }

    private long Now => _time.GetElapsedTime(_origin).Ticks;

    /// <summary>Disabled → Init, and on to Listen as soon as the virtual IP is known.</summary>
    /// <summary>
    /// Before <see cref="Start"/>: the forwarders this box's data plane was forwarding when its control plane went
    /// away. They start Active, their owner unknown (counted as lost from now), so their hosts keep a forwarder:
    /// a live owner's claim takes each back, and with nobody claiming them this member adopts the lowest as its own.
    /// </summary>
    public void Resume(ReadOnlySpan<byte> forwarders)
    {
        byte[] numbers = forwarders.ToArray();
        Run(() =>
        {
            if (_state != GatewayState.Disabled)
                throw new InvalidOperationException("resume forwarders before the group starts");
            long now = Now;
            foreach (byte n in numbers)
            {
                if (n == 0 || _forwarders[n] is not null)
                    continue;
                Forwarder f = AddForwarder(n, 0, now);
                f.Resumed = true;
                f.State = ForwarderState.Active;
            }
        });
    }

    public void Start()
    {
        Run(() =>
        {
            if (_state != GatewayState.Disabled)
                return;
            SetState(GatewayState.Init, Reasons.Enabled, Now);
        });
    }

    /// <summary>
    /// Leaves the group. An Active AVG or forwarder first sends one hello saying Listen for everything, so the
    /// Standby and the secondaries take over at once instead of after the hold time.
    /// </summary>
    public void Stop()
    {
        Run(() =>
        {
            if (_state == GatewayState.Disabled)
                return;
            long now = Now;
            if (_state >= GatewayState.Listen && _virtualIp != 0)
                SendHello(resign: true);
            for (int n = 1; n < _forwarders.Length; n++)
            {
                if (_forwarders[n] is { } f)
                    SetForwarderState(f, ForwarderState.Init, Reasons.Disabled);
                _forwarders[n] = null;
            }
            _peers.Clear();
            SetState(GatewayState.Disabled, Reasons.Disabled, now);
            _virtualIp = _options.VirtualIp;
        });
    }

    /// <summary>
    /// Applies a changed configuration live (a reload): timers, priority, preemption, weighting and thresholds, load
    /// balancing, forwarder limits and authentication. Peers hear the new values in a hello at once; forwarders,
    /// peers and roles stay as they are, so no host loses its gateway over a reload. What names the group on the wire
    /// (number, virtual IP, this member's address and MAC) cannot change live: the caller restarts the group for that.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="next"/> is for another group, virtual IP or member.</exception>
    public void Reconfigure(GlbpGroupOptions next)
    {
        ArgumentNullException.ThrowIfNull(next);
        next.Validate();
        if (next.Group != _options.Group || next.VirtualIp != _options.VirtualIp || next.LocalIp != _options.LocalIp || next.LocalMac != _options.LocalMac)
            throw new ArgumentException("a group's number, virtual IP and member address cannot change live", nameof(next));
        Run(() =>
        {
            bool timers = next.HelloTime != _options.HelloTime || next.HoldTime != _options.HoldTime;
            _options = next;
            _helloTicks = next.HelloTime.Ticks;
            _holdTicks = next.HoldTime.Ticks;
            _redirectTicks = next.RedirectTime.Ticks;
            _timeoutTicks = next.TimeoutTime.Ticks;
            _forwarderPreemptTicks = next.ForwarderPreemptDelay.Ticks;
            _priority = next.Priority;
            _preempt = next.Preempt;
            _preemptDelayTicks = next.PreemptDelay.Ticks;
            _preemptAt = Never;
            _loadBalancing = next.LoadBalancing;
            _weighting.Configure(next.Weighting, next.LowerThreshold, next.UpperThreshold);
            // The next hello goes now, not after the old hello time: peers learn the new priority, weighting and (the
            // AVG's) timers within one message, and a shorter hello time takes effect from here.
            if (_state >= GatewayState.Listen)
            {
                _sendNow = true;
                if (timers)
                    _nextHello = Now;
            }
        });
    }

    public void SetPriority(byte priority)
    {
        ArgumentOutOfRangeException.ThrowIfZero(priority);
        Run(() =>
        {
            _priority = priority;
            _sendNow = _state >= GatewayState.Listen;
        });
    }

    public void SetPreempt(bool enabled, TimeSpan delay = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        Run(() =>
        {
            _preempt = enabled;
            _preemptDelayTicks = delay.Ticks;
            _preemptAt = Never;
        });
    }

    public void SetLoadBalancing(GlbpLoadBalancing mode) => Run(() => _loadBalancing = mode);

    public void SetWeighting(byte maximum, byte lower = 1, byte? upper = null) => Run(() => WeightingChanged(_weighting.Configure(maximum, lower, upper)));

    public void Track(int id, byte decrement) => Run(() => WeightingChanged(_weighting.Track(id, decrement)));

    public void Untrack(int id) => Run(() => WeightingChanged(_weighting.Untrack(id)));

    /// <summary>A tracked object (interface, backend pool health, any boolean the daemon exposes) went up or down.</summary>
    public void SetTrackedObject(int id, bool up) => Run(() => WeightingChanged(_weighting.SetTracked(id, up)));

    /// <summary>Live load of a forwarder (any non-negative unit) for <see cref="GlbpLoadBalancing.LoadBased"/>.</summary>
    public void SetForwarderLoad(byte forwarder, double load)
    {
        ArgumentOutOfRangeException.ThrowIfZero(forwarder);
        if (double.IsNaN(load) || load < 0)
            throw new ArgumentOutOfRangeException(nameof(load));
        Run(() => _loads[forwarder] = load);
    }

    /// <summary>Decodes and handles one GLBP message (the UDP payload) from <paramref name="sourceIp"/>.</summary>
    public GlbpReceiveResult Receive(ReadOnlySpan<byte> message, uint sourceIp) =>
        GlbpPacket.TryDecode(message, out GlbpPacket packet).IsOk ? OnMessage(packet, sourceIp) : GlbpReceiveResult.Malformed;

    /// <summary>Handles one decoded GLBP message; the time of arrival is the injected clock's now.</summary>
    public GlbpReceiveResult OnMessage(GlbpPacket packet, uint sourceIp)
    {
        GlbpReceiveResult result;
        lock (_lock)
        {
            result = Handle(packet, sourceIp);
            if (result == GlbpReceiveResult.Accepted)
                Evaluate();
        }
        RaisePending();
        return result;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            _timer.Dispose();
        }
    }

    private void OnTimer()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _scheduled = Never;
            Evaluate();
        }
        RaisePending();
    }

    private void Run(Action action)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            action();
            Evaluate();
        }
        RaisePending();
    }

    private void WeightingChanged(bool changed)
    {
        // Peers rank takeovers by our weighting and the AVG builds weighted tables from it: tell them now.
        if (changed && _state >= GatewayState.Listen)
            _sendNow = true;
    }

    private void RaisePending()
    {
        GlbpEvent[] events;
        lock (_lock)
        {
            if (_pending.Count == 0)
                return;
            events = [.. _pending];
            _pending.Clear();
        }
        foreach (var e in events)
            Changed?.Invoke(this, e);
    }

    private void Evaluate()
    {
        if (_disposed)
            return;
        long now = Now;
        ExpirePeers(now);
        EvaluateGateway(now);
        SelectOwnForwarder(now);
        EvaluateForwarders(now);
        UpdatePlane();
        if (_state >= GatewayState.Listen && (_sendNow || now >= _nextHello))
        {
            SendHello(resign: false);
            _nextHello = now + _helloTicks;
        }
        _sendNow = false;
        Reschedule(now);
    }

    private void Reschedule(long now)
    {
        long next = Never;
        if (_state >= GatewayState.Listen)
        {
            next = Min(next, _nextHello, now);
            next = Min(next, _joinedAt + _holdTicks, now);
        }
        if (_state == GatewayState.Listen)
            next = Min(next, _listenUntil, now);
        if (_state == GatewayState.Speak)
            next = Min(next, _speakUntil, now);
        if (_state == GatewayState.Standby)
            next = Min(next, _standbyUntil, now);
        next = Min(next, _preemptAt, now);
        foreach (var p in _peers)
            next = Min(next, p.Deadline, now);
        foreach (var f in _forwarders)
        {
            if (f is null)
                continue;
            next = Min(next, f.HolderDeadline, now);
            next = Min(next, f.PreemptAt, now);
            if (f.OwnerLostAt != Never)
            {
                next = Min(next, f.OwnerLostAt + _redirectTicks, now);
                next = Min(next, f.OwnerLostAt + _timeoutTicks, now);
            }
        }
        if (next == _scheduled)
            return;
        _scheduled = next;
        _timer.Change(next == Never ? Timeout.InfiniteTimeSpan : TimeSpan.FromTicks(next - now), Timeout.InfiniteTimeSpan);
    }

    // Only future deadlines count: a past one has just been handled by Evaluate.
    private static long Min(long current, long candidate, long now) => candidate > now && candidate < current ? candidate : current;

    private DateTimeOffset Stamp => _time.GetUtcNow();

    private static class Reasons
    {
        public const string Enabled = "enabled";
        public const string Disabled = "disabled";
        public const string VirtualIpKnown = "virtual IP known";
        public const string NoActiveOrStandby = "no Active or Standby heard for the hold time";
        public const string ElectedActive = "won the election";
        public const string ElectedStandby = "won the standby election";
        public const string LostElection = "a better gateway speaks";
        public const string ActiveExpired = "Active's hold time expired";
        public const string Preempted = "preempted a lower-priority Active";
        public const string BetterActive = "a higher-priority Active";
        public const string BetterStandby = "a higher-priority Standby";
        public const string Assigned = "assigned to this gateway";
        public const string Learned = "learned";
        public const string Secondary = "another gateway forwards it";
        public const string ForwarderPreempt = "owner reclaims after the forwarder preempt delay";
        public const string Takeover = "forwarder's hold time expired: highest weighting takes over";
        public const string YieldOwner = "its owner reclaims it";
        public const string YieldBetter = "a higher-weighting forwarder";
        public const string BelowThreshold = "weighting below the lower threshold";
        public const string TimedOut = "owner gone for the timeout";
    }
}
