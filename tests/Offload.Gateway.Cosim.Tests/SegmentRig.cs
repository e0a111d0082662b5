using Microsoft.Extensions.Time.Testing;
using Offload.Device;
using Offload.Group;
using Offload.Protocol;

namespace Offload.Gateway.Cosim.Tests;

/// <summary>
/// Several gateways on one simulated segment, each a Verilator model driven by the real control plane: a
/// <see cref="GlbpGroup"/> on a shared fake clock, <see cref="DataplaneForwardingPlane"/>,
/// <see cref="HostPortGlbpTransport"/>, <see cref="GatewayHost"/> and (optionally) a <see cref="ForwarderLoadMeter"/>.
/// Every frame that leaves one model's port 0 is delivered into port 0 of every other live model and recorded as
/// what a host on the segment sees. Nothing bypasses the models: hellos leave through host TX and arrive as host RX.
/// </summary>
internal sealed class SegmentRig : IDisposable
{
    public const ushort GroupNumber = 1;
    public static readonly uint VirtualIp = Ipv4Address.Parse("10.0.0.1");
    public static readonly TimeSpan Hello = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Hold = TimeSpan.FromSeconds(3);

    private readonly byte[] _buffer = new byte[16384];

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public List<Gw> Gateways { get; } = [];

    /// <summary>Every frame put on the segment by a gateway's port 0, in order.</summary>
    public List<(Gw From, byte[] Frame)> Segment { get; } = [];

    public GlbpLoadBalancing Balancing { get; init; } = GlbpLoadBalancing.RoundRobin;

    /// <summary>Gives every gateway a load meter with this interval (load-based tests).</summary>
    public TimeSpan? MeterInterval { get; init; }

    public static uint Ip(int n) => Ipv4Address.Parse("10.0.0.0") + 10 + (uint)n;

    public static MacAddress PortMac(int n) => new(0x020F_0000_0000UL + ((ulong)n << 8));

    public static MacAddress HostMac(int n) => new(0x02AA_0000_0000UL + (ulong)n);

    public static uint HostIp(int n) => Ipv4Address.Parse("10.0.0.0") + 100 + (uint)n;

    public Gw Add(int n, byte priority)
    {
        var gw = new Gw(this, n, priority);
        Gateways.Add(gw);
        gw.Group.Start();
        Settle();
        return gw;
    }

    /// <summary>Power-off: the group and the meter stop, its model is no longer run, fed or read.</summary>
    public void Crash(Gw gw)
    {
        gw.Up = false;
        gw.Meter?.Dispose();
        gw.Group.Dispose();
    }

    public IEnumerable<Gw> Live => Gateways.Where(g => g.Up);

    public Gw Active => Live.Single(g => g.Group.State == GatewayState.Active);

    /// <summary>Steps the fake clock from group deadline to group deadline, settling the segment after each.</summary>
    public void Run(TimeSpan span)
    {
        DateTimeOffset end = Time.GetUtcNow() + span;
        Settle();
        int spin = 0;
        while (true)
        {
            TimeSpan? due = null;
            foreach (var g in Live)
            {
                if (g.Group.NextDeadline is { } d && (due is null || d < due))
                    due = d;
            }
            TimeSpan left = end - Time.GetUtcNow();
            if (due is null || due.Value > left)
            {
                Time.Advance(left);
                Settle();
                return;
            }
            spin = due.Value == TimeSpan.Zero ? spin + 1 : 0;
            if (spin > 1000)
                throw new InvalidOperationException($"timers spin at {Time.GetUtcNow():O}");
            Time.Advance(due.Value);
            Settle();
        }
    }

    public void RunSeconds(double seconds) => Run(TimeSpan.FromSeconds(seconds));

    /// <summary>
    /// Runs the models until idle, moves frames between them and lets every gateway's host loop take its host
    /// frames, until nothing moves.
    /// </summary>
    public void Settle()
    {
        for (int round = 0; round < 1000; round++)
        {
            bool moved = false;
            foreach (var g in Live)
                g.Model.RunUntilIdle(1_000_000);
            foreach (var g in Live)
            {
                int n;
                while ((n = g.Model.PopFrame(0, _buffer)) >= 0)
                {
                    moved = true;
                    byte[] frame = _buffer.AsSpan(0, n).ToArray();
                    Segment.Add((g, frame));
                    foreach (var other in Live)
                    {
                        if (other != g)
                            other.Model.PushFrame(0, frame);
                    }
                }
                while (g.Model.PopFrame(1, _buffer) >= 0)
                    g.Port1Frames++;
            }
            foreach (var g in Live)
                moved |= g.Host.Step() > 0;
            if (!moved)
                return;
        }
        throw new InvalidOperationException("the segment never settled (a frame storm)");
    }

