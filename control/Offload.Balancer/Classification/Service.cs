using Offload.Balancer.Scheduling;
using Offload.Device;

namespace Offload.Balancer.Classification;

/// <summary>A backend as the service holds it: its configuration plus what drains and counts it.</summary>
public sealed class BackendState
{
    internal BackendState(BackendConfig config)
    {
        Config = config;
    }

    public BackendConfig Config { get; internal set; }

    public string Id => Config.Id;

    /// <summary>Removed from the service: gets no new flows; its flows end at <see cref="DrainDeadline"/>.</summary>
    public bool Draining { get; internal set; }

    /// <summary>Tracker time at which the remaining flows are cut.</summary>
    public TimeSpan DrainDeadline { get; internal set; }

    /// <summary>Sessions the tracker holds on this backend.</summary>
    public int Sessions { get; internal set; }

    /// <summary>False once the drain has finished and the service forgot the backend.</summary>
    public bool Attached { get; internal set; } = true;

    /// <summary>
    /// Load feedback the pool was last built with, 0..1 in 1/<see cref="LoadFeedback.Steps"/> steps (see
    /// <see cref="Service.SetLoad"/>).
    /// </summary>
    public double Overload => OverloadSteps / (double)LoadFeedback.Steps;

    internal int OverloadSteps { get; set; }
}

/// <summary>
/// One virtual service: its backends, the scheduler that places new flows over the healthy ones, a Maglev
/// table kept for flows placed without an entry (the SYN-flood path), and the new-flow install limiter.
/// </summary>
/// <remarks>
/// Every change (add, weight, health, removal) rebuilds the schedulers from a fresh <see cref="PoolSnapshot"/>;
/// installed flows are not touched, which is what keeps established connections on their backend. A removed
/// backend stays in the pool with weight 0 while it drains, so it keeps its identity for the tracker.
/// </remarks>
public sealed class Service
{
    private readonly ServiceTable _table;
    private readonly Dictionary<string, BackendState> _backends = new(StringComparer.Ordinal);
    private readonly MaglevScheduler _maglev;
    private BackendState[] _byIndex = [];
    private bool _havePool;

    internal Service(ServiceConfig config, ServiceTable table, TimeProvider time)
    {
        Config = config;
        _table = table;
        _maglev = new MaglevScheduler();
        Scheduler = config.Scheduler switch
        {
            SchedulerKind.Maglev => _maglev,
            SchedulerKind.RoundRobin => new RoundRobinScheduler(),
            SchedulerKind.LeastConnections => new LeastConnectionsScheduler(),
            SchedulerKind.SourceHash => new SourceHashScheduler(),
            _ => throw new ArgumentOutOfRangeException(nameof(config)),
        };
        Installs = new TokenBucket(config.InstallsPerSecond, Math.Max(1, config.InstallBurst), time);
    }

    public ServiceConfig Config { get; }

    public ServiceKey Key => Config.Key;

    public ForwardingMode Mode => Config.Mode;

    public IBackendScheduler Scheduler { get; }

    public TokenBucket Installs { get; }

    public IEnumerable<BackendState> Backends => _backends.Values;

    /// <summary>Pool rebuilds so far (for tests and metrics).</summary>
    public int Rebuilds { get; private set; }

    public BackendState? Find(string id) => _backends.GetValueOrDefault(id);

    /// <summary>
    /// Adds a backend or changes its weight, health or target; a draining backend with this id comes back. A backend
    /// whose MAC is not known yet (default: its address is still being resolved) is kept but gets no flows.
    /// </summary>
    public BackendState SetBackend(BackendConfig backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (backend.Mac != default)
            _table.NextHops.SetFixed(backend.NextHopIndex, new NextHop(backend.EgressPort, backend.Mac, _table.PortMac(backend.EgressPort)));
        if (!_backends.TryGetValue(backend.Id, out var state))
        {
            state = new BackendState(backend);
            _backends.Add(backend.Id, state);
        }
        state.Config = backend;
        state.Draining = false;
        Rebuild();
        return state;
    }

    /// <summary>
    /// Points a backend at its next hop as ARP resolved it, or withdraws it (<paramref name="mac"/> default: no new flows
    /// go to it), leaving its weight, health and drain as they are. Established flows follow a changed MAC, since the
    /// hardware entry they name is rewritten in place.
    /// </summary>
    public bool SetNextHop(string id, byte index, MacAddress mac)
    {
        if (!_backends.TryGetValue(id, out var state))
            return false;
        if (mac != default)
            _table.NextHops.SetFixed(index, new NextHop(state.Config.EgressPort, mac, _table.PortMac(state.Config.EgressPort)));
        bool wasUsable = state.Config.Mac != default;
        state.Config = state.Config with { NextHopIndex = index, Mac = mac };
        if (wasUsable != (mac != default))
            Rebuild();
        return true;
    }

    /// <summary>True when new flows may go to the backend: healthy, weighted, not draining, its MAC known.</summary>
    public static bool Usable(BackendState backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        return backend.Config.Healthy && !backend.Draining && backend.Config.Weight > 0 && backend.Config.Mac != default;
    }

