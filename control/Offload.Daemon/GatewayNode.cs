using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Offload.Balancer.Classification;
using Offload.Balancer.Health;
using Offload.Balancer.Sync;
using Offload.Balancer.Tracking;
using Offload.Device;
using Offload.Gateway;
using Offload.Group;
using Offload.Protocol;
using Offload.Protocol.Agent;
using Offload.Protocol.Glbp;

namespace Offload.Daemon;

/// <summary>
/// One gateway on one device: the GLBP groups (election, forwarders, ARP responder), the balancer (services,
/// classifier, session tracker over the hardware flow table), session sync, the load meter and the health handler,
/// wired together and driven by <see cref="Step"/> from one loop thread.
/// <para>
/// Threads: the loop thread owns the balancer (services, tracker, classifier, sync), none of which is thread-safe.
/// Group timers fire on the <see cref="TimeProvider"/>'s threads and touch the device only through
/// <see cref="DataplaneForwardingPlane"/> and <see cref="HostPortGlbpTransport"/>; the <see cref="Offload.Device.Dataplane"/>
/// is the device's one owner and serializes every access, so no caller holds a lock for it. Group events are only queued
/// by their handler and acted on by the loop, so the sync engine is never called from a timer. Views for the API
/// take <c>_state</c>, which <see cref="Step"/> holds for its whole round. Lock order: state, group, then the dataplane's own.
/// </para>
/// <para>
/// Start-up never wipes what a previous control plane left in the data plane: the flow table is read back
/// (<see cref="FlowTableStart.Load"/>) and the next-hop table is not touched except for configured backends and
/// routes, so a restart over the same device keeps every established flow forwarding in hardware. Only the vMAC
/// filter and the group table are cleared, because the groups start over and must not answer for what they do
/// not hold yet.
/// </para>
/// </summary>
public sealed class GatewayNode : IDisposable
{
    private readonly GatewayConfig _config;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Lock _state = new();
    private readonly Dataplane _dataplane;
    private readonly WaitHandle? _attention;
    private readonly FlowTableManager _flows;
    private readonly SessionTracker _tracker;
    private readonly Classifier _classifier;
    private readonly SyncEngine? _sync;
    private readonly GatewayHost _host;
    private readonly List<GlbpGroup> _groups = [];
    private readonly ForwarderLoadMeter _meter;
    private readonly HealthLoadHandler? _health;
    private readonly ConcurrentQueue<GlbpEvent> _events = new();
    private readonly Dictionary<(ServiceKey, string), bool> _backendHealth = [];
    private readonly List<(GroupTrack Track, GlbpGroup Group, Service Service, bool Up)> _tracks = [];
    private readonly byte[] _frame;
    private readonly long[] _reasons = new long[16];
    private long _syncMalformedSeen;
    private long _syncDroppedSeen;
    private readonly long[] _agentRefusedSeen = new long[Enum.GetValues<AgentReject>().Length];
    private long? _agentRefusedLoggedAt;
    private volatile int _flowCount;
    private bool _started;
    private readonly DataplaneForwardingPlane _plane;
    private DateTimeOffset? _holdOverEnds;
    private bool _disposed;