    /// <summary>
    /// A host on the segment broadcasts <paramref name="frame"/>: it enters port 0 of every live model. Returns
    /// what each model sent back out port 0 (answers, not forwarded to the others), before any host loop runs.
    /// </summary>
    public List<(Gw From, byte[] Frame)> FromHost(byte[] frame, IEnumerable<Gw>? to = null)
    {
        var targets = (to ?? Live).ToList();
        foreach (var g in targets)
            g.Model.PushFrame(0, frame);
        var outs = new List<(Gw, byte[])>();
        foreach (var g in targets)
        {
            g.Model.RunUntilIdle(1_000_000);
            int n;
            while ((n = g.Model.PopFrame(0, _buffer)) >= 0)
                outs.Add((g, _buffer.AsSpan(0, n).ToArray()));
        }
        return outs;
    }

    public static byte[] ArpRequest(int host) =>
        FrameBuilder.BuildArp(new EthernetHeader(MacAddress.Broadcast.Value, HostMac(host).Value),
            ArpPacket.Request(HostMac(host).Value, HostIp(host), VirtualIp));

    /// <summary>A UDP datagram from a host, through its gateway (the vMAC it resolved), to a server off the segment.</summary>
    public static byte[] ToGateway(MacAddress vmac, int host, ushort sourcePort = 40000) =>
        FrameBuilder.BuildUdp(new EthernetHeader(vmac.Value, HostMac(host).Value),
            new Ipv4Header(HostIp(host), Ipv4Address.Parse("198.51.100.7"), IpProtocol.Udp), sourcePort, 80, new byte[18]);

    public void Dispose()
    {
        foreach (var g in Gateways)
        {
            g.Meter?.Dispose();
            g.Group.Dispose();
            g.Device.Dispose();
        }
    }

    internal sealed class Gw
    {
        public Gw(SegmentRig rig, int n, byte priority)
        {
            N = n;
            Device = ModelDevice.Create(64);
            Dataplane = new Dataplane(Device);
            var geometry = Dataplane.ReadGeometry();
            var config = new DataplaneConfig(geometry);
            config.PortMacs[0] = PortMac(n);
            config.PortMacs[1] = new MacAddress(PortMac(n).Value | 1);
            Dataplane.Apply(config);
            Plane = new DataplaneForwardingPlane(Dataplane);
            Transport = new HostPortGlbpTransport(Dataplane, PortMac(n), Ip(n));
            Host = new GatewayHost(Dataplane, Ip(n))
            {
                OtherFrames = (in HostFrame meta, ReadOnlySpan<byte> frame) => Other.Add((meta, frame.ToArray())),
            };
            Options = new GlbpGroupOptions
            {
                Group = GroupNumber,
                LocalIp = Ip(n),
                LocalMac = PortMac(n).Value,
                VirtualIp = VirtualIp,
                Priority = priority,
                HelloTime = Hello,
                HoldTime = Hold,
                LoadBalancing = rig.Balancing,
            };
            Group = new GlbpGroup(Options, rig.Time, Transport, Plane);
            Host.Add(Group);
            if (rig.MeterInterval is { } interval)
            {
                Meter = new ForwarderLoadMeter(Dataplane, rig.Time, interval, Group.SetLocalLoad);
                Meter.Start();
            }
        }

        public int N { get; }
        public ModelDevice Device { get; }
        public HwModel.HwModel Model => Device.Model;
        public Dataplane Dataplane { get; }
        public DataplaneForwardingPlane Plane { get; }
        public HostPortGlbpTransport Transport { get; }
        public GatewayHost Host { get; }
        public GlbpGroupOptions Options { get; }
        public GlbpGroup Group { get; }
        public ForwarderLoadMeter? Meter { get; }
        public bool Up { get; set; } = true;
        public long Port1Frames { get; set; }

        /// <summary>Host frames other than GLBP, as the balancer would get them.</summary>
        public List<(HostFrame Meta, byte[] Frame)> Other { get; } = [];

        public PortCounters Port0 => Dataplane.ReadCounters().Port0;

        public MacAddress OwnVmac => new(Group.Snapshot().Forwarders.Single(f => f.Owned).Vmac);

        public byte OwnForwarder => Group.Snapshot().Forwarders.Single(f => f.Owned).Number;

        public override string ToString() => $"gw{N}";
    }
}