    public bool SetHealth(string id, bool healthy)
    {
        if (!_backends.TryGetValue(id, out var state))
            return false;
        if (state.Config.Healthy != healthy)
        {
            state.Config = state.Config with { Healthy = healthy };
            Rebuild();
        }
        return true;
    }

    public bool SetWeight(string id, int weight)
    {
        if (!_backends.TryGetValue(id, out var state))
            return false;
        if (state.Config.Weight != weight)
        {
            state.Config = state.Config with { Weight = weight };
            Rebuild();
        }
        return true;
    }

    /// <summary>
    /// How far (in 1/<see cref="LoadFeedback.Steps"/> steps) a reported overload must move from the one the pool
    /// was built with before the pool is rebuilt. A backend hovering around a value would otherwise rebuild the
    /// Maglev table on every report; 8 steps is about 3 % of its share.
    /// </summary>
    public int LoadHysteresisSteps
    {
        get;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            field = value;
        }
    } = 8;

    /// <summary>
    /// Takes a backend's load feedback (0 has headroom .. 1 saturated) into the pool, lowering its share of new
    /// flows as <see cref="LoadFeedback"/> describes. The pool is rebuilt only when the quantised value moved by
    /// at least <see cref="LoadHysteresisSteps"/>, or reached 0 or 1 exactly: the ends always count (saturated
    /// means no new flows), and from an end it again takes a full band to move, so they cannot flap either.
    /// Gateways fed the same reports in the same order hold the same value and so build the same table.
    /// </summary>
    /// <returns>False when the service has no such backend.</returns>
    public bool SetLoad(string id, double overload)
    {
        int steps = LoadFeedback.Quantize(overload);
        if (!_backends.TryGetValue(id, out var state))
            return false;
        int moved = Math.Abs(steps - state.OverloadSteps);
        bool atEnd = steps is 0 or LoadFeedback.Steps;
        if (moved != 0 && (moved >= LoadHysteresisSteps || atEnd))
        {
            state.OverloadSteps = steps;
            Rebuild();
        }
        return true;
    }

    /// <summary>Starts draining: no new flows from now on; existing ones run until the drain timeout.</summary>
    public bool RemoveBackend(string id)
    {
        if (!_backends.TryGetValue(id, out var state) || state.Draining)
            return false;
        state.Draining = true;
        state.DrainDeadline = _table.Now + (Config.DrainTimeout ?? _table.DefaultDrainTimeout);
        Rebuild();
        return true;
    }

    /// <summary>The backend the configured scheduler picks for a new flow, null when none can take it.</summary>
    internal BackendState? Pick(in FlowKey key) => _havePool ? At(Scheduler.Pick(key)) : null;

    /// <summary>The Maglev choice, used for flows forwarded without an entry so that a retry lands on the same backend.</summary>
    internal BackendState? PickMaglev(in FlowKey key) => _havePool ? At(_maglev.Pick(key)) : null;

    internal BackendState? FindByTarget(uint address, ushort port)
    {
        foreach (var b in _backends.Values)
        {
            if (b.Config.Address == address && b.Config.Port == port)
                return b;
        }
        return null;
    }

    internal BackendState? FindByNextHop(byte index)
    {
        foreach (var b in _backends.Values)
        {
            if (b.Config.NextHopIndex == index)
                return b;
        }
        return null;
    }

    internal void NoteOpened(BackendState backend)
    {
        backend.Sessions++;
        if (Scheduler is LeastConnectionsScheduler lc && lc.Pool?.IndexOf(backend.Id) is int i and >= 0)
            lc.OnOpened(i);
    }

    internal void NoteClosed(BackendState backend)
    {
        if (backend.Sessions > 0)
            backend.Sessions--;
        if (Scheduler is LeastConnectionsScheduler lc && lc.Pool?.IndexOf(backend.Id) is int i and >= 0)
            lc.OnClosed(i);
    }

    /// <summary>Forgets draining backends whose flows are gone or whose deadline passed; true when any was forgotten.</summary>
    internal bool FinishDrains(TimeSpan now)
    {
        List<string>? done = null;
        foreach (var b in _backends.Values)
        {
            if (b.Draining && (b.Sessions == 0 || now >= b.DrainDeadline))
                (done ??= []).Add(b.Id);
        }
        if (done is null)
            return false;
        foreach (string id in done)
        {
            _backends.Remove(id, out var b);
            b!.Attached = false;
        }
        Rebuild();
        return true;
    }

    private BackendState? At(int index) => index >= 0 ? _byIndex[index] : null;

    private void Rebuild()
    {
        Rebuilds++;
        if (_backends.Count == 0)
        {
            _havePool = false;
            _byIndex = [];
            return;
        }
        var pool = new PoolSnapshot(_backends.Values.Select(static b =>
            new Backend(b.Id, b.Draining ? 0 : b.Config.Weight, b.Config.Healthy && b.Config.Mac != default, b.Overload)));
        var byIndex = new BackendState[pool.Count];
        for (int i = 0; i < pool.Count; i++)
            byIndex[i] = _backends[pool[i].Id];
        Scheduler.Rebuild(pool);
        if (!ReferenceEquals(Scheduler, _maglev))
            _maglev.Rebuild(pool);
        _byIndex = byIndex;
        _havePool = true;
    }
}
