using System.Buffers.Binary;
using Offload.Device;
using static Offload.Device.RegConst;

namespace Offload.Reference;

/// <summary>
/// docs/dataplane.md written as plain C#, one frame at a time, for co-simulation against the RTL. It is meant to be
/// read next to that page: each step carries the page's wording. It predicts what comes out (frames to ports 0/1,
/// host RX queue entries with their metadata) and every counter. It does not model time (timestamps,
/// LAST_SEEN values: only which entries were hit), the watchdog, or a full host RX queue (tests drain it).
/// The configuration is read live, so tests may change <see cref="Config"/> between frames; call
/// <see cref="WriteGroupConfig"/> where the device's group CFG register is written (it resets round-robin).
/// </summary>
public sealed class ReferencePipeline
{
    private readonly ulong[,] _portCounters = new ulong[2, CntPortCount];
    private readonly ulong[] _globalCounters = new ulong[CntGlobalCount];
    private readonly uint[,] _arpCounters;
    private readonly int[] _roundRobin;
    private readonly HashSet<int> _hits = [];

    public ReferencePipeline(DataplaneConfig config)
    {
        Config = config ?? throw new ArgumentNullException(nameof(config));
        _arpCounters = new uint[config.Geometry.Groups, 256];
        _roundRobin = new int[config.Geometry.Groups];
    }

    public DataplaneConfig Config { get; }

    private DataplaneGeometry Geometry => Config.Geometry;

    /// <summary>Flow entry indices hit since the last <see cref="ClearHits"/> (LAST_SEEN written).</summary>
    public IReadOnlySet<int> Hits => _hits;

    public ulong Counter(int port, int index) => _portCounters[port, index];

    public ulong GlobalCounter(int index) => _globalCounters[index];

    public uint ArpCounter(int group, int forwarder) => _arpCounters[group, forwarder];

    public int RoundRobinPointer(int group) => _roundRobin[group];

    /// <summary>Writing a counter's LO register clears it.</summary>
    public void ClearCounter(int port, int index) => _portCounters[port, index] = 0;

    public void ClearGlobalCounter(int index) => _globalCounters[index] = 0;

    /// <summary>A write of ARPCNT_DATA sets the value.</summary>
    public void SetArpCounter(int group, int forwarder, uint value) => _arpCounters[group, forwarder] = value;

    /// <summary>Every port and global counter, and the per-forwarder ARP counters.</summary>
    public void ClearAllCounters()
    {
        Array.Clear(_portCounters);
        Array.Clear(_globalCounters);
        Array.Clear(_arpCounters);
    }

    public void ClearHits() => _hits.Clear();

    /// <summary>The group's CFG register was written: its round-robin pointer starts again at 0.</summary>
    public void WriteGroupConfig(int group) => _roundRobin[group] = 0;

    /// <summary>Reset: counters, ARP counters, pointers and hit flags all back to zero.</summary>
    public void Reset()
    {
        ClearAllCounters();
        Array.Clear(_roundRobin);
        _hits.Clear();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Frame parsing (per ingress port)
    // ---------------------------------------------------------------------------------------------------------

    private enum DestinationClass
    {
        Bcast,
        Mcast,
        Own,
        Vmac,
        Other,
    }

    /// <summary>Processes one frame received on <paramref name="port"/> (0 = segment, 1 = uplink).</summary>
    public ProcessResult Process(int port, ReadOnlySpan<byte> frame)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 1);
        var outputs = new List<PipelineOutput>(2);
        int len = frame.Length;

        // RX_* count every frame received, including dropped ones.
        Count(port, CntRxFrames);
        Count(port, CntRxBytes, (ulong)len);

