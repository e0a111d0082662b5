using System.Buffers.Binary;
using Offload.Device;
using Offload.Protocol;
using Offload.Unit.Tests;

namespace Offload.Cosim.Tests;

/// <summary>One random input: a frame on an ingress port, or a frame for the host TX queue.</summary>
internal readonly record struct TrafficItem(string Kind, int Port, byte[] Frame, bool HostTx = false, int RawCommit = -1);

/// <summary>
/// Seeded random traffic over a random configuration: hits (every action: TTL, NAT of each kind, FIN/RST), misses,
/// ARP in every mode, VLAN, GLBP/sync, broadcast, exceptions, malformed and mutated frames, runts, jumbo and
/// oversize frames, other ethertypes, frames for someone else, random garbage and host TX, on both ports.
/// Round-robin ARP state depends on the order frames from the two ports are processed in, so each
/// round-robin group is only ever asked on one port (group 0 on port 0, group 2 on port 1).
/// </summary>
internal sealed class TrafficGenerator
{
    private static readonly uint Vip3 = Ipv4Address.Parse("10.0.0.3");
    private static readonly uint Vip4 = Ipv4Address.Parse("10.0.0.4");
    private static readonly uint Vip5 = Ipv4Address.Parse("10.0.0.5");

    private readonly Random _rng;
    private readonly List<(FlowKey Key, FlowAction Action)> _flows = [];
    private DataplaneConfig _config = null!;
    private MacAddress[][] _ours = null!;
    private int _n;

    public TrafficGenerator(Random rng)
    {
        _rng = rng;
    }

    /// <summary>How many items of each kind were made.</summary>
    public Dictionary<string, int> Kinds { get; } = [];

    public DataplaneConfig BuildConfig(DataplaneGeometry g, int flows = 3000)
    {
        var c = TestNet.Config(g);
        _config = c;
        c.SyncPort = (ushort)_rng.Next(1024, 65536);
        if (c.SyncPort == RegConst.GlbpPort)
            c.SyncPort++;
        for (int i = 3; i < Math.Min(g.Vmacs, 8); i++)
            c.Vmacs[i] = MacAddress.Glbp(_rng.Next(0, 1024), _rng.Next(0, 256));
        c.Groups[1] = new GroupConfig(TestNet.Vip2, 1023, ArpMode.HostDependent, CopyRequests: true, Enabled: true, RandomSlots(g.Slots));
        c.Groups[2] = new GroupConfig(Vip3, 77, ArpMode.RoundRobin, CopyRequests: false, Enabled: true, RandomSlots(g.Slots));
        c.Groups[3] = new GroupConfig(Vip4, 78, ArpMode.RoundRobin, CopyRequests: true, Enabled: false, RandomSlots(g.Slots));
        c.Groups[5] = new GroupConfig(Vip5, 0, ArpMode.HostDependent, CopyRequests: false, Enabled: true, RandomSlots(g.Slots));
        for (int i = 0; i < 8; i++)
            c.NextHops[i] = new NextHop((byte)_rng.Next(0, 2), RandomUnicast(), RandomUnicast());
        c.NextHops[TestNet.ToBackend] = new NextHop(1, TestNet.BackendMac, TestNet.Port1Mac);
        c.NextHops[TestNet.ToClient] = new NextHop(0, TestNet.ClientMac, TestNet.Vmac(1));

        var used = new HashSet<FlowKey>();
        for (int i = 0; i < flows; i++)
        {
            var key = RandomKey();
            if (!used.Add(key))
                continue;
            var action = RandomAction();
            try
            {
                TestNet.Place(c, key, action);
                _flows.Add((key, action));
            }
            catch (InvalidOperationException)
            {
                // Bucket and stash full: that key is simply not installed.
            }
        }
        // Entries in the stash and duplicates (lowest index wins), and one where its hashes never look.
        for (int s = 0; s < g.Stash; s++)
        {
            var key = RandomKey();
            c.Flows[g.MainEntries + s] = (key, RandomAction());
            _flows.Add((key, c.Flows[g.MainEntries + s].Action));
        }
        var dup = _flows[0];
        c.Flows[g.MainEntries + g.Stash - 1] = (dup.Key, RandomAction());
        var lost = RandomKey();
        int wrong = (int)((FlowHash.CrcA(lost) + 1) % (uint)g.Buckets);
        if (wrong != (int)(FlowHash.CrcB(lost) % (uint)g.Buckets))
        {
            c.Flows[g.Index(0, wrong, g.Ways - 1)] = (lost, RandomAction());
            _flows.Add((lost, RandomAction()));
        }

        var vmacs = c.Vmacs.Where(v => v is not null).Select(v => v!.Value).ToArray();
        _ours = [[c.PortMacs[0], .. vmacs], [c.PortMacs[1], .. vmacs]];
        return c;
    }

