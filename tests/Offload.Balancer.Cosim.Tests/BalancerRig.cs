using Microsoft.Extensions.Time.Testing;
using Offload.Balancer.Classification;
using Offload.Balancer.Tracking;
using Offload.Device;
using Offload.Protocol;
using Offload.Reference;

namespace Offload.Balancer.Cosim.Tests;

/// <summary>
/// One gateway on the Verilator model: the data plane configured with port MACs and a vMAC, a service table,
/// a tracker, a classifier and the loop, all on a fake clock. Frames go in through the model's ports; the
/// balancer runs only when a test calls <see cref="Poll"/>, like the daemon's loop would.
/// </summary>
internal sealed class BalancerRig : IDisposable
{
    public static readonly MacAddress Port0Mac = MacAddress.Parse("02:0f:00:00:00:01");
    public static readonly MacAddress Port1Mac = MacAddress.Parse("02:0f:00:00:01:01");
    public static readonly MacAddress Vmac = MacAddress.Glbp(1, 1);
    public static readonly uint Vip = Ipv4Address.Parse("192.0.2.10");
    public const ushort VipPort = 80;
    public static readonly uint DsrVip = Ipv4Address.Parse("192.0.2.20");
    public static readonly uint UdpVip = Ipv4Address.Parse("192.0.2.30");
    public const ushort UdpPort = 53;
    public static readonly ServiceKey NatKey = new(Vip, IpProtocol.Tcp, VipPort);
    public static readonly ServiceKey DsrKey = new(DsrVip, IpProtocol.Tcp, VipPort);
    public static readonly ServiceKey UdpKey = new(UdpVip, IpProtocol.Udp, UdpPort);

    // LAST_SEEN is TIME >> TS_SHIFT (10 by default): runs this long apart land in different LAST_SEEN values.
    public const ulong TimeStep = 4096;

    private readonly byte[] _buffer = new byte[16384];

    public BalancerRig(TrackerOptions? options = null)
        : this(options, Port0Mac, Port1Mac, Vmac)
    {
    }