    /// <param name="config">A validated configuration (<see cref="GatewayConfig.Load"/>).</param>
    /// <param name="device">The data plane; the node does not own it (a restart builds a new node over the same device).</param>
    /// <param name="time">The clock of every timer and timeout.</param>
    /// <param name="loggers">Where logs go.</param>
    public GatewayNode(GatewayConfig config, IDevice device, TimeProvider time, ILoggerFactory loggers)
    {
        _config = config ?? throw new ArgumentNullException(nameof(config));
        ArgumentNullException.ThrowIfNull(device);
        _time = time ?? throw new ArgumentNullException(nameof(time));
        ArgumentNullException.ThrowIfNull(loggers);
        _log = loggers.CreateLogger<GatewayNode>();
        _dataplane = new Dataplane(device);
        _attention = (device as IHostAttention)?.HostAttention;
        var geometry = _dataplane.ReadGeometry();
        CheckFits(config, geometry);
        _frame = new byte[geometry.MaxFrame];

        ApplyBase(geometry);
        _flows = new FlowTableManager(_dataplane, geometry, FlowTableStart.Load);

        Services = new ServiceTable(_dataplane, [config.Port0Mac, config.Port1Mac], time);
        foreach (var spec in config.Services)
        {
            var service = Services.Add(spec.Config);
            foreach (var b in spec.Backends)
                service.SetBackend(b.Config);
        }
        foreach (var route in config.Routes)
            Services.Routes.Add(route);
        _tracker = new SessionTracker(_flows, Services);
        _classifier = new Classifier(_dataplane, Services, _tracker);
        _flowCount = _flows.Count;
        if (_tracker.Count > 0)
            _log.LogInformation("Restored {Sessions} sessions from {Entries} flow entries in the hardware table", _tracker.Count, _flows.Count);

        if (config.Sync is { } sync)
        {
            _sync = new SyncEngine(_tracker, Services, new DataplaneSyncTransport(_dataplane, config.Port0Mac, sync), sync);
            _log.LogInformation("Session sync to {Peers} peer(s) on UDP {Port}, boot {Boot}", sync.Peers.Count, sync.Port, _sync.BootId);
        }

        _plane = new DataplaneForwardingPlane(_dataplane);
        int adopted = _plane.AdoptFromHardware();
        if (adopted > 0)
            _log.LogInformation("Holding over {Vmacs} vMAC filter entries found in the hardware until the groups confirm them", adopted);
        var plane = _plane;
        var transport = new HostPortGlbpTransport(_dataplane, config.Port0Mac, config.LocalIp);
        _host = new GatewayHost(_dataplane, config.LocalIp) { OtherFrames = OnHostFrame };
        _meter = new ForwarderLoadMeter(_dataplane, time, TimeSpan.FromSeconds(1), ReportLoad, () => _flowCount);
        try
        {
            foreach (var options in config.Groups)
            {
                var group = new GlbpGroup(options, time, transport, plane, loggers.CreateLogger<GlbpGroup>());
                group.Changed += (_, e) => _events.Enqueue(e);
                // The vMACs this box's hardware still forwards for the group (a restarted control plane): the group
                // resumes them rather than forgetting them, so their hosts keep a forwarder whoever owns them.
                var resumed = new List<byte>();
                foreach (var mac in plane.VmacsOf(options.Group))
                {
                    if (GlbpVirtualMac.TryParse(mac.Value, out _, out byte number) && number != 0)
                        resumed.Add(number);
                }
                if (resumed.Count > 0)
                    group.Resume(resumed.ToArray());
                _host.Add(group);
                _groups.Add(group);
            }
            foreach (var t in config.Tracks)
            {
                var group = _groups.Single(g => g.GroupNumber == t.Group);
                group.Track(t.Id, t.Decrement);
                Services.TryFind(t.Service, out var service);
                _tracks.Add((t, group, service, true));
            }
            _health = CreateHealth(config, time);
        }
        catch
        {
            // Nothing was started yet, but the groups' timers and the agent socket exist: a refused node leaves nothing behind.
            foreach (var g in _groups)
                g.Dispose();
            _meter.Dispose();
            throw;
        }
        _log.LogInformation("Gateway {Name} at {Ip} on {Transport}: {Groups} group(s), {Services} service(s), {Routes} route(s)",
            config.Name, Ipv4Address.Format(config.LocalIp), device.Transport, _groups.Count, config.Services.Count, config.Routes.Count);
    }

    public GatewayConfig Config => _config;

    /// <summary>The device's owner: what the node's parts and the node's users reach the data plane through.</summary>
    public Dataplane Dataplane => _dataplane;

    public ServiceTable Services { get; }

    public IReadOnlyList<GlbpGroup> Groups => _groups;

    /// <summary>The tracker; only for the loop thread (and tests, between steps).</summary>
    public SessionTracker Tracker => _tracker;

    public Classifier Classifier => _classifier;

    public SyncEngine? Sync => _sync;

    public FlowTableManager Flows => _flows;

    public GatewayHost Host => _host;