    private byte[] RandomSlots(int slots)
    {
        // A few forwarders with uneven weights, as the control plane would write them.
        int count = _rng.Next(1, 5);
        byte[] forwarders = Enumerable.Range(0, count).Select(_ => (byte)_rng.Next(0, 256)).ToArray();
        return Enumerable.Range(0, slots).Select(_ => forwarders[Math.Min(_rng.Next(0, count * 2), count - 1)]).ToArray();
    }

    private MacAddress RandomUnicast() => new((ulong)_rng.NextInt64(0, 1L << 48) & 0xFEFF_FFFF_FFFF);

    private uint RandomIp() => _rng.Next(0, 4) switch
    {
        0 => TestNet.ClientIp + (uint)_rng.Next(0, 16),
        1 => TestNet.BackendIp + (uint)_rng.Next(0, 16),
        2 => TestNet.ServiceIp,
        _ => (uint)_rng.NextInt64(0, 1L << 32),
    };

    private FlowKey RandomKey()
    {
        byte proto = _rng.Next(0, 10) switch
        {
            < 5 => IpProtocol.Tcp,
            < 8 => IpProtocol.Udp,
            8 => IpProtocol.Icmp,
            _ => 47,
        };
        bool ports = proto is IpProtocol.Tcp or IpProtocol.Udp;
        ushort dport = ports ? (ushort)_rng.Next(1, 65536) : (ushort)0;
        if (proto == IpProtocol.Udp && (dport == RegConst.GlbpPort || dport == _config.SyncPort))
            dport = 80;
        return new FlowKey((byte)_rng.Next(0, 2), RandomIp(), RandomIp(), proto, ports ? (ushort)_rng.Next(0, 65536) : (ushort)0, dport);
    }

