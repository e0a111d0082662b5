using Offload.Device;
using Offload.Protocol;

namespace Offload.Unit.Tests;

/// <summary>
/// A small network used by the reference-model unit tests and (linked) by the co-simulation tests: port 0 faces
/// the clients' segment, port 1 the backends; group 0 answers ARP for <see cref="Vip"/> with forwarders 1..3.
/// </summary>
internal static class TestNet
{
    public static readonly MacAddress Port0Mac = MacAddress.Parse("02:00:00:00:00:10");
    public static readonly MacAddress Port1Mac = MacAddress.Parse("02:00:00:00:00:11");
    public static readonly MacAddress ClientMac = MacAddress.Parse("02:aa:00:00:00:01");
    public static readonly MacAddress BackendMac = MacAddress.Parse("02:bb:00:00:00:01");
    public static readonly MacAddress StrangerMac = MacAddress.Parse("02:cc:00:00:00:01");
    public static readonly MacAddress GlbpHelloMac = MacAddress.Parse("01:00:5e:00:00:66");

    public const ushort Gid = 5;
    public static readonly uint Vip = Ipv4Address.Parse("10.0.0.1");
    public static readonly uint Vip2 = Ipv4Address.Parse("10.0.0.2");
    public static readonly uint ClientIp = Ipv4Address.Parse("10.0.0.100");
    public static readonly uint BackendIp = Ipv4Address.Parse("10.1.0.10");
    public static readonly uint ServiceIp = Ipv4Address.Parse("10.0.0.50");

    /// <summary>Next hop 0: out port 1 to the backend; 1: out port 0 back to the client.</summary>
    public const byte ToBackend = 0;
    public const byte ToClient = 1;

    public static MacAddress Vmac(int forwarder) => MacAddress.Glbp(Gid, forwarder);

    /// <summary>Forwarders 1, 2, 2, 3 repeated: weights 1:2:1.</summary>
    public static byte[] WeightedSlots(int slots = 256) => Enumerable.Range(0, slots).Select(i => (byte)((i % 4) switch { 0 => 1, 3 => 3, _ => 2 })).ToArray();

    public static DataplaneConfig Config(DataplaneGeometry? geometry = null)
    {
        var c = new DataplaneConfig(geometry ?? new DataplaneGeometry());
        c.PortMacs[0] = Port0Mac;
        c.PortMacs[1] = Port1Mac;
        c.Vmacs[0] = Vmac(1);
        c.Vmacs[1] = Vmac(2);
        c.Vmacs[2] = Vmac(3);
        c.Groups[0] = new GroupConfig(Vip, Gid, ArpMode.RoundRobin, CopyRequests: false, Enabled: true, WeightedSlots(c.Geometry.Slots));
        c.NextHops[ToBackend] = new NextHop(1, BackendMac, Port1Mac);
        c.NextHops[ToClient] = new NextHop(0, ClientMac, Vmac(1));
        return c;
    }

    /// <summary>Puts the entry where the hardware will find it: a free way of its CRC-A bucket, then CRC-B, then the stash.</summary>
    public static int Place(DataplaneConfig c, FlowKey key, FlowAction action)
    {
        var g = c.Geometry;
        int a = (int)(FlowHash.CrcA(key) % (uint)g.Buckets);
        int b = (int)(FlowHash.CrcB(key) % (uint)g.Buckets);
        IEnumerable<int> candidates = Enumerable.Range(0, g.Ways).Select(w => g.Index(0, a, w))
            .Concat(Enumerable.Range(0, g.Ways).Select(w => g.Index(1, b, w)))
            .Concat(Enumerable.Range(g.MainEntries, g.Stash));
        foreach (int index in candidates)
        {
            if (!c.Flows.ContainsKey(index))
            {
                c.Flows[index] = (key, action);
                return index;
            }
        }
        throw new InvalidOperationException($"no room for {key}");
    }

    public static EthernetHeader Eth(MacAddress dst, MacAddress src, ushort? vlan = null) => new(dst.Value, src.Value, vlan);

    public static byte[] ArpRequest(uint targetIp, MacAddress? dst = null, MacAddress? sender = null, uint? senderIp = null, ushort? vlan = null)
    {
        MacAddress s = sender ?? ClientMac;
        return FrameBuilder.BuildArp(Eth(dst ?? MacAddress.Broadcast, s, vlan), ArpPacket.Request(s.Value, senderIp ?? ClientIp, targetIp));
    }

    public static byte[] Tcp(MacAddress dst, uint srcIp, uint dstIp, ushort sport, ushort dport, byte flags = TcpFlags.Ack,
        int payload = 0, byte ttl = 64, ushort? vlan = null, MacAddress? src = null) =>
        FrameBuilder.BuildTcp(Eth(dst, src ?? ClientMac, vlan), new Ipv4Header(srcIp, dstIp, IpProtocol.Tcp) { Ttl = ttl, Identification = 0x1234 },
            new TcpHeader(sport, dport) { Flags = flags, Sequence = 0x01020304 }, Payload(payload), FrameBuilder.MinFrame);

    public static byte[] Udp(MacAddress dst, uint srcIp, uint dstIp, ushort sport, ushort dport, int payload = 0, byte ttl = 64,
        bool checksum = true, ushort? vlan = null, MacAddress? src = null) =>
        FrameBuilder.BuildUdp(Eth(dst, src ?? ClientMac, vlan), new Ipv4Header(srcIp, dstIp, IpProtocol.Udp) { Ttl = ttl, Identification = 0x4321 },
            sport, dport, Payload(payload), checksum, FrameBuilder.MinFrame);

    public static byte[] Payload(int length) => Enumerable.Range(0, length).Select(i => (byte)(i * 31 + 7)).ToArray();
}
