using System.Buffers.Binary;
using Offload.Daemon;
using Offload.Device;
using Offload.Protocol;

namespace Offload.Testing.Lab;

/// <summary>A TCP segment or ARP reply as an emulated endpoint saw it, decoded once.</summary>
/// <param name="Via">The gateway whose data plane sent it.</param>
/// <param name="ChecksumsOk">The IPv4 header and TCP checksums are right (what a real stack checks first).</param>
public sealed record LabSegmentSeen(LabGateway Via, MacAddress SrcMac, MacAddress DstMac, uint SrcIp, uint DstIp, ushort SrcPort, ushort DstPort,
    byte Flags, byte Ttl, int PayloadLength, bool ChecksumsOk, TimeSpan At)
{
    internal static LabSegmentSeen? TryDecode(LabGateway via, ReadOnlySpan<byte> frame, TimeSpan at)
    {
        // Untagged IPv4/TCP without options only: that is all the lab's endpoints send, so anything else is not theirs.
        if (frame.Length < 14 + 20 + 20 || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherType.Ipv4)
            return null;
        var ip = frame[14..];
        if (ip[0] != 0x45 || ip[9] != IpProtocol.Tcp)
            return null;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (total < 40 || total > ip.Length)
            return null;
        var tcp = ip[20..total];
        int tcpHeader = (tcp[12] >> 4) * 4;
        if (tcpHeader < 20 || tcpHeader > tcp.Length)
            return null;
        uint src = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        uint dst = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        bool ok = InternetChecksum.IsValid(ip[..20])
            && InternetChecksum.Fold(InternetChecksum.Add(InternetChecksum.PseudoHeader(src, dst, IpProtocol.Tcp, tcp.Length), tcp)) == 0xFFFF;
        return new LabSegmentSeen(via, MacAddress.FromBytes(frame[6..]), MacAddress.FromBytes(frame), src, dst,
            BinaryPrimitives.ReadUInt16BigEndian(tcp), BinaryPrimitives.ReadUInt16BigEndian(tcp[2..]), tcp[13], ip[8],
            tcp.Length - tcpHeader, ok, at);
    }
}

/// <summary>
/// An emulated host on the segment: it keeps the ARP replies and TCP segments addressed to its MAC, so a scenario can
/// ask what the host saw. It sends nothing by itself.
/// </summary>
public sealed class LabHost
{
    private readonly List<LabSegmentSeen> _tcp = [];

    internal LabHost(int index, MacAddress mac, uint ip, ushort port)
    {
        Index = index;
        Mac = mac;
        Ip = ip;
        Port = port;
    }

    public int Index { get; }

    public MacAddress Mac { get; }

    public uint Ip { get; }

    /// <summary>The source port of this host's one connection.</summary>
    public ushort Port { get; }

    /// <summary>The last ARP reply: the vMAC it resolved and whose hardware answered.</summary>
    public (MacAddress Vmac, uint Ip, LabGateway From)? LastArpReply { get; private set; }

    public int ArpReplies { get; private set; }

    public IReadOnlyList<LabSegmentSeen> Tcp => _tcp;

    /// <summary>Next sequence number to send (the payload bytes sent so far move it).</summary>
    public uint Sequence { get; set; } = 1000;

    internal void Receive(LabGateway from, ReadOnlySpan<byte> frame)
    {
        if (frame.Length >= 42 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == EtherType.Arp
            && BinaryPrimitives.ReadUInt16BigEndian(frame[20..]) == ArpPacket.OperationReply)
        {
            ArpReplies++;
            LastArpReply = (MacAddress.FromBytes(frame[22..]), BinaryPrimitives.ReadUInt32BigEndian(frame[28..]), from);
            return;
        }
        if (LabSegmentSeen.TryDecode(from, frame, default) is { } seen)
            _tcp.Add(seen);
    }

    public byte[] ArpRequest(uint targetIp) =>
        FrameBuilder.BuildArp(new EthernetHeader(MacAddress.Broadcast.Value, Mac.Value), ArpPacket.Request(Mac.Value, Ip, targetIp));

    /// <summary>A segment of this host's connection to <paramref name="service"/>, sent to <paramref name="gateway"/>; moves <see cref="Sequence"/>.</summary>
    public byte[] TcpTo(MacAddress gateway, uint service, ushort servicePort, byte flags, int payload = 0)
    {
        var frame = FrameBuilder.BuildTcp(new EthernetHeader(gateway.Value, Mac.Value), new Ipv4Header(Ip, service, IpProtocol.Tcp),
            new TcpHeader(Port, servicePort) { Flags = flags, Sequence = Sequence }, new byte[payload]);
        Sequence += (uint)payload + ((flags & TcpFlags.Syn) != 0 ? 1u : 0u);
        return frame;
    }