    /// <summary>vMAC takeovers the glue handed to the sync engine, and flows it installed from them.</summary>
    public long Takeovers { get; private set; }

    public long TakeoverInstalls { get; private set; }

    public long Releases { get; private set; }

    /// <summary>Starts the groups, the load meter and the health checks; asks sync peers for what they hold for us.</summary>
    public void Start()
    {
        lock (_state)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_started)
                return;
            _started = true;
            _dataplane.SetWatchdog(_config.WatchdogCycles);
            // After one hold time every peer has taken over what this box's groups do not claim again.
            if (_plane.HeldOver > 0)
                _holdOverEnds = _time.GetUtcNow() + _config.Groups.Select(g => g.HoldTime).DefaultIfEmpty(TimeSpan.Zero).Max();
            foreach (var g in _groups)
                g.Start();
            _meter.Start();
            _health?.Start();
            if (_sync is not null)
            {
                _sync.RequestAll();
            }
        }
    }

    /// <summary>
    /// One loop round: group events, the host RX queue (GLBP to the groups, misses to the classifier, FIN/RST to the
    /// tracker, sync to the sync engine; the watchdog kick), tracker aging, sync timers, health results.
    /// Returns how many host frames it took (0: idle).
    /// </summary>
    public int Step()
    {
        lock (_state)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            DrainEvents();
            if (_holdOverEnds is { } ends && _time.GetUtcNow() >= ends)
            {
                _holdOverEnds = null;
                int dropped = _plane.EndHoldOver();
                if (dropped > 0)
                    _log.LogInformation("Hold-over ended: removed {Vmacs} vMAC(s) no group claims", dropped);
            }
            int n = _host.Step();
            DrainEvents();
            if (_health is not null)
            {
                _health.Apply();
                NoteHealth();
                NoteAgentRefusals();
            }
            UpdateTracks();
            _tracker.Age();
            _sync?.Poll();
            NoteSync();
            _flowCount = _flows.Count;
            return n;
        }
    }

    /// <summary>The longest sleep of an idle loop on a device with a host-attention line: the group and session timers' grain.</summary>
    public static readonly TimeSpan AttentionPollInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>Steps until cancelled, sleeping briefly whenever a round found nothing to do.</summary>
    public void Run(CancellationToken cancellationToken)
    {
        Start();
        WaitHandle[]? waits = _attention is null ? null : [cancellationToken.WaitHandle, _attention];
        while (!cancellationToken.IsCancellationRequested)
        {
            int n;
            try
            {
                n = Step();
            }
            catch (DeviceException e)
            {
                _log.LogError(e, "Device error in the loop; retrying");
                n = 0;
            }
            if (n == 0)
            {
                // A device that raises a line when the host queue fills lets the loop sleep to the timers' pace;
                // without one the host queue is polled every 2 ms, so a first packet waits no longer than that.
                if (waits is not null)
                    WaitHandle.WaitAny(waits, AttentionPollInterval);
                else
                    cancellationToken.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(2));
            }
        }
    }

    public void Dispose()
    {
        lock (_state)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var g in _groups)
                g.Dispose();
            _meter.Dispose();
            _health?.Dispose();
        }
    }

    // Port MACs and SYNC_PORT, and an empty group table (ARP answers wait for the election). The vMAC filter, next
    // hops and flow entries are left as they are: they keep established connections forwarding across a
    // control-plane restart; the forwarding plane adopts the filter and holds it over until the groups know their
    // roles again.
    private void ApplyBase(DataplaneGeometry g)
    {
        _dataplane.WritePorts(_config.Port0Mac, _config.Port1Mac, (ushort)(_config.Sync?.Port ?? Protocol.Sync.SyncWire.DefaultPort));
        for (int i = 0; i < g.Groups; i++)
            _dataplane.WriteGroup(i, null);
        // Off while the flow table is read back, which takes longer than any sensible timeout; Start arms it.
        _dataplane.SetWatchdog(0);
    }

    private static void CheckFits(GatewayConfig config, DataplaneGeometry g)
    {
        if (config.Groups.Count > g.Groups)
            throw new GatewayConfigException("config", [$"groups: {config.Groups.Count} groups, the data plane has {g.Groups} group table entries"]);
        int half = g.NextHops / 2;
        foreach (var (s, i) in config.Services.Select((s, i) => (s, i)))
        {
            foreach (var (b, j) in s.Backends.Select((b, j) => (b, j)))
            {
                if (b.Config.NextHopIndex >= half)
                    throw new GatewayConfigException("config", [$"services[{i}].backends[{j}].nextHop: {b.Config.NextHopIndex} is in the client range {half}..{g.NextHops - 1} of this data plane"]);
            }
        }
    }

    private HealthLoadHandler? CreateHealth(GatewayConfig config, TimeProvider time)
    {
        bool any = config.Services.Any(s => s.Backends.Any(b => b.Check is not null || b.Agent is not null));
        if (!any)
            return null;
        var bind = config.AgentListen ?? new IPEndPoint(IPAddress.Loopback, 0);
        var handler = new HealthLoadHandler(new UdpAgentTransport(bind), new HealthLoadOptions(), time);
        try
        {
            AddWatched(handler, config);
        }
        catch
        {
            handler.Dispose();
            throw;
        }
        _log.LogInformation("Health: {Backends} watched backend(s), agent reports on {Bind}", _backendHealth.Count, bind);
        return handler;
    }

    private void AddWatched(HealthLoadHandler handler, GatewayConfig config)
    {
        // One agent runs per backend host, which may serve several services: it is added once.
        var agents = new HashSet<string>(StringComparer.Ordinal);
        foreach (var spec in config.Services)
        {
            Services.TryFind(spec.Config.Key, out var service);
            foreach (var b in spec.Backends)
            {
                if (b.Agent is { } a && agents.Add(a.Id))
                    handler.AddAgent(new AgentEndpoint(a.Id, a.Address, a.Key, a.Interval));
                if (b.Check is null && b.Agent is null)
                    continue;
                var checks = new List<HealthCheck>();
                if (b.Check is { } c)
                {
                    IHealthProbe probe = c.Http
                        ? new HttpGetProbe(c.Target, c.Target.Address.ToString(), c.Path)
                        : new TcpConnectProbe(c.Target);
                    checks.Add(new HealthCheck(probe, new CheckOptions(c.Interval, c.Timeout, c.Rise, c.Fall)));
                }
                handler.AddBackend(service!, b.Config.Id, b.Agent?.Id, checks);
                _backendHealth[(spec.Config.Key, b.Config.Id)] = true;
            }
        }
    }

    private void ReportLoad(double pps, int flows)
    {
        foreach (var g in _groups)
            g.SetLocalLoad(pps, flows);
    }

    // Frames the gateway host does not keep (everything but GLBP). Runs on the loop thread inside Step.
    private void OnHostFrame(in HostFrame meta, ReadOnlySpan<byte> frame)
    {
        // A takeover queued by a hello earlier in this round installs its flows before the misses behind it are classified.
        DrainEvents();
        _reasons[(int)meta.Reason & 15]++;
        switch (meta.Reason)
        {
            case HostReason.Miss:
                frame.CopyTo(_frame);
                _classifier.Classify(meta.IngressPort, _frame.AsSpan(0, frame.Length));
                break;
            case HostReason.FinRst:
                _tracker.OnFinRst(meta);
                break;
            case HostReason.Protocol:
                _sync?.TryHandleFrame(meta, frame);
                break;
            default:
                // ARP copies and requests, TTL expiries, exceptions: counted only (see the metrics).
                break;
        }
    }

    private void DrainEvents()
    {
        while (_events.TryDequeue(out var e))
        {
            switch (e)
            {
                case GatewayStateChanged s:
                    // The group logs its own elections; this line only ties them to the gateway's other events at debug level.
                    _log.LogDebug("GLBP group {Group}: gateway {From} -> {To} ({Reason})", s.Group, s.From, s.To, s.Reason);
                    break;
                case ForwarderStateChanged f:
                    OnForwarder(f);
                    break;
                case ForwarderNotice n:
                    _log.LogInformation("GLBP group {Group}: forwarder {Forwarder} of {Owner} {Kind}", n.Group, n.Forwarder, new MacAddress(n.OwnerMac), n.Kind);
                    break;
                default:
                    break;
            }
        }
    }

    private void OnForwarder(ForwarderStateChanged f)
    {
        var vmac = new MacAddress(f.Vmac);
        bool own = IsOwn(f.Group, f.Forwarder);
        _log.LogInformation("GLBP group {Group}: forwarder {Forwarder} ({Vmac}, {Whose}) {From} -> {To} ({Reason})",
            f.Group, f.Forwarder, vmac, own ? "own" : "peer's", f.From, f.To, f.Reason);
        if (_sync is null)
            return;
        if (f.To == ForwarderState.Active && f.From != ForwarderState.Active)
        {
            int installed;
            // Our own vMAC goes through the same call: a peer may hold flows of it for us after our restart.
            installed = _sync.OnVmacTakenOver(vmac);
            if (!own)
                Takeovers++;
            TakeoverInstalls += installed;
            if (!own || installed > 0)
                _log.LogWarning("Took over {Vmac} (group {Group}, forwarder {Forwarder}): installed {Flows} synced flow(s)", vmac, f.Group, f.Forwarder, installed);
        }
        else if (f.From == ForwarderState.Active && f.To != ForwarderState.Active)
        {
            int released;
            released = _sync.OnVmacReleased(vmac);
            Releases++;
            _log.LogWarning("Released {Vmac} (group {Group}, forwarder {Forwarder}): {Sessions} session(s) left this table", vmac, f.Group, f.Forwarder, released);
        }
    }

    private bool IsOwn(ushort group, byte forwarder)
    {
        foreach (var g in _groups)
        {
            if (g.GroupNumber != group)
                continue;
            foreach (var f in g.Snapshot().Forwarders)
            {
                if (f.Number == forwarder)
                    return f.Owned;
            }
        }
        return false;
    }

    // A pool counts as up while enough backends are healthy and not draining; the group hears only changes.
    private void UpdateTracks()
    {
        for (int i = 0; i < _tracks.Count; i++)
        {
            var (track, group, service, wasUp) = _tracks[i];
            int healthy = 0;
            foreach (var b in service.Backends)
            {
                if (b.Config.Healthy && !b.Draining && b.Config.Weight > 0)
                    healthy++;
            }
            bool up = healthy >= track.MinHealthy;
            if (up == wasUp)
                continue;
            _tracks[i] = (track, group, service, up);
            group.SetTrackedObject(track.Id, up);
            _log.LogWarning("GLBP group {Group}: tracked pool {Service} is {State} ({Healthy} healthy, {Needed} needed): weighting {Weighting}",
                track.Group, Describe(track.Service), up ? "up" : "down", healthy, track.MinHealthy, group.Snapshot().Weighting);
        }
    }

    private void NoteHealth()
    {
        foreach (var v in _health!.View())
        {
            var key = (v.Service, v.Id);
            if (_backendHealth.TryGetValue(key, out bool was) && was == v.Healthy)
                continue;
            _backendHealth[key] = v.Healthy;
            if (v.Healthy)
                _log.LogInformation("Backend {Backend} of {Service} is up", v.Id, Describe(v.Service));
            else
                _log.LogWarning("Backend {Backend} of {Service} is down (checks {Checks}, agent {Agent})", v.Id, Describe(v.Service), v.ChecksUp ? "up" : "down", v.Agent);
        }
    }

    /// <summary>How often refused agent reports may reach the log: a misconfigured agent sends one every interval, forever.</summary>
    public static readonly TimeSpan AgentRefusalLogInterval = TimeSpan.FromMinutes(1);

    // One line per reason-summary and at most one per minute: the first refusal shows at once, a flood does not flood the log.
    private void NoteAgentRefusals()
    {
        long now = _time.GetTimestamp();
        if (_agentRefusedLoggedAt is { } last && _time.GetElapsedTime(last, now) < AgentRefusalLogInterval)
            return;
        var parts = new List<string>();
        long total = 0;
        foreach (var reason in Enum.GetValues<AgentReject>())
        {
            long count = _health!.Rejected(reason);
            long delta = count - _agentRefusedSeen[(int)reason];
            if (delta <= 0)
                continue;
            _agentRefusedSeen[(int)reason] = count;
            total += delta;
            var agents = _config.Services.SelectMany(static s => s.Backends).Select(static b => b.Agent?.Id).OfType<string>().Distinct(StringComparer.Ordinal)
                .Where(id => _health.Rejected(id, reason) > 0);
            string who = string.Join(", ", agents);
            parts.Add(who.Length > 0 ? $"{reason} {delta} (agents {who})" : $"{reason} {delta}");
        }
        if (total == 0)
            return;
        _agentRefusedLoggedAt = now;
        _log.LogWarning("Agent reports refused: {Count} since the last note ({Reasons}); `offload show backends` and /metrics count them all",
            total, string.Join("; ", parts));
    }

    private static Dictionary<string, long>? Seen(Func<AgentReject, long> count)
    {
        Dictionary<string, long>? seen = null;
        foreach (var reason in Enum.GetValues<AgentReject>())
        {
            long n = reason == AgentReject.None ? 0 : count(reason);
            if (n > 0)
                (seen ??= new(StringComparer.Ordinal))[reason.ToString()] = n;
        }
        return seen;
    }

    private void NoteSync()
    {
        if (_sync is null)
            return;
        long malformed = _sync.Counters.Count(SyncVerdict.Malformed);
        if (malformed != _syncMalformedSeen)
        {
            _log.LogWarning("Session sync refused {Count} malformed message(s); last error {Error}", malformed - _syncMalformedSeen, _sync.LastError);
            _syncMalformedSeen = malformed;
        }
        long dropped = _sync.Counters.MessagesDropped;
        if (dropped != _syncDroppedSeen)
        {
            _log.LogWarning("Session sync gave up on {Count} message(s) after {Retries} resends", dropped - _syncDroppedSeen, _config.Sync!.MaxRetries);
            _syncDroppedSeen = dropped;
        }
    }

    internal static string Describe(ServiceKey k) => string.Create(CultureInfo.InvariantCulture,
        $"{Ipv4Address.Format(k.VirtualIp)}:{k.Port}/{(k.Protocol == IpProtocol.Tcp ? "tcp" : k.Protocol == IpProtocol.Udp ? "udp" : k.Protocol.ToString(CultureInfo.InvariantCulture))}");

    internal static string Describe(in FlowKey k) => string.Create(CultureInfo.InvariantCulture,
        $"{Ipv4Address.Format(k.SrcIp)}:{k.SrcPort} > {Ipv4Address.Format(k.DstIp)}:{k.DstPort} ({k.Protocol}, port {k.InPort})");

    /// <summary>Host frames the loop took, by reason.</summary>
    public long HostFrames(HostReason reason) => _reasons[(int)reason & 15];

    // ---- views (any thread) ----

    public GlbpView GlbpView()
    {
        lock (_state)
        {
            var groups = new List<GlbpGroupView>();
            foreach (var g in _groups)
            {
                var s = g.Snapshot();
                var fw = s.Forwarders.Select(f => new GlbpForwarderView(f.Number, new MacAddress(f.Vmac).ToString(), new MacAddress(f.OwnerMac).ToString(),
                    f.Owned, f.State.ToString(), f.HolderIp == 0 ? "" : Ipv4Address.Format(f.HolderIp), f.Redirected,
                    g.TryGetForwarderLoad(f.Number, out var load) ? load.PacketsPerSecond : null, f.Weighting)).ToList();
                groups.Add(new GlbpGroupView(s.Group, s.State.ToString(), Ipv4Address.Format(s.VirtualIp), s.Priority, s.Weighting, s.Forwarding,
                    s.ActiveIp == 0 ? "" : Ipv4Address.Format(s.ActiveIp), s.StandbyIp == 0 ? "" : Ipv4Address.Format(s.StandbyIp), s.Members, fw));
            }
            return new GlbpView(_config.Name, Ipv4Address.Format(_config.LocalIp), groups);
        }
    }

    public FlowsView FlowsView(int limit = 100)
    {
        lock (_state)
        {
            var rows = _tracker.Sessions.Take(Math.Max(0, limit)).Select(s => new FlowRow(
                Describe(s.Forward),
                s.Service is { } svc ? Describe(svc.Key) : "routed",
                s.Backend?.Id ?? "",
                s.Reverse is { } r ? Describe(r) : null,
                s.State.ToString(),
                s.Vmac?.ToString(),
                s.FromPeer)).ToList();
            return new FlowsView(_config.Name, _tracker.Count, _flows.Count, _flows.Capacity, rows);
        }
    }

    public BackendsView BackendsView()
    {
        lock (_state)
            return new BackendsView(_config.Name, BackendRows(), _health is { } h ? Seen(h.Rejected) : null);
    }

    // Every configured backend, also one the health handler drained out of its service (it is down, not gone).
    private List<BackendRow> BackendRows()
    {
        var health = _health?.View().ToDictionary(v => (v.Service, v.Id));
        var rows = new List<BackendRow>();
        foreach (var spec in _config.Services)
        {
            Services.TryFind(spec.Config.Key, out var service);
            foreach (var b in spec.Backends)
            {
                var state = service?.Find(b.Config.Id);
                Balancer.Health.BackendView? h = null;
                health?.TryGetValue((spec.Config.Key, b.Config.Id), out h);
                bool healthy = (h?.Healthy ?? true) && (state?.Config.Healthy ?? false);
                var refused = _health is { } handler && b.Agent is { } agent ? Seen(r => handler.Rejected(agent.Id, r)) : null;
                rows.Add(new BackendRow(Describe(spec.Config.Key), b.Config.Id, Ipv4Address.Format(b.Config.Address), b.Config.Port, healthy,
                    h?.ChecksUp ?? true, (h?.Agent ?? AgentStatus.None).ToString(), state?.Config.Weight ?? 0, state?.Overload ?? 0,
                    state?.Sessions ?? 0, state is null || state.Draining, refused));
            }
        }
        return rows;
    }

    /// <summary>Everything /metrics serves, in the Prometheus text format.</summary>
    /// <summary>Adds the wire's own counters (the model's ports on Linux interfaces) to <see cref="Metrics"/>; set by the composition root.</summary>
    public Action<PrometheusWriter>? WireMetrics { get; set; }

    public string Metrics()
    {
        lock (_state)
        {
            DataplaneCounters hw;
            hw = _dataplane.ReadCounters();
            var m = new PrometheusWriter(_config.Name);
            m.Help("offload_glbp_gateway_state", "gauge", "AVG state of this gateway per group (1 for the current state)");
            m.Help("offload_glbp_forwarder_active", "gauge", "1 when this gateway forwards the vMAC");
            foreach (var g in _groups)
            {
                var s = g.Snapshot();
                string group = s.Group.ToString(CultureInfo.InvariantCulture);
                foreach (var st in Enum.GetValues<GatewayState>())
                    m.Sample("offload_glbp_gateway_state", s.State == st ? 1 : 0, ("group", group), ("state", st.ToString()));
                foreach (var f in s.Forwarders)
                {
                    m.Sample("offload_glbp_forwarder_active", f.State == ForwarderState.Active ? 1 : 0, ("group", group),
                        ("forwarder", f.Number.ToString(CultureInfo.InvariantCulture)), ("vmac", new MacAddress(f.Vmac).ToString()), ("owned", f.Owned ? "true" : "false"));
                }
            }
            m.Help("offload_flows_installed", "gauge", "flow entries in the hardware table");
            m.Sample("offload_flows_installed", _flows.Count);
            m.Help("offload_sessions_active", "gauge", "sessions the tracker holds");
            m.Sample("offload_sessions_active", _tracker.Count);
            m.Help("offload_classify_total", "counter", "punted first packets by what the classifier did");
            foreach (var o in Enum.GetValues<ClassifyOutcome>())
                m.Sample("offload_classify_total", _classifier.Count(o), ("outcome", o.ToString()));
            m.Help("offload_host_frames_total", "counter", "host RX frames the loop took, by reason");
            foreach (var r in Enum.GetValues<HostReason>())
                m.Sample("offload_host_frames_total", HostFrames(r), ("reason", r.ToString()));
            m.Help("offload_glbp_takeovers_total", "counter", "peer vMACs this gateway took over");
            m.Sample("offload_glbp_takeovers_total", Takeovers);
            m.Help("offload_glbp_takeover_installs_total", "counter", "synced flows installed when this gateway took a vMAC over");
            m.Sample("offload_glbp_takeover_installs_total", TakeoverInstalls);
            if (_sync is { } sync)
            {
                m.Help("offload_sync_messages_total", "counter", "session sync messages by what happened to them");
                m.Sample("offload_sync_messages_total", sync.Counters.MessagesSent, ("event", "sent"));
                m.Sample("offload_sync_messages_total", sync.Counters.Resent, ("event", "resent"));
                m.Sample("offload_sync_messages_total", sync.Counters.Count(SyncVerdict.Acked), ("event", "acked"));
                m.Sample("offload_sync_messages_total", sync.Counters.MessagesDropped, ("event", "dropped"));
                m.Sample("offload_sync_messages_total", sync.Counters.Count(SyncVerdict.Accepted), ("event", "accepted"));
                m.Sample("offload_sync_messages_total", sync.Counters.Count(SyncVerdict.Malformed), ("event", "malformed"));
                m.Help("offload_sync_stored_flows", "gauge", "peer flows held for takeover");
                m.Sample("offload_sync_stored_flows", sync.Stored.Count);
            }
            m.Help("offload_hw_port_total", "counter", "data-plane port counters");
            string[] names = ["rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "drop_runt", "drop_oversize", "drop_malformed", "drop_bad_csum",
                "drop_not_for_us", "drop_host_full", "punt", "ft_hit", "ft_miss", "arp_replies", "ttl_expired", "fin_rst"];
            for (int p = 0; p < 2; p++)
            {
                var c = hw.Port(p);
                for (int i = 0; i < names.Length; i++)
                    m.Sample("offload_hw_port_total", c[i], ("port", p.ToString(CultureInfo.InvariantCulture)), ("counter", names[i]));
            }
            m.Help("offload_hw_host_tx_total", "counter", "frames the control plane sent through the host TX queue");
            m.Sample("offload_hw_host_tx_total", hw.HostTxFrames, ("result", "sent"));
            m.Sample("offload_hw_host_tx_total", hw.HostTxDrops, ("result", "dropped"));
            if (_health is { } health)
            {
                m.Help("offload_agent_reports_total", "counter", "agent reports the health handler took");
                m.Sample("offload_agent_reports_total", health.ReportsAccepted);
                m.Help("offload_agent_reports_refused_total", "counter", "agent datagrams the health handler refused, by reason");
                foreach (var reason in Enum.GetValues<AgentReject>())
                {
                    if (reason != AgentReject.None)
                        m.Sample("offload_agent_reports_refused_total", health.Rejected(reason), ("reason", reason.ToString()));
                }
            }
            m.Help("offload_backend_sessions", "gauge", "sessions per backend");
            m.Help("offload_backend_healthy", "gauge", "1 while the backend is in its pool (checks and agent)");
            m.Help("offload_backend_weight", "gauge", "the backend's weight in the Maglev table (0 while draining)");
            m.Help("offload_backend_agent_reports_refused_total", "counter", "agent datagrams refused per backend, by reason");
            foreach (var b in BackendRows())
            {
                m.Sample("offload_backend_sessions", b.Sessions, ("service", b.Service), ("backend", b.Id));
                m.Sample("offload_backend_healthy", b.Healthy ? 1 : 0, ("service", b.Service), ("backend", b.Id));
                m.Sample("offload_backend_weight", b.Weight, ("service", b.Service), ("backend", b.Id));
                foreach (var (reason, count) in b.AgentRefused ?? new Dictionary<string, long>())
                    m.Sample("offload_backend_agent_reports_refused_total", count, ("service", b.Service), ("backend", b.Id), ("reason", reason));
            }
            WireMetrics?.Invoke(m);
            return m.ToString();
        }
    }
}
