using System.Buffers.Binary;
using Offload.Balancer.Classification;
using Offload.Device;
using Offload.Protocol;
using Offload.Reference;

namespace Offload.Balancer.Cosim.Tests;

/// <summary>
/// The classifier's in-place rewrite must equal the data plane's; the reference pipeline is the data plane's
/// contract, so random frames and actions are run through both.
/// </summary>
public class RewriterTests
{
    private static readonly MacAddress Ours = MacAddress.Parse("02:0f:00:00:00:01");

    [Test]
    public void Rewrite_equals_the_reference_pipeline_on_random_frames_and_actions()
    {
        var rng = new Random(1234);
        var g = new DataplaneGeometry();
        for (int n = 0; n < 2000; n++)
        {
            byte protocol = (rng.Next(3)) switch { 0 => IpProtocol.Tcp, 1 => IpProtocol.Udp, _ => IpProtocol.Icmp };
            ushort? vlan = rng.Next(4) == 0 ? (ushort)rng.Next(1, 4095) : null;
            var eth = new EthernetHeader(Ours.Value, 0x0200_0000_1000UL + (ulong)rng.Next(100), vlan);
            var ip = new Ipv4Header((uint)rng.Next(), (uint)rng.Next(), protocol) { Ttl = (byte)rng.Next(2, 256), Identification = (ushort)rng.Next(65536) };
            byte[] payload = new byte[rng.Next(0, 80)];
            rng.NextBytes(payload);
            ushort sport = (ushort)rng.Next(65536), dport = (ushort)rng.Next(65536);
            if (protocol == IpProtocol.Udp && dport is 3222 or 3223)
                dport = 3224; // GLBP and session sync are punted as PROTO, never looked up
            byte[] frame = protocol switch
            {
                IpProtocol.Tcp => FrameBuilder.BuildTcp(eth, ip, new TcpHeader(sport, dport) { Flags = (byte)rng.Next(256), Sequence = (uint)rng.Next() }, payload),
                IpProtocol.Udp => FrameBuilder.BuildUdp(eth, ip, sport, dport, payload, checksum: rng.Next(4) != 0),
                _ => FrameBuilder.BuildIpv4(eth, ip, payload.Length >= 8 ? payload : new byte[8]),
            };
            var action = new FlowAction(3, rng.Next(2) == 0, (NatMode)rng.Next(3), (uint)rng.Next(), (ushort)(rng.Next(3) == 0 ? 0 : rng.Next(65536)));
            var nh = new NextHop((byte)rng.Next(2), new MacAddress(0x0200_0000_0100UL + (ulong)rng.Next(100)), Ours);

            Assert.That(PacketRewriter.TryParse(frame, 0, out var packet), Is.True);
            var cfg = new DataplaneConfig(g);
            cfg.PortMacs[0] = Ours;
            cfg.NextHops[3] = nh;
            int bucket = (int)(FlowHash.CrcA(packet.Key) % (uint)g.Buckets);
            cfg.Flows[g.Index(0, bucket, 0)] = (packet.Key, action);
            var result = new ReferencePipeline(cfg).Process(0, frame);
            Assert.That(result.Path, Does.StartWith("hit"), $"case {n}");
            var expected = result.Outputs.Single(o => !o.IsHost);

            byte[] mine = (byte[])frame.Clone();
            PacketRewriter.Rewrite(mine, packet, action, nh);
            Assert.That(mine, Is.EqualTo(expected.Frame), $"case {n}: {FlowTableManager.Describe(packet.Key, action)}");
        }
    }

    [Test]
    public void Parse_refuses_what_a_miss_cannot_be()
    {
        var eth = new EthernetHeader(Ours.Value, 0x0200_0000_1000UL);
        var fragment = FrameBuilder.BuildUdp(eth, new Ipv4Header(1, 2, IpProtocol.Udp) { FlagsFragment = Ipv4Header.MoreFragments }, 1, 2, new byte[8]);
        Assert.That(PacketRewriter.TryParse(fragment, 0, out _), Is.False);
        var arp = FrameBuilder.BuildArp(eth, ArpPacket.Request(1, 2, 3));
        Assert.That(PacketRewriter.TryParse(arp, 0, out _), Is.False);
        var tcp = FrameBuilder.BuildTcp(eth, new Ipv4Header(1, 2, IpProtocol.Tcp), new TcpHeader(10, 20), []);
        Assert.That(PacketRewriter.TryParse(tcp.AsSpan(0, 40), 0, out _), Is.False, "truncated");
        Assert.That(PacketRewriter.TryParse(tcp, 1, out var p), Is.True);
        Assert.That(p.Key, Is.EqualTo(new FlowKey(1, 1, 2, IpProtocol.Tcp, 10, 20)));
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(tcp.AsSpan(12)), Is.EqualTo(EtherType.Ipv4));
    }
}
