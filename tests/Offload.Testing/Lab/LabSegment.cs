using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Offload.Daemon;
using Offload.Device;
using Offload.Group;
using Offload.Testing.Simulation;

namespace Offload.Testing.Lab;

/// <summary>
/// A deterministic simulated LAN segment: gateways, each a <see cref="GatewayNode"/> on its own Verilator model, with
/// port 0 on one shared segment of emulated hosts and port 1 toward emulated backends, all on one virtual clock.
/// Every frame a live model sends out port 0 reaches port 0 of every other live model and the host it is addressed
/// to; what leaves port 1 goes to the backend it is addressed to, whose answer goes back into that gateway's port 1.
/// Nothing bypasses the models: GLBP hellos and session sync leave through host TX and arrive as host RX.
/// <para>Single-threaded: group timers fire on the caller of <see cref="Run"/>, so a run is a pure function of its inputs.</para>
/// </summary>
public sealed class LabSegment : IDisposable
{
    // LAST_SEEN is TIME >> 10: the models run this many cycles before each host frame and each clock step, so hits move it.
    public const ulong TimeStep = 4096;

    private readonly byte[] _buffer = new byte[16384];
    private readonly List<LabGateway> _gateways = [];
    private readonly List<LabHost> _hosts = [];
    private readonly Dictionary<ulong, LabHost> _hostByMac = [];
    private readonly List<(LabGateway To, byte[] Frame)> _pendingReplies = [];

    public LabSegment(DateTimeOffset? start = null)
    {
        Clock = new VirtualClock(start ?? new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
    }

    /// <summary>The one clock every gateway's timers run on; nothing but <see cref="Run"/> moves it.</summary>
    public VirtualClock Clock { get; }

    public IReadOnlyList<LabGateway> Gateways => _gateways;

    public IEnumerable<LabGateway> Live => _gateways.Where(g => g.Up);

    public IReadOnlyList<LabHost> Hosts => _hosts;

    public LabBackends Backends { get; } = new();

    /// <summary>Frames gateways put on the segment (port 0), counted for the record; hosts keep what is theirs.</summary>
    public long SegmentFrames { get; private set; }

    /// <summary>Adds a gateway on a new 64-bit model; it is not started (call <see cref="LabGateway.Node"/>.Start).</summary>
    public LabGateway AddGateway(GatewayConfig config, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var device = ModelDevice.Create(64);
        try
        {
            var g = new LabGateway(config, device, Clock, loggers ?? NullLoggerFactory.Instance);
            _gateways.Add(g);
            return g;
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    public LabHost AddHost(MacAddress mac, uint ip, ushort port)
    {
        var h = new LabHost(_hosts.Count, mac, ip, port);
        _hosts.Add(h);
        _hostByMac.Add(mac.Value, h);
        return h;
    }

    /// <summary>Power-off: the gateway's loop and timers stop; its model is no longer run, fed or read, so its frames vanish.</summary>
    public void Crash(LabGateway gateway)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        gateway.Up = false;
        gateway.Node.Dispose();
    }

    /// <summary>
    /// Moves virtual time on by <paramref name="span"/>: every timer fires at its due time and the segment settles
    /// after each, so a hello reaches the peers at the instant it was sent. Models run <see cref="TimeStep"/> cycles
    /// per <paramref name="step"/>. Stops early when <paramref name="until"/> holds after a settle.
    /// </summary>
    public void Run(TimeSpan span, TimeSpan? step = null, Func<bool>? until = null)
    {
        var s = step ?? TimeSpan.FromMilliseconds(100);
        var end = Clock.Elapsed + span;
        Settle();
        while (Clock.Elapsed < end)
        {
            var left = end - Clock.Elapsed;
            var target = Clock.Elapsed + (left < s ? left : s);
            while (Clock.Step(target))
            {
                Settle();
                if (until?.Invoke() == true)
                    return;
            }
            foreach (var g in Live)
                g.Device.Run(TimeStep);
            Settle();
            if (until?.Invoke() == true)
                return;
        }
    }

    /// <summary>Runs models, moves frames (segment, hosts, backends) and steps every live loop until nothing moves.</summary>
    public void Settle()
    {
        for (int round = 0; round < 1000; round++)
        {
            bool moved = false;
            foreach (var g in Live)
                g.Device.RunUntilIdle(1_000_000);
            foreach (var g in Live)
            {
                int len;
                while ((len = g.Device.PopFrame(0, _buffer)) >= 0)
                {
                    moved = true;
                    SegmentFrames++;
                    var frame = _buffer.AsSpan(0, len);
                    foreach (var other in Live)
                    {
                        if (other != g)
                            other.Device.PushFrame(0, frame);
                    }
                    if (_hostByMac.TryGetValue(MacAddress.FromBytes(frame).Value, out var host))
                        host.Receive(g, frame);
                }
                while ((len = g.Device.PopFrame(1, _buffer)) >= 0)
                {
                    moved = true;
                    g.ToBackends++;
                    if (Backends.Deliver(g, _buffer.AsSpan(0, len), Clock.Elapsed) is { } reply)
                        _pendingReplies.Add((g, reply));
                }
            }
            foreach (var (to, reply) in _pendingReplies)
            {
                if (to.Up)
                {
                    to.Device.Run(TimeStep);
                    to.Device.PushFrame(1, reply);
                }
            }
            _pendingReplies.Clear();
            foreach (var g in Live)
                moved |= g.Node.Step() > 0;
            if (!moved)
                return;
        }
        throw new InvalidOperationException("the segment never settled (a frame storm)");
    }

    /// <summary>A host sends <paramref name="frame"/>: the segment floods it into every live gateway's port 0.</summary>
    public void FromHost(ReadOnlySpan<byte> frame)
    {
        foreach (var g in Live)
        {
            g.Device.Run(TimeStep);
            g.Device.PushFrame(0, frame);
        }
        Settle();
    }

    public void Dispose()
    {
        foreach (var g in _gateways)
        {
            g.Node.Dispose();
            g.Device.Dispose();
        }
    }
}

/// <summary>One gateway of a <see cref="LabSegment"/>: the node, its model, and what its group reported.</summary>
public sealed class LabGateway
{
    private readonly List<GlbpEvent> _events = [];

    internal LabGateway(GatewayConfig config, ModelDevice device, TimeProvider time, ILoggerFactory loggers)
    {
        Config = config;
        Device = device;
        Node = new GatewayNode(config, device, time, loggers);
        foreach (var g in Node.Groups)
            g.Changed += (_, e) => _events.Add(e);
    }

    public GatewayConfig Config { get; }

    public string Name => Config.Name;

    public ModelDevice Device { get; }

    public GatewayNode Node { get; }

    public bool Up { get; internal set; } = true;

    /// <summary>Frames that left port 1 toward the backends.</summary>
    public long ToBackends { get; internal set; }

    /// <summary>Every state change the gateway's groups reported, with its virtual time.</summary>
    public IReadOnlyList<GlbpEvent> Events => _events;

    public GlbpGroupSnapshot Group => Node.Groups[0].Snapshot();

    public MacAddress OwnVmac => new(Group.Forwarders.Single(f => f.Owned).Vmac);

    public bool Forwards(MacAddress vmac) => Group.Forwarders.Any(f => f.Vmac == vmac.Value && f.State == ForwarderState.Active);

    public DataplaneCounters Counters() => Node.Dataplane.ReadCounters();

    public override string ToString() => Name;
}
