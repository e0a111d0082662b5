using System.Collections.Concurrent;
using System.Net;
using Offload.Balancer.Classification;
using Offload.Protocol.Agent;

namespace Offload.Balancer.Health;

/// <summary>What happens to a backend's established flows when it goes down (checks fail or its agent falls silent).</summary>
public enum DownPolicy
{
    /// <summary>
    /// The service drains it (<see cref="Service.RemoveBackend"/>): no new flows, existing ones run until the
    /// service's drain timeout and are then removed. When it comes back it is added again.
    /// </summary>
    Drain,

    /// <summary>Only health false: no new flows; existing ones run until they close or idle out.</summary>
    KeepFlows,

    /// <summary>
    /// As <see cref="Drain"/>, and whoever owns the flow table removes the backend's flows at once (the gateway does,
    /// on the transition): a client's next packet then reaches a live backend, which resets it, so it reconnects now
    /// instead of waiting for a timeout against a dead server (HAProxy's on-marked-down shutdown-sessions).
    /// </summary>
    RemoveFlows,
}

/// <summary>A backend's <c>offload agent</c> as a gateway knows it.</summary>
/// <param name="Address">Where the agent listens for queries; null when it cannot be queried (reports are still taken).</param>
/// <param name="Key">HMAC key shared with that agent.</param>
/// <param name="ExpectedInterval">Report interval assumed until the agent's first report says its own.</param>
public sealed record AgentEndpoint(string Id, IPEndPoint? Address, ReadOnlyMemory<byte> Key, TimeSpan ExpectedInterval);

/// <summary>
/// Turns an agent's CPU, memory and connection count into one overload factor 0..1: each resource ramps
/// linearly from 0 at its start to 1 at its full mark, and the largest counts, because one exhausted resource
/// is enough to make a backend slow. Connection capacity 0 leaves connections out.
/// </summary>
public sealed record LoadPolicy(
    double CpuStart = 0.70, double CpuFull = 0.95, double MemoryStart = 0.85, double MemoryFull = 0.98, uint ConnectionCapacity = 0, double ConnectionStart = 0.80)
{
    public double Overload(double cpu, double memory, uint connections)
    {
        double o = Math.Max(Ramp(cpu, CpuStart, CpuFull), Ramp(memory, MemoryStart, MemoryFull));
        if (ConnectionCapacity > 0)
            o = Math.Max(o, Ramp(connections / (double)ConnectionCapacity, ConnectionStart, 1));
        return o;
    }

    private static double Ramp(double x, double start, double full)
    {
        if (double.IsNaN(x) || x <= start)
            return 0;
        return x >= full ? 1 : (x - start) / (full - start);
    }
}

public sealed record HealthLoadOptions
{
    /// <summary>Missed report intervals after which an agent counts as silent and its backend goes down.</summary>
    public int AgentFall { get; init; } = 3;

    /// <summary>
    /// Reports whose sender time is further than this from ours are refused: after a gateway restart the replay
    /// guard is empty, and this bounds how old a replayed report can be. Null turns the check off.
    /// </summary>
    public TimeSpan? MaxClockSkew { get; init; } = TimeSpan.FromSeconds(30);

    public DownPolicy Down { get; init; } = DownPolicy.Drain;

    public LoadPolicy Load { get; init; } = new();
}

/// <summary>Where a backend's agent stands.</summary>
public enum AgentStatus
{
    /// <summary>The backend has no agent configured.</summary>
    None,

    /// <summary>Nothing heard since the handler started, still within the agent's fall time.</summary>
    Waiting,

    Fresh,

    /// <summary>No report for more than <see cref="HealthLoadOptions.AgentFall"/> intervals.</summary>
    Silent,
}

/// <summary>The handler's view of one backend of one service.</summary>
public sealed record BackendView(ServiceKey Service, string Id, bool Healthy, bool ChecksUp, AgentStatus Agent, int Weight, double Overload, bool Drain);