    private FlowAction RandomAction()
    {
        var nat = _rng.Next(0, 10) switch
        {
            < 4 => NatMode.None,
            < 6 => NatMode.Destination,
            < 9 => NatMode.Source,
            _ => (NatMode)3,
        };
        ushort natPort = _rng.Next(0, 3) == 0 ? (ushort)0 : (ushort)_rng.Next(1, 65536);
        return new FlowAction((byte)_rng.Next(0, 8), _rng.Next(0, 2) == 0, nat, RandomIp(), natPort);
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[_rng.Next(0, items.Count)];

    private ushort? MaybeVlan() => _rng.Next(0, 5) == 0 ? (ushort)_rng.Next(0, 65536) : null;

    /// <summary>Mostly small and mid-size payloads, some near 1500, a few jumbo.</summary>
    private int PayloadLength(int headers)
    {
        int total = _rng.Next(0, 100) switch
        {
            < 35 => _rng.Next(headers, Math.Max(headers, 64) + 1),
            < 80 => _rng.Next(64, 1519),
            < 98 => _rng.Next(1400, 1519),
            _ => _rng.Next(1519, 9001),
        };
        return Math.Max(0, total - headers);
    }

    private byte[] RandomBytes(int length)
    {
        byte[] b = new byte[length];
        _rng.NextBytes(b);
        return b;
    }

    private TrafficItem Item(string kind, int port, byte[] frame)
    {
        Kinds[kind] = Kinds.GetValueOrDefault(kind) + 1;
        return new TrafficItem(kind, port, frame);
    }

    public TrafficItem Next()
    {
        _n++;
        int r = _rng.Next(0, 1000);
        TrafficItem item = r switch
        {
            < 360 => Hit(),
            < 440 => Miss(),
            < 480 => ArpRoundRobin(),
            < 560 => ArpOther(),
            < 580 => Proto(),
            < 610 => BroadcastIp(),
            < 640 => ExceptionIp(),
            < 700 => MalformedIp(),
            < 730 => BadChecksum(),
            < 760 => Runt(),
            < 763 => Oversize(),
            < 810 => OtherEthertype(),
            < 850 => NotForUs(),
            < 900 => Garbage(),
            < 950 => Mutated(),
            < 995 => HostTx(),
            _ => HostTxRaw(),
        };
        return KeepRoundRobinOnItsPort(item);
    }

    /// <summary>
    /// A frame that the pipeline would treat as an ARP request for a round-robin group's VIP must arrive on that
    /// group's port, or the two ports' order of processing (not defined by the contract) would change the answer.
    /// </summary>
    private TrafficItem KeepRoundRobinOnItsPort(TrafficItem item)
    {
        if (item.HostTx)
            return item;
        byte[] f = item.Frame;
        if (f.Length < 14)
            return item;
        int l3 = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(12)) == 0x8100 ? 18 : 14;
        if (f.Length < l3 + 28 || BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(l3 - 2)) != 0x0806)
            return item;
        uint tpa = BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(l3 + 24));
        if (tpa == TestNet.Vip)
            return item with { Port = 0 };
        if (tpa == Vip3)
            return item with { Port = 1 };
        return item;
    }

    private byte[] BuildFlowFrame(FlowKey key, MacAddress dst, ushort? vlan, byte ttl, byte tcpFlags, bool udpChecksum, int? payloadLength = null)
    {
        var eth = new EthernetHeader(dst.Value, RandomUnicast().Value, vlan);
        var ip = new Ipv4Header(key.SrcIp, key.DstIp, key.Protocol)
        {
            Ttl = ttl,
            Identification = (ushort)_n,
            Tos = (byte)_rng.Next(0, 256),
            FlagsFragment = _rng.Next(0, 2) == 0 ? Ipv4Header.DontFragment : (ushort)0,
        };
        int minLength = _rng.Next(0, 3) == 0 ? 0 : 60;
        switch (key.Protocol)
        {
            case IpProtocol.Tcp:
                {
                    int len = payloadLength ?? PayloadLength(eth.Length + 40);
                    var tcp = new TcpHeader(key.SrcPort, key.DstPort)
                    {
                        Flags = tcpFlags,
                        Sequence = (uint)_rng.NextInt64(0, 1L << 32),
                        Acknowledgment = (uint)_rng.NextInt64(0, 1L << 32),
                        Window = (ushort)_rng.Next(0, 65536),
                    };
                    return FrameBuilder.BuildTcp(eth, ip, tcp, RandomBytes(len), minLength);
                }
            case IpProtocol.Udp:
                {
                    int len = payloadLength ?? PayloadLength(eth.Length + 28);
                    return FrameBuilder.BuildUdp(eth, ip, key.SrcPort, key.DstPort, RandomBytes(len), udpChecksum, minLength);
                }
            default:
                {
                    int len = payloadLength ?? PayloadLength(eth.Length + 20);
                    return FrameBuilder.BuildIpv4(eth, ip, RandomBytes(len), minLength);
                }
        }
    }

    private byte RandomTtl() => _rng.Next(0, 20) switch
    {
        0 => 0,
        1 or 2 => 1,
        3 => 2,
        4 => 255,
        _ => (byte)_rng.Next(2, 256),
    };

    private byte RandomTcpFlags() => _rng.Next(0, 20) switch
    {
        0 or 1 => (byte)(TcpFlags.Fin | TcpFlags.Ack),
        2 => TcpFlags.Rst,
        3 => (byte)_rng.Next(0, 256),
        4 => TcpFlags.Syn,
        _ => (byte)(TcpFlags.Ack | (_rng.Next(0, 2) == 0 ? TcpFlags.Psh : 0)),
    };

    private TrafficItem Hit()
    {
        var (key, _) = Pick(_flows);
        byte[] f = BuildFlowFrame(key, Pick(_ours[key.InPort]), MaybeVlan(), RandomTtl(), RandomTcpFlags(), _rng.Next(0, 8) != 0);
        return Item("hit", key.InPort, f);
    }

    private TrafficItem Miss()
    {
        var key = RandomKey();
        byte[] f = BuildFlowFrame(key, Pick(_ours[key.InPort]), MaybeVlan(), RandomTtl(), RandomTcpFlags(), true);
        return Item("miss", key.InPort, f);
    }

    private MacAddress ArpDestination(int port) => _rng.Next(0, 4) switch
    {
        0 => _config.PortMacs[port],
        1 => Pick(_ours[port]),
        _ => MacAddress.Broadcast,
    };

    private TrafficItem ArpRoundRobin()
    {
        int port = _rng.Next(0, 2);
        uint vip = port == 0 ? TestNet.Vip : Vip3;
        return Item("arp-rr", port, TestNet.ArpRequest(vip, ArpDestination(port), RandomUnicast(), RandomIp(), MaybeVlan()));
    }

    private TrafficItem ArpOther()
    {
        int port = _rng.Next(0, 2);
        switch (_rng.Next(0, 8))
        {
            case 0:
            case 1:
                return Item("arp-hd", port, TestNet.ArpRequest(_rng.Next(0, 2) == 0 ? TestNet.Vip2 : Vip5, ArpDestination(port), RandomUnicast(), RandomIp(), MaybeVlan()));
            case 2:
                return Item("arp-disabled-or-unknown", port, TestNet.ArpRequest(_rng.Next(0, 2) == 0 ? Vip4 : RandomIp(), ArpDestination(port), RandomUnicast(), RandomIp(), MaybeVlan()));
            case 3:
                {
                    var dst = _rng.Next(0, 2) == 0 ? TestNet.GlbpHelloMac : RandomUnicast();
                    return Item("arp-mcast-or-other", port, TestNet.ArpRequest(TestNet.Vip2, dst, RandomUnicast(), RandomIp(), MaybeVlan()));
                }
            case 4:
                {
                    var sender = RandomUnicast();
                    byte[] reply = FrameBuilder.BuildArp(new EthernetHeader(ArpDestination(port).Value, sender.Value, MaybeVlan()),
                        ArpPacket.Reply(sender.Value, RandomIp(), _config.PortMacs[port].Value, TestNet.Vip2));
                    return Item("arp-reply", port, reply);
                }
            case 5:
                {
                    byte[] f = TestNet.ArpRequest(TestNet.Vip2, ArpDestination(port), RandomUnicast(), RandomIp(), MaybeVlan());
                    int l3 = f[12] == 0x81 ? 18 : 14;
                    f[l3 + _rng.Next(0, 8)] ^= (byte)(1 << _rng.Next(0, 8));
                    return Item("arp-odd-fields", port, f);
                }
            case 6:
                {
                    byte[] f = TestNet.ArpRequest(TestNet.Vip2, ArpDestination(port), RandomUnicast(), RandomIp(), MaybeVlan());
                    int l3 = f[12] == 0x81 ? 18 : 14;
                    return Item("arp-short", port, f[.._rng.Next(l3, l3 + 28)]);
                }
            default:
                {
                    // Exactly as long as needed, or with a long tail.
                    byte[] f = TestNet.ArpRequest(TestNet.Vip2, ArpDestination(port), RandomUnicast(), RandomIp(), MaybeVlan());
                    int l3 = f[12] == 0x81 ? 18 : 14;
                    byte[] g = _rng.Next(0, 2) == 0 ? f[..(l3 + 28)] : [.. f, .. RandomBytes(_rng.Next(1, 1400))];
                    return Item("arp-hd-odd-length", port, g);
                }
        }
    }

    private TrafficItem Proto()
    {
        int port = _rng.Next(0, 2);
        ushort dport = _rng.Next(0, 2) == 0 ? (ushort)RegConst.GlbpPort : _config.SyncPort;
        var key = new FlowKey((byte)port, RandomIp(), RandomIp(), IpProtocol.Udp, (ushort)_rng.Next(0, 65536), dport);
        return Item("proto", port, BuildFlowFrame(key, Pick(_ours[port]), MaybeVlan(), RandomTtl(), 0, _rng.Next(0, 2) == 0));
    }

    private TrafficItem BroadcastIp()
    {
        int port = _rng.Next(0, 2);
        var key = RandomKey() with { InPort = (byte)port };
        var dst = _rng.Next(0, 3) switch
        {
            0 => MacAddress.Broadcast,
            1 => TestNet.GlbpHelloMac,
            _ => new MacAddress(RandomUnicast().Value | 0x0100_0000_0000),
        };
        return Item("bcast", port, BuildFlowFrame(key, dst, MaybeVlan(), RandomTtl(), RandomTcpFlags(), true));
    }

    private TrafficItem ExceptionIp()
    {
        int port = _rng.Next(0, 2);
        var key = RandomKey() with { InPort = (byte)port };
        var eth = new EthernetHeader(Pick(_ours[port]).Value, RandomUnicast().Value, MaybeVlan());
        if (_rng.Next(0, 2) == 0)
        {
            int optionWords = _rng.Next(1, 11);
            var ip = new Ipv4Header(key.SrcIp, key.DstIp, key.Protocol) { Options = RandomBytes(optionWords * 4), Ttl = RandomTtl() };
            byte[] f = FrameBuilder.BuildIpv4(eth, ip, RandomBytes(PayloadLength(eth.Length + ip.Length + 20) + 20));
            if (_rng.Next(0, 2) == 0)
                f[eth.Length + 10] ^= 0xFF; // IHL > 5 skips the checksum check
            return Item("exception-options", port, f);
        }
        ushort ff = (ushort)(_rng.Next(0, 2) == 0 ? Ipv4Header.MoreFragments | _rng.Next(0, 0x2000) : _rng.Next(1, 0x2000));
        var frag = new Ipv4Header(key.SrcIp, key.DstIp, key.Protocol) { FlagsFragment = ff, Ttl = RandomTtl() };
        return Item("exception-fragment", port, FrameBuilder.BuildIpv4(eth, frag, RandomBytes(PayloadLength(eth.Length + 40) + 20)));
    }

    private static void FixIpChecksum(byte[] f, int l3)
    {
        int ihl = (f[l3] & 0xF) * 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 10), 0);
        if (ihl >= 20 && l3 + ihl <= f.Length)
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 10), InternetChecksum.Compute(f.AsSpan(l3, ihl)));
    }

    private TrafficItem MalformedIp()
    {
        var (key, _) = Pick(_flows);
        byte[] f = BuildFlowFrame(key, Pick(_ours[key.InPort]), MaybeVlan(), 64, TcpFlags.Ack, true);
        int l3 = f[12] == 0x81 ? 18 : 14;
        int total = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(l3 + 2));
        switch (_rng.Next(0, 7))
        {
            case 0:
                return Item("malformed-short", key.InPort, f[.._rng.Next(l3, l3 + 20)]);
            case 1:
                {
                    int version = _rng.Next(0, 15);
                    f[l3] = (byte)(((version >= 4 ? version + 1 : version) << 4) | 5);
                    break;
                }
            case 2:
                f[l3] = (byte)(0x40 | _rng.Next(0, 5));
                break;
            case 3:
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 2), (ushort)_rng.Next(0, 20));
                break;
            case 4:
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 2), (ushort)_rng.Next(f.Length - l3 + 1, 65536));
                break;
            case 5:
                f[l3 + 9] = IpProtocol.Tcp;
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 2), (ushort)_rng.Next(20, Math.Min(40, total + 1)));
                break;
            default:
                f[l3 + 9] = IpProtocol.Udp;
                BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 + 2), (ushort)_rng.Next(20, Math.Min(28, total + 1)));
                break;
        }
        FixIpChecksum(f, l3);
        return Item("malformed", key.InPort, f);
    }

    private TrafficItem BadChecksum()
    {
        var (key, _) = Pick(_flows);
        var dst = _rng.Next(0, 4) == 0 ? MacAddress.Broadcast : Pick(_ours[key.InPort]);
        byte[] f = BuildFlowFrame(key, dst, MaybeVlan(), RandomTtl(), RandomTcpFlags(), true);
        int l3 = f[12] == 0x81 ? 18 : 14;
        f[l3 + 10 + _rng.Next(0, 2)] ^= (byte)(1 << _rng.Next(0, 8));
        return Item("bad-checksum", key.InPort, f);
    }

    private TrafficItem Runt()
    {
        int port = _rng.Next(0, 2);
        if (_rng.Next(0, 3) == 0)
        {
            byte[] tagged = RandomBytes(_rng.Next(14, 18));
            tagged[12] = 0x81;
            tagged[13] = 0x00;
            return Item("runt-tagged", port, tagged);
        }
        return Item("runt", port, RandomBytes(_rng.Next(1, 14)));
    }

    private TrafficItem Oversize()
    {
        var (key, _) = Pick(_flows);
        int max = _config.Geometry.MaxFrame;
        byte[] f = BuildFlowFrame(key, Pick(_ours[key.InPort]), null, 64, TcpFlags.Ack, true, max + _rng.Next(1, 200) - 54);
        return Item("oversize", key.InPort, f);
    }

    private TrafficItem OtherEthertype()
    {
        int port = _rng.Next(0, 2);
        ushort type = _rng.Next(0, 4) switch
        {
            0 => EtherType.Ipv6,
            1 => 0x88CC,
            2 => EtherType.Vlan,
            _ => (ushort)_rng.Next(0, 65536),
        };
        if (type is EtherType.Arp or EtherType.Ipv4)
            type = 0x88B5;
        var dst = _rng.Next(0, 4) switch
        {
            0 => MacAddress.Broadcast,
            1 => TestNet.GlbpHelloMac,
            _ => Pick(_ours[port]),
        };
        var eth = new EthernetHeader(dst.Value, RandomUnicast().Value, MaybeVlan());
        return Item("other-ethertype", port, FrameBuilder.BuildEthernet(eth, type, RandomBytes(PayloadLength(eth.Length)), _rng.Next(0, 2) * 60));
    }

    private TrafficItem NotForUs()
    {
        var (key, _) = Pick(_flows);
        var dst = _rng.Next(0, 3) == 0 ? _config.PortMacs[1 - key.InPort] : RandomUnicast();
        return _rng.Next(0, 3) switch
        {
            0 => Item("not-for-us-arp", key.InPort, TestNet.ArpRequest(TestNet.Vip2, dst, RandomUnicast(), RandomIp(), MaybeVlan())),
            1 => Item("not-for-us-other", key.InPort, FrameBuilder.BuildEthernet(new EthernetHeader(dst.Value, 2, MaybeVlan()), EtherType.Ipv6, RandomBytes(_rng.Next(0, 300)))),
            _ => Item("not-for-us-ipv4", key.InPort, BuildFlowFrame(key, dst, MaybeVlan(), RandomTtl(), RandomTcpFlags(), true)),
        };
    }

    private TrafficItem Garbage()
    {
        int port = _rng.Next(0, 2);
        byte[] f = RandomBytes(_rng.Next(14, 1519));
        MacAddress? dst = _rng.Next(0, 4) switch
        {
            0 => MacAddress.Broadcast,
            1 => Pick(_ours[port]),
            2 => null,
            _ => new MacAddress(RandomUnicast().Value | 0x0100_0000_0000),
        };
        dst?.WriteTo(f);
        if (_rng.Next(0, 3) == 0 && f.Length >= 18)
        {
            f[12] = 0x81;
            f[13] = 0x00;
        }
        int l3 = f[12] == 0x81 && f[13] == 0 && f.Length >= 18 ? 18 : 14;
        if (_rng.Next(0, 3) == 0)
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l3 - 2), EtherType.Ipv4);
        return Item("garbage", port, f);
    }

    private TrafficItem Mutated()
    {
        var (key, _) = Pick(_flows);
        byte[] f = BuildFlowFrame(key, Pick(_ours[key.InPort]), MaybeVlan(), RandomTtl(), RandomTcpFlags(), true);
        int flips = _rng.Next(1, 4);
        for (int i = 0; i < flips; i++)
            f[_rng.Next(12, Math.Min(f.Length, 64))] ^= (byte)(1 << _rng.Next(0, 8));
        if (_rng.Next(0, 2) == 0)
            FixIpChecksum(f, f[12] == 0x81 && f[13] == 0 ? 18 : 14);
        return Item("mutated", key.InPort, f);
    }

    private TrafficItem HostTx()
    {
        int len = _rng.Next(0, 50) == 0 ? _rng.Next(1519, 9001) : _rng.Next(14, 1519);
        Kinds["host-tx"] = Kinds.GetValueOrDefault("host-tx") + 1;
        return new TrafficItem("host-tx", _rng.Next(0, 2), RandomBytes(len), HostTx: true);
    }

    private TrafficItem HostTxRaw()
    {
        // An invalid commit (too short, too long for what was written, or a bad egress port) or a valid one
        // shorter than what was written.
        int len = _rng.Next(14, 200);
        byte[] written = RandomBytes((16 + len + 3) & ~3);
        written.AsSpan(1, 15).Clear();
        written[0] = (byte)_rng.Next(0, 2);
        int commit = 16 + len;
        switch (_rng.Next(0, 4))
        {
            case 0:
                commit = _rng.Next(0, 30);
                break;
            case 1:
                commit = written.Length + _rng.Next(1, 100);
                break;
            case 2:
                written[0] = (byte)_rng.Next(2, 256);
                break;
        }
        Kinds["host-tx-raw"] = Kinds.GetValueOrDefault("host-tx-raw") + 1;
        return new TrafficItem("host-tx-raw", 0, written, HostTx: true, RawCommit: commit);
    }
}