    /// <summary>A gateway with its own MACs, for tests that run several rigs side by side (each on its own model).</summary>
    public BalancerRig(TrackerOptions? options, MacAddress port0Mac, MacAddress port1Mac, MacAddress vmac)
    {
        Device = ModelDevice.Create(64);
        Dataplane = new Dataplane(Device);
        var g = Dataplane.ReadGeometry();
        Config = new DataplaneConfig(g);
        Config.PortMacs[0] = port0Mac;
        Config.PortMacs[1] = port1Mac;
        Config.Vmacs[0] = vmac;
        Dataplane.Apply(Config);
        Options = options ?? new TrackerOptions();
        Time = new FakeTimeProvider(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
        Flows = new FlowTableManager(Device, g, FlowTableStart.AssumeEmpty);
        StartControlPlane(Flows);
    }

    public ModelDevice Device { get; }

    public HwModel.HwModel Model => Device.Model;

    public Dataplane Dataplane { get; }

    public DataplaneConfig Config { get; }

    public FakeTimeProvider Time { get; }

    public TrackerOptions Options { get; }

    public FlowTableManager Flows { get; private set; }

    public ServiceTable Services { get; private set; } = null!;

    public SessionTracker Tracker { get; private set; } = null!;

    public Classifier Classifier { get; private set; } = null!;

    public BalancerLoop Loop { get; private set; } = null!;

    /// <summary>Configures services again on a fresh service table (the daemon reading its config).</summary>
    public Action<ServiceTable>? Configure { get; set; }

    /// <summary>Builds the control plane over <paramref name="flows"/> (a restart passes a manager that loaded the table).</summary>
    public void StartControlPlane(FlowTableManager flows)
    {
        Flows = flows;
        Services = new ServiceTable(Dataplane, Config.PortMacs, Time);
        Configure?.Invoke(Services);
        Tracker = new SessionTracker(flows, Services, Options);
        Classifier = new Classifier(Dataplane, Services, Tracker);
        Loop = new BalancerLoop(Dataplane, Classifier, Tracker);
    }

    /// <summary>
    /// Adds <paramref name="vmac"/> to the vMAC filter (a takeover) by applying the whole configuration again, with
    /// the next hops and flow entries the control plane wrote, so the table survives the write.
    /// </summary>
    public void AddVmac(MacAddress vmac)
    {
        int free = Array.FindIndex(Config.Vmacs, m => m is null);
        Config.Vmacs[free] = vmac;
        for (int i = 0; i < Config.NextHops.Length; i++)
            Config.NextHops[i] = Services.NextHops.Get(i) ?? default;
        Flows.CopyTo(Config);
        Dataplane.Apply(Config);
    }

    /// <summary>Applies <paramref name="configure"/> now and on every restart.</summary>
    public void Setup(Action<ServiceTable> configure)
    {
        Configure = configure;
        configure(Services);
    }

    public static BackendConfig Backend(int i, int weight = 1, ushort port = 8080) =>
        new($"b{i}", Ipv4Address.Parse($"198.51.100.{i}"), port, (byte)i, BackendMac(i), weight);

    public static MacAddress BackendMac(int i) => new(0x0200_0000_0100UL + (ulong)i);

    public static MacAddress ClientMac(int i) => new(0x0200_0000_1000UL + (ulong)i);

    public static uint ClientIp(int i) => Ipv4Address.Parse("10.0.0.0") + 100 + (uint)i;

    /// <summary>A TCP segment from client <paramref name="client"/> (source port 40000 + client) to the VIP.</summary>
    public static byte[] ClientTcp(int client, byte flags, uint vip = 0, ushort port = VipPort, int payload = 0) =>
        FrameBuilder.BuildTcp(new EthernetHeader(Vmac.Value, ClientMac(client).Value),
            new Ipv4Header(ClientIp(client), vip == 0 ? Vip : vip, IpProtocol.Tcp),
            new TcpHeader((ushort)(40000 + client), port) { Flags = flags }, new byte[payload]);

    public static byte[] ClientUdp(int client, int payload = 32) =>
        FrameBuilder.BuildUdp(new EthernetHeader(Vmac.Value, ClientMac(client).Value),
            new Ipv4Header(ClientIp(client), UdpVip, IpProtocol.Udp), (ushort)(40000 + client), UdpPort, new byte[payload]);

    /// <summary>A reply from backend <paramref name="backend"/> to client <paramref name="client"/>, sent to our port-1 MAC (its gateway).</summary>
    public static byte[] BackendTcp(int backend, int client, byte flags, ushort backendPort = 8080, int payload = 0, MacAddress? gateway = null) =>
        FrameBuilder.BuildTcp(new EthernetHeader((gateway ?? Port1Mac).Value, BackendMac(backend).Value),
            new Ipv4Header(Ipv4Address.Parse($"198.51.100.{backend}"), ClientIp(client), IpProtocol.Tcp),
            new TcpHeader(backendPort, (ushort)(40000 + client)) { Flags = flags }, new byte[payload]);

    public static FlowKey ClientKey(int client, uint vip = 0, ushort port = VipPort, byte protocol = IpProtocol.Tcp) =>
        new(0, ClientIp(client), vip == 0 ? Vip : vip, protocol, (ushort)(40000 + client), port);

    /// <summary>Pushes a frame into <paramref name="port"/> after moving TIME on, and runs the model until idle.</summary>
    public void Send(int port, byte[] frame)
    {
        Model.Run(TimeStep);
        Model.PushFrame(port, frame);
        Model.RunUntilIdle();
    }

    /// <summary>One loop round, then the model runs until what the loop sent has left.</summary>
    public int Poll()
    {
        int n = Loop.Poll();
        Model.RunUntilIdle();
        return n;
    }

    /// <summary>Moves the fake clock and the model's TIME on, then polls.</summary>
    public void Advance(TimeSpan by)
    {
        Time.Advance(by);
        Model.Run(TimeStep);
        Poll();
    }

    public List<byte[]> Pop(int port)
    {
        var frames = new List<byte[]>();
        int n;
        while ((n = Model.PopFrame(port, _buffer)) >= 0)
            frames.Add(_buffer.AsSpan(0, n).ToArray());
        return frames;
    }

    public PortCounters Counters(int port) => Dataplane.ReadCounters().Port(port);

    /// <summary>A reference pipeline holding what the control plane installed: next hops and flow entries.</summary>
    public ReferencePipeline Reference()
    {
        var cfg = new DataplaneConfig(Config.Geometry);
        cfg.PortMacs[0] = Config.PortMacs[0];
        cfg.PortMacs[1] = Config.PortMacs[1];
        Config.Vmacs.CopyTo(cfg.Vmacs, 0);
        for (int i = 0; i < cfg.NextHops.Length; i++)
            cfg.NextHops[i] = Services.NextHops.Get(i) ?? default;
        Flows.CopyTo(cfg);
        return new ReferencePipeline(cfg);
    }

    /// <summary>What the data plane would send out <paramref name="port"/> for <paramref name="frame"/> given the installed tables.</summary>
    public byte[] Expected(int ingress, byte[] frame, int port)
    {
        var outs = Reference().Process(ingress, frame).Outputs.Where(o => o.Port == port).ToList();
        Assert.That(outs, Has.Count.EqualTo(1), $"the reference sends one frame out port {port}");
        return outs[0].Frame;
    }

    /// <summary>The tracker suites' pools: NAT on <see cref="NatKey"/> (backends 1-3), DSR on <see cref="DsrKey"/> (4-5), UDP NAT on <see cref="UdpKey"/> (6).</summary>
    public void SetupThreeServices()
    {
        Setup(s =>
        {
            s.DefaultDrainTimeout = TimeSpan.FromSeconds(20);
            var nat = s.Add(new ServiceConfig(NatKey, ForwardingMode.Nat));
            for (int i = 1; i <= 3; i++)
                nat.SetBackend(Backend(i));
            var dsr = s.Add(new ServiceConfig(DsrKey, ForwardingMode.DirectServerReturn));
            for (int i = 4; i <= 5; i++)
                dsr.SetBackend(Backend(i, port: 0));
            var udp = s.Add(new ServiceConfig(UdpKey, ForwardingMode.Nat));
            udp.SetBackend(Backend(6, port: 5353));
        });
    }

    /// <summary>SYN (classified and installed), then an ACK that hits: an established connection of <paramref name="client"/>.</summary>
    public Session Open(int client, uint vip = 0)
    {
        Send(0, ClientTcp(client, TcpFlags.Syn, vip: vip));
        Poll();
        Send(0, ClientTcp(client, TcpFlags.Ack, vip: vip));
        Pop(1);
        Assert.That(Tracker.TryGet(ClientKey(client, vip: vip), out var s), Is.True);
        return s;
    }

    public void Dispose() => Device.Dispose();
}