/// <summary>An active check of a backend.</summary>
public sealed record HealthCheck(IHealthProbe Probe, CheckOptions Options);

/// <summary>
/// The health-and-load handler: per backend of each service, active checks plus the reports of its agent.
/// A backend is healthy when all its checks are up and its agent is not silent (or it has none). Going down
/// takes it out of the scheduler's pool and applies <see cref="HealthLoadOptions.Down"/> to its flows. The
/// agent's drain flag sets the weight to 0 rather than removing the backend: the operator asks for no new
/// connections, not for existing ones to be cut at a deadline, and clearing the flag must bring the backend
/// back unchanged (a removed backend is forgotten once drained). The agent's weight replaces the configured
/// weight while it is set; CPU, memory and connections become <see cref="Service.SetLoad"/>.
/// </summary>
/// <remarks>
/// Threads: reports are received, authenticated and replay-checked on a task of their own, and checks run on
/// timer callbacks; neither touches a <see cref="Service"/>, which is not thread-safe. They leave their results
/// in a queue and in the checkers; <see cref="Apply"/>, called by the daemon's loop on the thread that owns the
/// services, is the only place that changes them. Configure (<see cref="AddAgent"/>, <see cref="AddBackend"/>)
/// before <see cref="Start"/>.
/// On start the handler queries every agent with an address, so a restarted gateway has its cache back as
/// soon as they answer, without waiting for their next report; until an agent is heard from, its backend's
/// service state is left as it is.
/// </remarks>
public sealed class HealthLoadHandler : IDisposable
{
    private readonly IAgentTransport _transport;
    private readonly HealthLoadOptions _options;
    private readonly TimeProvider _time;
    private readonly List<AgentState> _agents = [];
    private readonly Dictionary<string, AgentState> _agentsById = new(StringComparer.Ordinal);
    private readonly List<Target> _targets = [];
    private readonly ConcurrentQueue<Sample> _samples = new();
    private readonly AgentReportVerifier _verifier;
    private readonly long[] _rejects = new long[Enum.GetValues<AgentReject>().Length];
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[] _query = new byte[AgentProtocol.MaxLength];
    private readonly ulong _bootId;
    private Task _receive = Task.CompletedTask;
    private long _started;
    private bool _running;
    private ulong _querySequence;
    private long _accepted;
    private long _queriesSent;
    private int _disposed;