    public override string ToString() => $"host {Ipv4Address.Format(Ip)}";
}

/// <summary>One emulated backend: the TCP connections it has accepted and what it answered.</summary>
public sealed class LabBackend
{
    private readonly HashSet<(uint Ip, ushort Port)> _connections = [];

    internal LabBackend(string id, uint ip, ushort port, MacAddress mac)
    {
        Id = id;
        Ip = ip;
        Port = port;
        Mac = mac;
    }

    public string Id { get; }

    public uint Ip { get; }

    public ushort Port { get; }

    public MacAddress Mac { get; }

    public int Connections => _connections.Count;

    /// <summary>Segments of a connection this backend never accepted (it answered each with a RST).</summary>
    public int Resets { get; private set; }

    public bool Knows(uint clientIp, ushort clientPort) => _connections.Contains((clientIp, clientPort));

    // The TCP a real server does, reduced to what decides whether a connection lives: a SYN opens it (SYN-ACK),
    // data on it is acknowledged, and anything for a connection it does not have is reset.
    internal byte[]? Answer(LabGateway via, LabSegmentSeen s)
    {
        byte flags;
        if ((s.Flags & TcpFlags.Syn) != 0)
        {
            _connections.Add((s.SrcIp, s.SrcPort));
            flags = TcpFlags.Syn | TcpFlags.Ack;
        }
        else if (!_connections.Contains((s.SrcIp, s.SrcPort)))
        {
            if ((s.Flags & TcpFlags.Rst) != 0)
                return null;
            Resets++;
            flags = TcpFlags.Rst;
        }
        else if ((s.Flags & TcpFlags.Fin) != 0)
        {
            _connections.Remove((s.SrcIp, s.SrcPort));
            flags = TcpFlags.Fin | TcpFlags.Ack;
        }
        else if (s.PayloadLength > 0)
        {
            flags = TcpFlags.Ack;
        }
        else
        {
            return null;
        }
        // The way back is the gateway that delivered it (its port-1 MAC): the backends' side has no GLBP of its own here.
        return FrameBuilder.BuildTcp(new EthernetHeader(via.Config.Port1Mac.Value, Mac.Value), new Ipv4Header(Ip, s.SrcIp, IpProtocol.Tcp),
            new TcpHeader(Port, s.SrcPort) { Flags = flags, Sequence = 5000 }, ReadOnlySpan<byte>.Empty);
    }
}

/// <summary>The backends behind every gateway's port 1, found by MAC; every TCP segment they took is logged.</summary>
public sealed class LabBackends
{
    private readonly Dictionary<ulong, LabBackend> _byMac = [];
    private readonly List<(LabBackend Backend, LabSegmentSeen Segment)> _log = [];

    public IEnumerable<LabBackend> All => _byMac.Values;

    /// <summary>What reached a backend, in order.</summary>
    public IReadOnlyList<(LabBackend Backend, LabSegmentSeen Segment)> Log => _log;

    /// <summary>Frames that left a port 1 for a MAC that is no backend (a route's next hop, say).</summary>
    public long Elsewhere { get; private set; }

    public LabBackend Add(string id, uint ip, ushort port, MacAddress mac)
    {
        if (_byMac.TryGetValue(mac.Value, out var known))
            return known;
        var b = new LabBackend(id, ip, port, mac);
        _byMac.Add(mac.Value, b);
        return b;
    }

    public LabBackend? Find(MacAddress mac) => _byMac.GetValueOrDefault(mac.Value);

    internal byte[]? Deliver(LabGateway via, ReadOnlySpan<byte> frame, TimeSpan at)
    {
        if (!_byMac.TryGetValue(MacAddress.FromBytes(frame).Value, out var backend))
        {
            Elsewhere++;
            return null;
        }
        var seen = LabSegmentSeen.TryDecode(via, frame, at);
        // A segment for another address or port, or with a broken checksum, is one the backend's stack never takes.
        if (seen is null || seen.DstIp != backend.Ip || seen.DstPort != backend.Port || !seen.ChecksumsOk)
        {
            Elsewhere++;
            return null;
        }
        _log.Add((backend, seen));
        return backend.Answer(via, seen);
    }
}
