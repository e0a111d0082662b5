using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Offload.Balancer.Health;
using Offload.Protocol.Agent;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Offload.Router.Agents;

/// <summary>One agent's last accepted report, as the router holds it.</summary>
/// <param name="Figure">The load the load-aware policies compare: the CPU share, raised to the Balancer's overload
/// factor when memory or connections run out first (0 idle .. 1 saturated).</param>
internal sealed record AgentLoad(long Received, TimeSpan Interval, double Figure, int? Weight, bool Drain);

/// <summary>
/// The router's ear for <c>offload agent</c>: takes the agents' signed load reports on <c>router.agentListen</c> by
/// the gateway's rules (<see cref="AgentReportVerifier"/>), keeps each agent's last figure, weight and drain flag for
/// the load-balancing policies, and takes a backend whose agent fell silent (no report for <c>fall</c> of its
/// intervals) out of every pool it is in, through YARP's passive health state, until it reports again. Passive,
/// because the router does not ask: it only listens.
/// </summary>
/// <remarks>One receive task writes the reports; a timer on the injected clock judges silence; policies read from any thread.</remarks>
internal sealed class AgentLoadFeed : IDisposable
{
    public const string AgentKey = "offload.agent";

    /// <summary>The name of the passive policy of pools with agents; it leaves YARP's per-request signals alone.</summary>
    public const string PassivePolicyName = "OffloadAgentSilence";

    private readonly IAgentTransport? _transport;
    private readonly AgentReportVerifier _verifier;
    private readonly Dictionary<string, AgentEndpoint> _agents = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, AgentLoad> _latest = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly LoadPolicy _load = new();
    private readonly int _fall;
    private readonly long _started;
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _log;
    private Task _receive = Task.CompletedTask;
    private ITimer? _timer;
    private IProxyStateLookup? _state;
    private IDestinationHealthUpdater? _health;
    private long _accepted;
    private long _refused;

    public AgentLoadFeed(IAgentTransport? transport, IEnumerable<AgentEndpoint> agents, TimeProvider time, ILogger log, int fall = 3)
    {
        ArgumentNullException.ThrowIfNull(agents);
        _transport = transport;
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _log = log ?? throw new ArgumentNullException(nameof(log));
        _fall = fall;
        _verifier = new AgentReportVerifier(fall, TimeSpan.FromSeconds(30), time);
        _started = time.GetTimestamp();
        TryAdd(agents);
    }

    public System.Net.IPEndPoint? LocalEndPoint => _transport?.LocalEndPoint;

    public long Accepted => Interlocked.Read(ref _accepted);

    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Takes the agents of a new config. An id already known keeps its replay state, so it must keep its key.</summary>
    /// <returns>Null when taken, else why not (nothing is taken then).</returns>
    public string? TryAdd(IEnumerable<AgentEndpoint> agents)
    {
        var list = agents.ToList();
        lock (_lock)
        {
            foreach (var a in list)
            {
                if (_agents.TryGetValue(a.Id, out var known) && !known.Key.Span.SequenceEqual(a.Key.Span))
                    return $"agent '{a.Id}' has a new key: restart the router to take it (its replay state is tied to the old one)";
            }
            foreach (var a in list)
            {
                if (_agents.TryAdd(a.Id, a))
                    _verifier.Add(a);
            }
        }
        return null;
    }

    /// <summary>Starts listening and judging silence; the proxy's state and health updater come from its host.</summary>
    public void Start(IProxyStateLookup state, IDestinationHealthUpdater health)
    {
        _state = state;
        _health = health;
        if (_transport is not null)
            _receive = Task.Run(() => ReceiveLoop(_stop.Token));
        _timer = _time.CreateTimer(static s => ((AgentLoadFeed)s!).Judge(), this, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
    }

    public AgentLoad? Of(DestinationState destination) =>
        AgentOf(destination) is { } id && _latest.TryGetValue(id, out var load) ? load : null;

    /// <summary>The weight a backend gets new requests by: 0 while its agent drains it, the agent's own weight when it sets one, else the configured one.</summary>
    public int WeightOf(DestinationState destination)
    {
        var load = Of(destination);
        if (load is { Drain: true })
            return 0;
        return load?.Weight ?? LoadBalancing.WeightedPolicy.WeightOf(destination);
    }

    /// <summary>True once the agent has been silent for its fall time (from the router's start, when never heard).</summary>
    public bool IsSilent(string agentId)
    {
        long now = _time.GetTimestamp();
        AgentEndpoint? config;
        lock (_lock)
            _agents.TryGetValue(agentId, out config);
        if (config is null)
            return false;
        if (!_latest.TryGetValue(agentId, out var load))
            return _time.GetElapsedTime(_started, now) > config.ExpectedInterval * _fall;
        return _time.GetElapsedTime(load.Received, now) > load.Interval * _fall;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _timer?.Dispose();
        _transport?.Dispose();
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

    private static string? AgentOf(DestinationState d) =>
        d.Model.Config.Metadata is { } meta && meta.TryGetValue(AgentKey, out string? id) ? id : null;

    private void Judge()
    {
        if (_state is null || _health is null)
            return;
        try
        {
            foreach (var cluster in _state.GetClusters())
            {
                foreach (var d in cluster.Destinations.Values)
                {
                    if (AgentOf(d) is not { } id)
                        continue;
                    bool silent = IsSilent(id);
                    var passive = d.Health.Passive;
                    if (silent && passive != DestinationHealth.Unhealthy)
                    {
                        _log.LogWarning("Backend {Backend} of pool {Pool} leaves the pool: its agent {Agent} is silent", d.DestinationId, cluster.ClusterId, id);
                        // Reactivation by time is not what brings it back (its agent being heard again is, below); YARP's timer
                        // takes at most 49 days, and should it fire first the next tick marks the backend again.
                        _health.SetPassive(cluster, d, DestinationHealth.Unhealthy, TimeSpan.FromDays(30));
                    }
                    else if (!silent && passive == DestinationHealth.Unhealthy)
                    {
                        _log.LogInformation("Backend {Backend} of pool {Pool} rejoins: its agent {Agent} reports again", d.DestinationId, cluster.ClusterId, id);
                        _health.SetPassive(cluster, d, DestinationHealth.Healthy, TimeSpan.Zero);
                    }
                }
            }
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            // A reload swapped the clusters under the walk; the next tick sees the new ones.
        }
    }

    private async Task ReceiveLoop(CancellationToken ct)
    {
        byte[] buffer = new byte[AgentProtocol.MaxLength + 1];
        while (!ct.IsCancellationRequested)
        {
            AgentDatagram d;
            try
            {
                d = await _transport!.ReceiveAsync(buffer, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (System.Net.Sockets.SocketException) when (!ct.IsCancellationRequested)
            {
                continue;
            }
            Take(buffer.AsSpan(0, d.Length));
        }
    }

    private void Take(ReadOnlySpan<byte> datagram)
    {
        AgentReject r;
        AgentFrame frame;
        AgentEndpoint? from;
        lock (_lock)
            r = _verifier.Verify(datagram, out frame, out from);
        if (r != AgentReject.None || from is null)
        {
            Interlocked.Increment(ref _refused);
            return;
        }
        double figure = Math.Max(frame.Cpu, _load.Overload(frame.Cpu, frame.Memory, frame.Connections));
        TimeSpan interval = frame.Interval > TimeSpan.Zero ? frame.Interval : from.ExpectedInterval;
        _latest[from.Id] = new AgentLoad(_time.GetTimestamp(), interval, Math.Clamp(figure, 0, 1), frame.Weight, frame.Drain);
        Interlocked.Increment(ref _accepted);
    }
}