    public HealthLoadHandler(IAgentTransport transport, HealthLoadOptions? options = null, TimeProvider? time = null)
    {
        _transport = transport ?? throw new ArgumentNullException(nameof(transport));
        _options = options ?? new HealthLoadOptions();
        if (_options.AgentFall < 1)
            throw new ArgumentOutOfRangeException(nameof(options), _options.AgentFall, "agent fall must be at least 1 missed interval");
        _time = time ?? TimeProvider.System;
        _verifier = new AgentReportVerifier(_options.AgentFall, _options.MaxClockSkew, _time);
        _bootId = (ulong)((_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks / 10);
    }

    public HealthLoadOptions Options => _options;

    /// <summary>Reports taken (authenticated, fresh, not replayed).</summary>
    public long ReportsAccepted => Interlocked.Read(ref _accepted);

    public long QueriesSent => Interlocked.Read(ref _queriesSent);

    /// <summary>Datagrams refused for this reason so far.</summary>
    public long Rejected(AgentReject reason) => Interlocked.Read(ref _rejects[(int)reason]);

    /// <summary>
    /// Datagrams that named agent <paramref name="agentId"/> and were refused for this reason (a wrong key, a
    /// replay, a clock that is off); 0 for an id not configured. Malformed datagrams name no one and count only
    /// in <see cref="Rejected(AgentReject)"/>.
    /// </summary>
    public long Rejected(string agentId, AgentReject reason) =>
        _agentsById.TryGetValue(agentId, out AgentState? a) ? Interlocked.Read(ref a.Rejects[(int)reason]) : 0;

    public void AddAgent(AgentEndpoint agent)
    {
        ArgumentNullException.ThrowIfNull(agent);
        ThrowIfRunning();
        if (!AgentProtocol.IsValidId(agent.Id))
            throw new ArgumentException($"agent id '{agent.Id}' must be 1..{AgentProtocol.MaxIdLength} printable ASCII characters without spaces", nameof(agent));
        if (agent.Key.IsEmpty)
            throw new ArgumentException($"agent '{agent.Id}' needs a non-empty HMAC key", nameof(agent));
        if (agent.ExpectedInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(agent), agent.ExpectedInterval, $"agent '{agent.Id}': the expected report interval must be above zero");
        var state = new AgentState(agent) { Index = _agents.Count };
        if (!_agentsById.TryAdd(agent.Id, state))
            throw new ArgumentException($"agent '{agent.Id}' is configured twice", nameof(agent));
        _verifier.Add(agent);
        _agents.Add(state);
    }

    /// <summary>Watches a backend the service already has; <paramref name="agentId"/> names an agent added with <see cref="AddAgent"/>.</summary>
    public void AddBackend(Service service, string backendId, string? agentId, params IEnumerable<HealthCheck> checks)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(checks);
        ThrowIfRunning();
        BackendState backend = service.Find(backendId)
            ?? throw new ArgumentException($"service {service.Key} has no backend '{backendId}'", nameof(backendId));
        if (_targets.Any(t => ReferenceEquals(t.Service, service) && string.Equals(t.Id, backendId, StringComparison.Ordinal)))
            throw new ArgumentException($"backend '{backendId}' of service {service.Key} is watched already", nameof(backendId));
        AgentState? agent = null;
        if (agentId is not null && !_agentsById.TryGetValue(agentId, out agent))
            throw new ArgumentException($"backend '{backendId}' names agent '{agentId}', which is not configured", nameof(agentId));
        var checkers = checks.Select(c => new HealthChecker(c.Probe, c.Options, _time)).ToArray();
        _targets.Add(new Target(service, backend.Config, agent, checkers));
    }

    /// <summary>Starts the checks and the receive task, and queries every agent that has an address.</summary>
    public void Start()
    {
        ThrowIfRunning();
        _running = true;
        _started = _time.GetTimestamp();
        _receive = Task.Run(() => ReceiveLoop(_stop.Token));
        foreach (Target t in _targets)
        {
            foreach (HealthChecker c in t.Checks)
                c.Start();
        }
        long now = _time.GetTimestamp();
        foreach (AgentState a in _agents)
            Query(a, now);
    }

    /// <summary>
    /// Brings the services in line with what checks and agents say. Call it from the thread that owns the
    /// services, as often as the daemon loop runs; returns how many service calls it made.
    /// </summary>
    public int Apply()
    {
        long now = _time.GetTimestamp();
        while (_samples.TryDequeue(out Sample s))
        {
            AgentState a = _agents[s.Agent];
            a.Heard = true;
            a.LastHeard = s.Received;
            a.Interval = s.Interval;
            a.Weight = s.Weight;
            a.Drain = s.Drain;
            a.Overload = Math.Clamp(_options.Load.Overload(s.Cpu, s.Memory, s.Connections), 0, 1);
            a.Generation++;
        }
        // An agent that missed a report is asked once per interval: a lost datagram then costs one interval, not its fall time.
        foreach (AgentState a in _agents)
        {
            bool missed = !a.Heard || _time.GetElapsedTime(a.LastHeard, now) > 2 * a.Interval;
            if (missed && (!a.Queried || _time.GetElapsedTime(a.LastQuery, now) >= a.CurrentInterval))
                Query(a, now);
        }
        int calls = 0;
        foreach (Target t in _targets)
            calls += ApplyTarget(t, now);
        return calls;
    }

