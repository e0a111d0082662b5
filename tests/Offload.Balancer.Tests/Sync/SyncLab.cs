using Microsoft.Extensions.Time.Testing;
using Offload.Balancer.Classification;
using Offload.Balancer.Sync;
using Offload.Balancer.Tracking;
using Offload.Device;
using Offload.Protocol;

namespace Offload.Balancer.Tests.Sync;

/// <summary>
/// One gateway's control plane on its own Verilator model (the real data plane holds the entries), classifying
/// frames handed to it directly; its sync engine talks through a <see cref="SyncLink"/>.
/// </summary>
internal sealed class SyncGateway : IDisposable
{
    public static readonly uint NatVip = Ipv4Address.Parse("192.0.2.10");
    public static readonly uint DsrVip = Ipv4Address.Parse("192.0.2.20");
    public static readonly uint UdpVip = Ipv4Address.Parse("192.0.2.30");
    public static readonly byte[] GroupKey = "sync-group-key-1"u8.ToArray();

    private readonly byte[] _drain = new byte[16384];

    public SyncGateway(FakeTimeProvider time, int number, SyncLink link, ulong boot, byte[]? key = null, Func<SyncOptions, SyncOptions>? tune = null)
    {
        Ip = Address(number);
        Port0Mac = new MacAddress(0x020F_0000_0000UL + (ulong)number);
        Vmac = MacAddress.Glbp(1, number);
        Device = ModelDevice.Create(64);
        Dataplane = new Dataplane(Device);
        var g = Dataplane.ReadGeometry();
        var config = new DataplaneConfig(g);
        config.PortMacs[0] = Port0Mac;
        config.PortMacs[1] = new MacAddress(0x020F_0000_0100UL + (ulong)number);
        config.Vmacs[0] = Vmac;
        Dataplane.Apply(config);
        Services = new ServiceTable(Dataplane, config.PortMacs, time);
        var nat = Services.Add(new ServiceConfig(new ServiceKey(NatVip, IpProtocol.Tcp, 80), ForwardingMode.Nat));
        var dsr = Services.Add(new ServiceConfig(new ServiceKey(DsrVip, IpProtocol.Tcp, 80), ForwardingMode.DirectServerReturn));
        var udp = Services.Add(new ServiceConfig(new ServiceKey(UdpVip, IpProtocol.Udp, 53), ForwardingMode.DirectServerReturn, SchedulerKind.RoundRobin));
        for (int i = 1; i <= 3; i++)
        {
            nat.SetBackend(Backend(i, 8080));
            dsr.SetBackend(Backend(i + 3, 0));
            udp.SetBackend(Backend(i + 6, 0));
        }
        Flows = new FlowTableManager(Device, g, FlowTableStart.AssumeEmpty);
        Tracker = new SessionTracker(Flows, Services);
        Classifier = new Classifier(Dataplane, Services, Tracker);
        var peers = new[] { 1, 2 }.Where(n => n != number).Select(n => new SyncPeer(Address(n), new MacAddress(0x020F_0000_0000UL + (ulong)n))).ToList();
        var options = new SyncOptions { LocalIp = Ip, Key = key ?? GroupKey, Peers = peers, BootId = boot };
        Options = tune?.Invoke(options) ?? options;
        Engine = new SyncEngine(Tracker, Services, link.Attach(this), Options);
        Engine.AddOwnedVmac(Vmac);
    }

    public uint Ip { get; }

    public MacAddress Port0Mac { get; }

    public MacAddress Vmac { get; }

    public ModelDevice Device { get; }

    public Dataplane Dataplane { get; }

    public ServiceTable Services { get; }

    public FlowTableManager Flows { get; }

    public SessionTracker Tracker { get; }

    public Classifier Classifier { get; }

    public SyncOptions Options { get; }

    public SyncEngine Engine { get; }

    public Service Nat => Find(NatVip, IpProtocol.Tcp, 80);

    public Service Dsr => Find(DsrVip, IpProtocol.Tcp, 80);

    public Service Udp => Find(UdpVip, IpProtocol.Udp, 53);

    public static uint Address(int number) => Ipv4Address.Parse("192.0.2.0") + (uint)number;

    public static BackendConfig Backend(int i, ushort port) =>
        new($"b{i}", Ipv4Address.Parse($"198.51.100.{i}"), port, (byte)i, new MacAddress(0x0200_0000_0100UL + (ulong)i));

    public static MacAddress ClientMac(int i) => new(0x0200_0000_1000UL + (ulong)i);

    public static FlowKey Key(int client, uint vip, byte protocol = IpProtocol.Tcp, ushort port = 80) =>
        new(0, Ipv4Address.Parse("10.0.0.0") + (uint)client, vip, protocol, (ushort)(40000 + client), port);

