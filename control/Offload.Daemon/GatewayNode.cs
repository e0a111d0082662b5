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
public sealed partial class GatewayNode : IDisposable
{
    // Replaced by a reload (Reload), only under _state.
    private GatewayConfig _config;
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
    private HealthLoadHandler? _health;
    private readonly ILoggerFactory _loggers;
    private readonly HostPortGlbpTransport _transport;
    private readonly uint _txFreeIdle;
    private readonly ConcurrentQueue<GlbpEvent> _events = new();
    private readonly Dictionary<(ServiceKey, string), bool> _backendHealth = [];
    private readonly List<(GroupTrack Track, GlbpGroup Group, Service Service, bool Up)> _tracks = [];
    private readonly byte[] _frame;
    private readonly long[] _reasons = new long[16];
    private readonly PrometheusWriter _metrics;
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
        _loggers = loggers;
        _log = loggers.CreateLogger<GatewayNode>();
        _dataplane = new Dataplane(device);
        _attention = (device as IHostAttention)?.HostAttention;
        var geometry = _dataplane.ReadGeometry();
        CheckFits(config, geometry);
        _frame = new byte[geometry.MaxFrame];
        _metrics = new PrometheusWriter(config.Name);

        ApplyBase(geometry);
        _flows = new FlowTableManager(_dataplane, geometry, FlowTableStart.Load);

        Services = new ServiceTable(_dataplane, [config.Port0Mac, config.Port1Mac], time);
        _neighbours = new NeighbourTable(_dataplane, time, [config.Port0Mac, config.Port1Mac], [config.LocalIp, config.Port1Ip], loggers.CreateLogger<NeighbourTable>());
        _neighbours.Changed += OnNeighbourChanged;
        AssignNextHops(config, geometry);
        foreach (var spec in config.Services)
        {
            var service = Services.Add(spec.Config);
            foreach (var b in spec.Backends)
                service.SetBackend(Bound(b.Config));
        }
        foreach (var route in config.Routes)
        {
            if (Bound(route) is { } bound)
                Services.Routes.Add(bound);
        }
        WatchNeighbours(config);
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
        _transport = new HostPortGlbpTransport(_dataplane, config.Port0Mac, config.LocalIp);
        // What HOST_TX_FREE reads with the queue empty: a resign waits for it before the process lets the device go.
        _txFreeIdle = _dataplane.Read(Offload.Device.Reg.HostTxFree);
        _host = new GatewayHost(_dataplane, config.LocalIp) { OtherFrames = OnHostFrame };
        _meter = new ForwarderLoadMeter(_dataplane, time, TimeSpan.FromSeconds(1), ReportLoad, () => _flowCount);
        try
        {
            foreach (var options in config.Groups)
                AddGroup(options);
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

    /// <summary>The health-and-load handler, null when no backend is checked or has an agent.</summary>
    internal HealthLoadHandler? Health => _health;

    /// <summary>Adds the wire's own counters (the model's ports on Linux interfaces) to <see cref="Metrics"/>; set by the composition root.</summary>
    public Action<PrometheusWriter>? WireMetrics { get; set; }

    /// <summary>Everything /metrics serves, in the Prometheus text format (<see cref="GatewayMetrics"/>).</summary>
    public string Metrics()
    {
        lock (_state)
            return _metrics.Collect(m => GatewayMetrics.Write(this, m));
    }

    /// <summary>vMAC takeovers the glue handed to the sync engine, and flows it installed from them.</summary>
    public long Takeovers { get; private set; }

    public long TakeoverInstalls { get; private set; }

    public long Releases { get; private set; }

    /// <summary>The device's host-attention line (raised when the host RX queue has work), null when it has none.</summary>
    internal WaitHandle? Attention => _attention;

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
        foreach (var spec in config.NextHops)
        {
            if (spec.Index >= half)
                throw new GatewayConfigException("config", [$"{spec.Key}: next hop {spec.Index} is in the client range {half}..{g.NextHops - 1} of this data plane"]);
        }
        foreach (var r in config.Routes)
        {
            if (r.Via == 0 && r.NextHopIndex >= half)
                throw new GatewayConfigException("config", [$"route {r}: next hop {r.NextHopIndex} is in the client range {half}..{g.NextHops - 1} of this data plane"]);
        }
    }

    // A group on this box: its events go to the loop; the vMACs this box's hardware still forwards for it (a restarted
    // control plane) are resumed rather than forgotten, so their hosts keep a forwarder whoever owns them.
    private GlbpGroup AddGroup(GlbpGroupOptions options)
    {
        var group = new GlbpGroup(options, _time, _transport, _plane, _loggers.CreateLogger<GlbpGroup>());
        group.Changed += (_, e) => _events.Enqueue(e);
        var resumed = new List<byte>();
        foreach (var mac in _plane.VmacsOf(options.Group))
        {
            if (GlbpVirtualMac.TryParse(mac.Value, out _, out byte number) && number != 0)
                resumed.Add(number);
        }
        if (resumed.Count > 0)
            group.Resume(resumed.ToArray());
        _host.Add(group);
        _groups.Add(group);
        return group;
    }

    private HealthLoadHandler? CreateHealth(GatewayConfig config, TimeProvider time)
    {
        bool any = config.Services.Any(s => s.Backends.Any(b => b.Check is not null || b.Agent is not null));
        if (!any)
            return null;
        var bind = config.AgentListen ?? new IPEndPoint(IPAddress.Loopback, 0);
        var handler = new HealthLoadHandler(new UdpAgentTransport(bind), new HealthLoadOptions { Down = config.OnBackendDown }, time);
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

    internal static string Describe(ServiceKey k) => string.Create(CultureInfo.InvariantCulture,
        $"{Ipv4Address.Format(k.VirtualIp)}:{k.Port}/{(k.Protocol == IpProtocol.Tcp ? "tcp" : k.Protocol == IpProtocol.Udp ? "udp" : k.Protocol.ToString(CultureInfo.InvariantCulture))}");

    internal static string Describe(in FlowKey k) => string.Create(CultureInfo.InvariantCulture,
        $"{Ipv4Address.Format(k.SrcIp)}:{k.SrcPort} > {Ipv4Address.Format(k.DstIp)}:{k.DstPort} ({k.Protocol}, port {k.InPort})");

}