    /// <summary>The checkers of one watched backend, for views and metrics (their state may be read from any thread).</summary>
    public IReadOnlyList<HealthChecker> ChecksOf(Service service, string backendId)
    {
        foreach (Target t in _targets)
        {
            if (ReferenceEquals(t.Service, service) && string.Equals(t.Id, backendId, StringComparison.Ordinal))
                return t.Checks;
        }
        return [];
    }

    /// <summary>The handler's view of every watched backend (on the <see cref="Apply"/> thread).</summary>
    public IReadOnlyList<BackendView> View()
    {
        long now = _time.GetTimestamp();
        var list = new List<BackendView>(_targets.Count);
        foreach (Target t in _targets)
        {
            BackendState? b = t.Service.Find(t.Id);
            AgentStatus status = t.Agent is null ? AgentStatus.None : Status(t.Agent, now);
            bool checksUp = ChecksUp(t);
            list.Add(new BackendView(t.Service.Key, t.Id, checksUp && status != AgentStatus.Silent, checksUp, status,
                b?.Config.Weight ?? 0, b?.Overload ?? 0, t.Agent is { Heard: true, Drain: true }));
        }
        return list;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        _stop.Cancel();
        foreach (Target t in _targets)
        {
            foreach (HealthChecker c in t.Checks)
                c.Dispose();
        }
        _transport.Dispose();
        try
        {
            _receive.Wait();
        }
        catch (AggregateException)
        {
            // The loop ends by the transport closing under it.
        }
        _stop.Dispose();
    }

    private int ApplyTarget(Target t, long now)
    {
        Service service = t.Service;
        AgentState? agent = t.Agent;
        AgentStatus status = agent is null ? AgentStatus.None : Status(agent, now);
        bool healthy = ChecksUp(t) && status != AgentStatus.Silent;
        int calls = 0;
        BackendState? b = service.Find(t.Id);
        if (!healthy)
        {
            if (b is { Config.Healthy: true })
            {
                service.SetHealth(t.Id, false);
                calls++;
            }
            if (_options.Down is DownPolicy.Drain or DownPolicy.RemoveFlows && b is { Draining: false })
            {
                service.RemoveBackend(t.Id);
                t.DrainedByUs = true;
                calls++;
            }
        }
        else
        {
            if (t.DrainedByUs && (b is null || b.Draining))
            {
                // SetBackend brings a draining backend back, or adds it again once the drain has forgotten it.
                // From the backend as it is (its MAC may have been learnt since), or as it was configured once forgotten.
                b = service.SetBackend((b?.Config ?? t.Baseline) with { Weight = DesiredWeight(t, b), Healthy = true });
                calls++;
            }
            t.DrainedByUs = false;
            if (b is { Config.Healthy: false })
            {
                service.SetHealth(t.Id, true);
                calls++;
            }
        }
        if (b is not null && agent is { Heard: true })
        {
            int weight = DesiredWeight(t, b);
            if (b.Config.Weight != weight)
            {
                service.SetWeight(t.Id, weight);
                calls++;
            }
            if (t.LoadGeneration != agent.Generation)
            {
                service.SetLoad(t.Id, agent.Overload);
                t.LoadGeneration = agent.Generation;
                calls++;
            }
        }
        return calls;
    }

    private static int DesiredWeight(Target t, BackendState? b)
    {
        if (t.Agent is not { Heard: true } a)
            return b?.Config.Weight ?? t.Baseline.Weight;
        return a.Drain ? 0 : a.Weight ?? t.Baseline.Weight;
    }

    private static bool ChecksUp(Target t)
    {
        foreach (HealthChecker c in t.Checks)
        {
            if (!c.Up)
                return false;
        }
        return true;
    }

    private AgentStatus Status(AgentState a, long now)
    {
        if (!a.Heard)
        {
            TimeSpan sinceStart = _time.GetElapsedTime(_started, now);
            return sinceStart <= a.Config.ExpectedInterval * _options.AgentFall ? AgentStatus.Waiting : AgentStatus.Silent;
        }
        return _time.GetElapsedTime(a.LastHeard, now) <= a.Interval * _options.AgentFall ? AgentStatus.Fresh : AgentStatus.Silent;
    }