    /// <summary>A client's first packet (a SYN, or a UDP datagram) to this gateway's vMAC, classified as a MISS would be.</summary>
    public ClassifyOutcome Open(int client, uint vip, MacAddress? vmac = null)
    {
        var eth = new EthernetHeader((vmac ?? Vmac).Value, ClientMac(client).Value);
        var k = Key(client, vip, vip == UdpVip ? IpProtocol.Udp : IpProtocol.Tcp, (ushort)(vip == UdpVip ? 53 : 80));
        byte[] frame = vip == UdpVip
            ? FrameBuilder.BuildUdp(eth, new Ipv4Header(k.SrcIp, vip, IpProtocol.Udp), k.SrcPort, 53, new byte[8])
            : FrameBuilder.BuildTcp(eth, new Ipv4Header(k.SrcIp, vip, IpProtocol.Tcp), new TcpHeader(k.SrcPort, 80) { Flags = TcpFlags.Syn }, []);
        var outcome = Classifier.Classify(0, frame);
        Drain();
        return outcome;
    }

    /// <summary>Lets the model send what the host queue holds and throws it away (these tests look at tables, not frames).</summary>
    public void Drain()
    {
        Device.Model.RunUntilIdle();
        for (int p = 0; p < 2; p++)
        {
            while (Device.Model.PopFrame(p, _drain) >= 0)
            {
            }
        }
    }

    private Service Find(uint vip, byte protocol, ushort port)
    {
        Assert.That(Services.TryFind(new ServiceKey(vip, protocol, port), out var s), Is.True);
        return s;
    }

    public void Dispose() => Device.Dispose();
}

/// <summary>
/// An in-memory segment between sync engines on virtual time: each datagram is lost, duplicated or delayed by a
/// random amount (so later ones overtake it) according to seeded odds. <see cref="Hold"/> keeps matching
/// datagrams back for a test to deliver (or replay) by hand.
/// </summary>
internal sealed class SyncLink
{
    private readonly FakeTimeProvider _time;
    private readonly Random _rng;
    private readonly Dictionary<uint, SyncGateway> _ends = [];
    private readonly List<(TimeSpan At, uint From, uint To, byte[] Bytes)> _queue = [];
    private TimeSpan _now;

    public SyncLink(FakeTimeProvider time, int seed = 1)
    {
        _time = time;
        _rng = new Random(seed);
    }

    public double Loss { get; set; }

    public double Duplication { get; set; }

    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Datagrams for which this returns true are kept in <see cref="Held"/> instead of being sent.</summary>
    public Func<uint, uint, byte[], bool>? Hold { get; set; }

    public List<(uint From, uint To, byte[] Bytes)> Held { get; } = [];

    /// <summary>Every datagram handed to the link, in order, before loss.</summary>
    public List<(uint From, uint To, byte[] Bytes)> Sent { get; } = [];

    public long Lost { get; private set; }

    public long Duplicated { get; private set; }

    public ISyncTransport Attach(SyncGateway gateway) => new End(this, gateway.Ip, gateway);

    public void Replace(SyncGateway gateway) => _ends[gateway.Ip] = gateway;

    /// <summary>Delivers what is due, polls every engine, and moves virtual time on by <paramref name="step"/>, <paramref name="rounds"/> times.</summary>
    public void Run(int rounds, TimeSpan? step = null)
    {
        for (int i = 0; i < rounds; i++)
        {
            Deliver();
            foreach (var g in _ends.Values)
                g.Engine.Poll();
            Deliver();
            _time.Advance(step ?? TimeSpan.FromMilliseconds(10));
            _now += step ?? TimeSpan.FromMilliseconds(10);
        }
        Deliver();
    }

    public void Deliver()
    {
        for (int i = 0; i < _queue.Count;)
        {
            var (at, from, to, bytes) = _queue[i];
            if (at > _now)
            {
                i++;
                continue;
            }
            _queue.RemoveAt(i);
            if (_ends.TryGetValue(to, out var g))
                g.Engine.Receive(bytes, from);
        }
    }

    private void Enqueue(uint from, uint to, ReadOnlySpan<byte> message)
    {
        byte[] bytes = message.ToArray();
        Sent.Add((from, to, bytes));
        if (Hold?.Invoke(from, to, bytes) == true)
        {
            Held.Add((from, to, bytes));
            return;
        }
        if (_rng.NextDouble() < Loss)
        {
            Lost++;
            return;
        }
        int copies = _rng.NextDouble() < Duplication ? 2 : 1;
        Duplicated += copies - 1;
        for (int c = 0; c < copies; c++)
            _queue.Add((_now + (MaxDelay * _rng.NextDouble()), from, to, bytes));
    }

    private sealed class End : ISyncTransport
    {
        private readonly SyncLink _link;
        private readonly uint _ip;

        public End(SyncLink link, uint ip, SyncGateway gateway)
        {
            _link = link;
            _ip = ip;
            link._ends[ip] = gateway;
        }

        public bool Send(uint peerIp, ReadOnlySpan<byte> message)
        {
            _link.Enqueue(_ip, peerIp, message);
            return true;
        }
    }
}