        if (len > Geometry.MaxFrame)
            return Drop(port, CntDropOversize, outputs, $"len {len} > MAX_FRAME");
        if (len < 14)
            return Drop(port, CntDropRunt, outputs, $"len {len} < 14");
        bool vlan = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x8100;
        if (vlan && len < 18)
            return Drop(port, CntDropRunt, outputs, $"vlan len {len} < 18");
        int l3 = vlan ? 18 : 14;
        ushort ethertype = BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 - 2)..]);
        DestinationClass cls = Classify(port, frame[..6]);

        return ethertype switch
        {
            0x0806 => Arp(port, frame, vlan, l3, cls, outputs),
            0x0800 => Ipv4(port, frame, l3, cls, outputs),
            _ => cls == DestinationClass.Other
                ? Drop(port, CntDropNotForUs, outputs, $"ethertype 0x{ethertype:x4} class other")
                : Punt(port, ReasonOther, 0, frame, outputs, $"ethertype 0x{ethertype:x4} class {cls}"),
        };
    }

    private DestinationClass Classify(int port, ReadOnlySpan<byte> destination)
    {
        var mac = MacAddress.FromBytes(destination);
        if (mac == MacAddress.Broadcast)
            return DestinationClass.Bcast;
        if ((destination[0] & 1) != 0)
            return DestinationClass.Mcast;
        if (mac == Config.PortMacs[port])
            return DestinationClass.Own;
        foreach (MacAddress? vmac in Config.Vmacs)
        {
            if (vmac == mac)
                return DestinationClass.Vmac;
        }
        return DestinationClass.Other;
    }

    // ---------------------------------------------------------------------------------------------------------
    // ARP (ethertype 0x0806)
    // ---------------------------------------------------------------------------------------------------------

    private ProcessResult Arp(int port, ReadOnlySpan<byte> frame, bool vlan, int l3, DestinationClass cls, List<PipelineOutput> outputs)
    {
        if (frame.Length < l3 + 28)
            return Drop(port, CntDropMalformed, outputs, $"arp len {frame.Length} < l3 + 28");
        ReadOnlySpan<byte> arp = frame[l3..];
        bool request = BinaryPrimitives.ReadUInt16BigEndian(arp) == 1
            && BinaryPrimitives.ReadUInt16BigEndian(arp[2..]) == 0x0800
            && arp[4] == 6
            && arp[5] == 4
            && BinaryPrimitives.ReadUInt16BigEndian(arp[6..]) == 1;
        ReadOnlySpan<byte> sha = arp.Slice(8, 6);
        ReadOnlySpan<byte> spa = arp.Slice(14, 4);
        uint tpa = BinaryPrimitives.ReadUInt32BigEndian(arp[24..]);

        int group = -1;
        if (request && cls is DestinationClass.Bcast or DestinationClass.Own or DestinationClass.Vmac)
            group = GroupForVip(tpa);

        if (group < 0)
        {
            return cls == DestinationClass.Other
                ? Drop(port, CntDropNotForUs, outputs, "arp class other")
                : Punt(port, ReasonArp, 0, frame, outputs, $"arp not answerable (request {request}, class {cls})");
        }

        GroupConfig g = Config.Groups[group]!;
        int slot = PickSlot(group, g, MacAddress.FromBytes(sha));
        int forwarder = slot < g.Slots.Length ? g.Slots[slot] : 0;
        MacAddress vmacOut = MacAddress.Glbp(g.GroupId & 0x3FF, forwarder);

        // Length 60 (64 with a VLAN tag), sent out the ingress port.
        byte[] reply = new byte[vlan ? 64 : 60];
        sha.CopyTo(reply);
        vmacOut.WriteTo(reply.AsSpan(6));
        if (vlan)
            frame.Slice(12, 4).CopyTo(reply.AsSpan(12));
        Span<byte> r = reply.AsSpan(l3 - 2);
        BinaryPrimitives.WriteUInt16BigEndian(r, 0x0806);
        BinaryPrimitives.WriteUInt16BigEndian(r[2..], 1);
        BinaryPrimitives.WriteUInt16BigEndian(r[4..], 0x0800);
        r[6] = 6;
        r[7] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(r[8..], 2);
        vmacOut.WriteTo(r[10..]);
        BinaryPrimitives.WriteUInt32BigEndian(r[16..], g.VirtualIp);
        sha.CopyTo(r[20..]);
        spa.CopyTo(r[26..]);

        Transmit(port, reply, outputs);
        Count(port, CntArpReplies);
        _arpCounters[group, forwarder]++;
        if (g.CopyRequests)
            Punt(port, ReasonArpCopy, (uint)group, frame, outputs, "");
        return new ProcessResult(outputs, $"arp reply group {group} slot {slot} forwarder {forwarder}{(g.CopyRequests ? " + copy" : "")}");
    }

    /// <summary>The enabled group whose VIP is the target address; the lowest index wins.</summary>
    private int GroupForVip(uint tpa)
    {
        for (int i = 0; i < Config.Groups.Length; i++)
        {
            if (Config.Groups[i] is { Enabled: true } g && g.VirtualIp == tpa)
                return i;
        }
        return -1;
    }

    private int PickSlot(int group, GroupConfig g, MacAddress sha)
    {
        int slots = Geometry.Slots;
        if (g.Mode == ArpMode.HostDependent)
            return (int)(FlowHash.CrcA(sha) % (uint)slots);
        // Round-robin: the pointer advances by one (mod SLOTS) after each reply.
        int slot = _roundRobin[group];
        _roundRobin[group] = (slot + 1) % slots;
        return slot;
    }

    // ---------------------------------------------------------------------------------------------------------
    // IPv4 (ethertype 0x0800): checked in this order, the first that applies decides
    // ---------------------------------------------------------------------------------------------------------

    private ProcessResult Ipv4(int port, ReadOnlySpan<byte> frame, int l3, DestinationClass cls, List<PipelineOutput> outputs)
    {
        int len = frame.Length;
        // 1. class other
        if (cls == DestinationClass.Other)
            return Drop(port, CntDropNotForUs, outputs, "ipv4 class other");

        // 2. malformed
        if (len < l3 + 20)
            return Drop(port, CntDropMalformed, outputs, $"ipv4 len {len} < l3 + 20");
        ReadOnlySpan<byte> ip = frame[l3..];
        int version = ip[0] >> 4;
        int ihl = ip[0] & 0xF;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (version != 4 || ihl < 5 || totalLength < ihl * 4 || l3 + totalLength > len)
            return Drop(port, CntDropMalformed, outputs, $"ipv4 version {version} ihl {ihl} total length {totalLength} frame {len}");

        // 3. header checksum; frames with IHL > 5 skip it (they are punted at step 5).
        if (ihl == 5 && OnesComplementSum(ip[..20]) != 0xFFFF)
            return Drop(port, CntDropBadCsum, outputs, $"ipv4 header sum 0x{OnesComplementSum(ip[..20]):x4}");

        // 4. broadcast / multicast
        if (cls is DestinationClass.Bcast or DestinationClass.Mcast)
            return Punt(port, ReasonBcast, 0, frame, outputs, $"ipv4 class {cls}");

        // 5. options or a fragment
        ushort flagsFragment = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        bool moreFragments = (flagsFragment & 0x2000) != 0;
        int fragmentOffset = flagsFragment & 0x1FFF;
        if (ihl > 5 || moreFragments || fragmentOffset != 0)
            return Punt(port, ReasonException, 0, frame, outputs, $"ipv4 ihl {ihl} MF {moreFragments} offset {fragmentOffset}");

        // 6. L4 header too short for its protocol
        byte protocol = ip[9];
        if ((protocol == 6 && totalLength < 40) || (protocol == 17 && totalLength < 28))
            return Drop(port, CntDropMalformed, outputs, $"protocol {protocol} total length {totalLength}");

        int l4 = l3 + 20;
        bool tcpUdp = protocol is 6 or 17;
        ushort srcPort = tcpUdp ? BinaryPrimitives.ReadUInt16BigEndian(frame[l4..]) : (ushort)0;
        ushort dstPort = tcpUdp ? BinaryPrimitives.ReadUInt16BigEndian(frame[(l4 + 2)..]) : (ushort)0;

        // 7. GLBP and session sync
        if (protocol == 17 && (dstPort == GlbpPort || dstPort == Config.SyncPort))
            return Punt(port, ReasonProto, 0, frame, outputs, $"udp to {dstPort}");

        // 8. flow lookup
        var key = new FlowKey((byte)port, BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), BinaryPrimitives.ReadUInt32BigEndian(ip[16..]),
            protocol, srcPort, dstPort);
        int index = Lookup(key);
        if (index < 0)
        {
            Count(port, CntFtMiss);
            return Punt(port, ReasonMiss, 0, frame, outputs, $"miss {key}");
        }

        // 9. hit
        Count(port, CntFtHit);
        _hits.Add(index);
        FlowAction action = Config.Flows[index].Action;
        byte ttl = ip[8];
        if (action.TtlDecrement && ttl <= 1)
        {
            Count(port, CntTtlExpired);
            return Punt(port, ReasonTtl, (uint)index, frame, outputs, $"hit {index} ttl {ttl}");
        }

        NextHop nh = Config.NextHops[action.NextHop];
        int egress = nh.Port & 1;
        byte[] rewritten = Rewrite(frame, l3, l4, protocol, action, nh);
        Transmit(egress, rewritten, outputs);

        string path = $"hit {index} -> port {egress}";
        if (protocol == 6)
        {
            byte flags = frame[l4 + 13];
            if ((flags & 0x05) != 0)
            {
                Count(port, CntFinRst);
                // Events carry no frame: length 0, aux = TCP flags in bits 31..24 and the flow index.
                Enqueue(new HostMetadata((byte)ReasonFinRst, (byte)port, 0, ((uint)flags << 24) | (uint)index), [], outputs);
                path += $" + FIN_RST flags 0x{flags:x2}";
            }
        }
        return new ProcessResult(outputs, path);
    }

    /// <summary>
    /// All ways of both buckets and the stash are compared; an entry is only found where the hashes put it.
    /// When more than one matches, the lowest index wins.
    /// </summary>
    private int Lookup(in FlowKey key)
    {
        int buckets = Geometry.Buckets;
        int ways = Geometry.Ways;
        int bucketA = (int)(FlowHash.CrcA(key) % (uint)buckets);
        int bucketB = (int)(FlowHash.CrcB(key) % (uint)buckets);
        int best = -1;
        for (int way = 0; way < ways; way++)
        {
            Consider(Geometry.Index(0, bucketA, way), key, ref best);
            Consider(Geometry.Index(1, bucketB, way), key, ref best);
        }
        for (int s = 0; s < Geometry.Stash; s++)
            Consider(Geometry.MainEntries + s, key, ref best);
        return best;
    }

    private void Consider(int index, in FlowKey key, ref int best)
    {
        if (Config.Flows.TryGetValue(index, out var entry) && entry.Key == key && (best < 0 || index < best))
            best = index;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Rewrite (on a hit)
    // ---------------------------------------------------------------------------------------------------------

    private static byte[] Rewrite(ReadOnlySpan<byte> frame, int l3, int l4, byte protocol, FlowAction action, NextHop nh)
    {
        byte[] output = frame.ToArray();
        Span<byte> f = output;

        // MACs replaced; the VLAN tag kept as it was.
        nh.Destination.WriteTo(f);
        nh.Source.WriteTo(f[6..]);

        Span<byte> ip = f[l3..];
        bool tcpUdp = protocol is 6 or 17;

        // RFC 1624 eqn. 3 as one sum: s = ~HC + sum(~m) + sum(m') over every word the action rewrites.
        uint ipSum = (ushort)~BinaryPrimitives.ReadUInt16BigEndian(ip[10..]);
        uint l4Sum = 0;
        int l4ChecksumAt = protocol == 6 ? l4 + 16 : l4 + 6;
        if (tcpUdp)
            l4Sum = (ushort)~BinaryPrimitives.ReadUInt16BigEndian(f[l4ChecksumAt..]);

        if (action.TtlDecrement)
        {
            // The TTL word is TTL<<8 | protocol.
            ushort old = BinaryPrimitives.ReadUInt16BigEndian(ip[8..]);
            ip[8]--;
            ushort now = BinaryPrimitives.ReadUInt16BigEndian(ip[8..]);
            ipSum += (ushort)~old + (uint)now;
        }

        int nat = (int)action.Nat;
        if (nat is 1 or 2)
        {
            // Destination NAT rewrites the destination address and port, source NAT the source ones.
            int addressAt = nat == 1 ? 16 : 12;
            int portAt = l4 + (nat == 1 ? 2 : 0);
            for (int w = 0; w < 2; w++)
            {
                Span<byte> word = ip[(addressAt + (2 * w))..];
                ushort old = BinaryPrimitives.ReadUInt16BigEndian(word);
                ushort now = (ushort)(action.NatIp >> (16 * (1 - w)));
                BinaryPrimitives.WriteUInt16BigEndian(word, now);
                ipSum += (ushort)~old + (uint)now;
                // The addresses are in the TCP/UDP pseudo header.
                l4Sum += (ushort)~old + (uint)now;
            }
            if (tcpUdp && action.NatPort != 0)
            {
                ushort old = BinaryPrimitives.ReadUInt16BigEndian(f[portAt..]);
                BinaryPrimitives.WriteUInt16BigEndian(f[portAt..], action.NatPort);
                l4Sum += (ushort)~old + (uint)action.NatPort;
            }
        }

        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~Fold(ipSum));

        if (tcpUdp)
        {
            ushort oldChecksum = BinaryPrimitives.ReadUInt16BigEndian(f[l4ChecksumAt..]);
            ushort newChecksum = (ushort)~Fold(l4Sum);
            if (protocol == 17)
            {
                // A UDP checksum of 0 (none) stays 0; a computed one of 0 is sent as 0xFFFF.
                if (oldChecksum == 0)
                    newChecksum = 0;
                else if (newChecksum == 0)
                    newChecksum = 0xFFFF;
            }
            BinaryPrimitives.WriteUInt16BigEndian(f[l4ChecksumAt..], newChecksum);
        }
        return output;
    }

    /// <summary>Fold the carries into 16 bits until none remain.</summary>
    private static ushort Fold(uint s)
    {
        while (s > 0xFFFF)
            s = (s & 0xFFFF) + (s >> 16);
        return (ushort)s;
    }

    private static ushort OnesComplementSum(ReadOnlySpan<byte> data)
    {
        uint s = 0;
        for (int i = 0; i + 1 < data.Length; i += 2)
            s += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        return Fold(s);
    }

    // ---------------------------------------------------------------------------------------------------------
    // The host port
    // ---------------------------------------------------------------------------------------------------------

    /// <summary>
    /// HOST_TX: <paramref name="written"/> is everything written to HOST_TX_DATA since the last commit (4 bytes per
    /// write), <paramref name="commitLength"/> the value written to HOST_TX_COMMIT (metadata included).
    /// </summary>
    public ProcessResult HostTransmit(ReadOnlySpan<byte> written, int commitLength)
    {
        var outputs = new List<PipelineOutput>(1);
        int egress = written.Length > 0 ? written[0] : -1;
        if (commitLength < HostMetadata.Size + 14 || commitLength > HostMetadata.Size + Geometry.MaxFrame
            || commitLength > written.Length || egress > 1)
        {
            _globalCounters[CntGlobalHostTxDrops]++;
            return new ProcessResult(outputs, $"host tx commit {commitLength} of {written.Length} written, port {egress}: dropped")
            {
                DropCounter = CntGlobalHostTxDrops,
            };
        }
        _globalCounters[CntGlobalHostTxFrames]++;
        Transmit(egress, written[HostMetadata.Size..commitLength].ToArray(), outputs);
        return new ProcessResult(outputs, $"host tx -> port {egress}");
    }

    /// <summary>What <c>Dataplane.SendHost</c> does: metadata + frame written in 4-byte words, committed at its exact length.</summary>
    public ProcessResult SendHost(int port, ReadOnlySpan<byte> frame)
    {
        int length = HostMetadata.Size + frame.Length;
        byte[] written = new byte[(length + 3) & ~3];
        written[0] = (byte)port;
        frame.CopyTo(written.AsSpan(HostMetadata.Size));
        return HostTransmit(written, length);
    }

    private ProcessResult Punt(int port, int reason, uint aux, ReadOnlySpan<byte> frame, List<PipelineOutput> outputs, string path)
    {
        // The queue never overflows in this model, so every punt is queued.
        Enqueue(new HostMetadata((byte)reason, (byte)port, (ushort)frame.Length, aux), frame.ToArray(), outputs);
        return new ProcessResult(outputs, $"punt {HostMetadata.ReasonName(reason)}: {path}");
    }

    /// <summary>
    /// "Every entry that was queued (punted frames, ARP copies and FIN_RST events alike) counts PUNT on its
    /// ingress port", so PUNT is what the host reads from that port.
    /// </summary>
    private void Enqueue(HostMetadata metadata, byte[] frame, List<PipelineOutput> outputs)
    {
        outputs.Add(PipelineOutput.ToHost(metadata, frame));
        Count(metadata.IngressPort, CntPunt);
    }

    /// <summary>Counted on the egress port as TX_FRAMES/TX_BYTES when it leaves.</summary>
    private void Transmit(int egress, byte[] frame, List<PipelineOutput> outputs)
    {
        Count(egress, CntTxFrames);
        Count(egress, CntTxBytes, (ulong)frame.Length);
        outputs.Add(PipelineOutput.ToPort(egress, frame));
    }

    private ProcessResult Drop(int port, int counter, List<PipelineOutput> outputs, string path)
    {
        Count(port, counter);
        return new ProcessResult(outputs, "drop: " + path) { DropCounter = counter };
    }

    private void Count(int port, int index, ulong amount = 1) => _portCounters[port, index] += amount;
}