    private void Query(AgentState a, long now)
    {
        if (a.Config.Address is null)
            return;
        int n = AgentCodec.WriteQuery(_query, new AgentQuery(a.Config.Id, _bootId, ++_querySequence, _time.GetUtcNow()), a.Config.Key.Span);
        _transport.Send(_query.AsSpan(0, n), a.Config.Address);
        a.LastQuery = now;
        a.Queried = true;
        Interlocked.Increment(ref _queriesSent);
    }

    private async Task ReceiveLoop(CancellationToken ct)
    {
        byte[] buffer = new byte[AgentProtocol.MaxLength + 1];
        while (!ct.IsCancellationRequested)
        {
            AgentDatagram d;
            try
            {
                d = await _transport.ReceiveAsync(buffer, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (System.Net.Sockets.SocketException) when (!ct.IsCancellationRequested)
            {
                continue;
            }
            AgentReject r = Take(buffer.AsSpan(0, d.Length), out AgentState? from);
            if (r == AgentReject.None)
            {
                Interlocked.Increment(ref _accepted);
            }
            else
            {
                Interlocked.Increment(ref _rejects[(int)r]);
                if (from is not null)
                    Interlocked.Increment(ref from.Rejects[(int)r]);
            }
        }
    }

    /// <summary>Checks one datagram in full and queues it for <see cref="Apply"/>. Runs on the receive task only.</summary>
    private AgentReject Take(ReadOnlySpan<byte> datagram, out AgentState? from)
    {
        AgentReject r = _verifier.Verify(datagram, out AgentFrame frame, out AgentEndpoint? endpoint);
        from = endpoint is null ? null : _agentsById[endpoint.Id];
        if (r != AgentReject.None)
            return r;
        _samples.Enqueue(new Sample(from!.Index, _time.GetTimestamp(), frame.Interval, frame.Weight, frame.Drain, frame.Cpu, frame.Memory, frame.Connections));
        return AgentReject.None;
    }

    private void ThrowIfRunning()
    {
        if (_running)
            throw new InvalidOperationException("the handler is running: configure agents and backends before Start");
    }

    private readonly record struct Sample(int Agent, long Received, TimeSpan Interval, int? Weight, bool Drain, double Cpu, double Memory, uint Connections);

    /// <summary>One agent's last report, as <see cref="Apply"/> holds it.</summary>
    private sealed class AgentState(AgentEndpoint config)
    {
        public AgentEndpoint Config { get; } = config;

        public int Index { get; set; } = -1;

        public bool Heard { get; set; }

        public long LastHeard { get; set; }

        public long LastQuery { get; set; }

        public bool Queried { get; set; }

        public TimeSpan Interval { get; set; }

        public TimeSpan CurrentInterval => Heard ? Interval : Config.ExpectedInterval;

        public int? Weight { get; set; }

        public bool Drain { get; set; }

        public double Overload { get; set; }

        /// <summary>Bumped by every report, so each target applies each report's load once.</summary>
        public long Generation { get; set; }

        /// <summary>Refusals of datagrams naming this agent, by <see cref="AgentReject"/>; written by the receive task.</summary>
        public long[] Rejects { get; } = new long[Enum.GetValues<AgentReject>().Length];
    }

    private sealed class Target(Service service, BackendConfig baseline, AgentState? agent, HealthChecker[] checks)
    {
        public Service Service { get; } = service;

        public string Id => Baseline.Id;

        /// <summary>The backend as configured: what a drained backend is added back as.</summary>
        public BackendConfig Baseline { get; } = baseline;

        public AgentState? Agent { get; } = agent;

        public HealthChecker[] Checks { get; } = checks;

        public bool DrainedByUs { get; set; }

        public long LoadGeneration { get; set; }
    }
}
