using System.Buffers.Binary;

namespace Offload.Protocol;

/// <summary>
/// Builds whole Ethernet frames (no FCS) into a caller's span and returns the length written. Checksums are
/// computed; tests that need a wrong one corrupt the bytes afterwards. <c>minLength</c> pads with zeros after
/// the packet (Ethernet padding, not counted in IPv4 total length), e.g. 60 for a minimum-size frame.
/// The <c>Build*</c> overloads allocate and are meant for tests and the CLI, not per-packet paths.
/// </summary>
public static class FrameBuilder
{
    public const int MinFrame = 60;

    public static int Ethernet(Span<byte> frame, in EthernetHeader eth, ushort etherType, ReadOnlySpan<byte> payload, int minLength = 0)
    {
        int length = Math.Max(eth.Length + payload.Length, minLength);
        Need(frame, length);
        int at = eth.WriteTo(frame, etherType);
        payload.CopyTo(frame[at..]);
        frame[(at + payload.Length)..length].Clear();
        return length;
    }

    public static int Arp(Span<byte> frame, in EthernetHeader eth, in ArpPacket arp, int minLength = MinFrame)
    {
        int length = Math.Max(eth.Length + ArpPacket.Length, minLength);
        Need(frame, length);
        int at = eth.WriteTo(frame, EtherType.Arp);
        at += arp.WriteTo(frame[at..]);
        frame[at..length].Clear();
        return length;
    }

    /// <summary>An IPv4 packet with an arbitrary payload (ICMP, a hand-made L4 header, ...).</summary>
    public static int Ipv4(Span<byte> frame, in EthernetHeader eth, in Ipv4Header ip, ReadOnlySpan<byte> payload, int minLength = 0)
    {
        int length = Math.Max(eth.Length + ip.Length + payload.Length, minLength);
        Need(frame, length);
        int at = eth.WriteTo(frame, EtherType.Ipv4);
        at += ip.WriteTo(frame[at..], payload.Length);
        payload.CopyTo(frame[at..]);
        frame[(at + payload.Length)..length].Clear();
        return length;
    }

    /// <summary>UDP over IPv4; <paramref name="checksum"/> false sends 0 (no checksum), as RFC 768 allows.</summary>
    public static int Udp(Span<byte> frame, in EthernetHeader eth, in Ipv4Header ip, ushort sourcePort, ushort destinationPort,
        ReadOnlySpan<byte> payload, bool checksum = true, int minLength = 0)
    {
        int udpLength = 8 + payload.Length;
        int length = Math.Max(eth.Length + ip.Length + udpLength, minLength);
        Need(frame, length);
        var header = ip with { Protocol = IpProtocol.Udp };
        int at = eth.WriteTo(frame, EtherType.Ipv4);
        at += header.WriteTo(frame[at..], udpLength);
        Span<byte> udp = frame.Slice(at, udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], 0);
        payload.CopyTo(udp[8..]);
        if (checksum)
        {
            ushort c = InternetChecksum.Compute(udp, InternetChecksum.PseudoHeader(ip.Source, ip.Destination, IpProtocol.Udp, udpLength));
            // 0 means "no checksum" in UDP, so a computed 0 is sent as its other ones' complement form.
            BinaryPrimitives.WriteUInt16BigEndian(udp[6..], c == 0 ? (ushort)0xFFFF : c);
        }
        frame[(at + udpLength)..length].Clear();
        return length;
    }

    public static int Tcp(Span<byte> frame, in EthernetHeader eth, in Ipv4Header ip, in TcpHeader tcp, ReadOnlySpan<byte> payload, int minLength = 0)
    {
        int tcpLength = TcpHeader.Length + payload.Length;
        int length = Math.Max(eth.Length + ip.Length + tcpLength, minLength);
        Need(frame, length);
        var header = ip with { Protocol = IpProtocol.Tcp };
        int at = eth.WriteTo(frame, EtherType.Ipv4);
        at += header.WriteTo(frame[at..], tcpLength);
        Span<byte> seg = frame.Slice(at, tcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(seg, tcp.SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(seg[2..], tcp.DestinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(seg[4..], tcp.Sequence);
        BinaryPrimitives.WriteUInt32BigEndian(seg[8..], tcp.Acknowledgment);
        seg[12] = (TcpHeader.Length / 4) << 4;
        seg[13] = tcp.Flags;
        BinaryPrimitives.WriteUInt16BigEndian(seg[14..], tcp.Window);
        BinaryPrimitives.WriteUInt16BigEndian(seg[16..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(seg[18..], tcp.Urgent);
        payload.CopyTo(seg[20..]);
        ushort c = InternetChecksum.Compute(seg, InternetChecksum.PseudoHeader(ip.Source, ip.Destination, IpProtocol.Tcp, tcpLength));
        BinaryPrimitives.WriteUInt16BigEndian(seg[16..], c);
        frame[(at + tcpLength)..length].Clear();
        return length;
    }

    public static byte[] BuildEthernet(in EthernetHeader eth, ushort etherType, ReadOnlySpan<byte> payload, int minLength = 0)
    {
        var buffer = new byte[Math.Max(eth.Length + payload.Length, minLength)];
        Ethernet(buffer, eth, etherType, payload, minLength);
        return buffer;
    }

    public static byte[] BuildArp(in EthernetHeader eth, in ArpPacket arp, int minLength = MinFrame)
    {
        var buffer = new byte[Math.Max(eth.Length + ArpPacket.Length, minLength)];
        Arp(buffer, eth, arp, minLength);
        return buffer;
    }

    public static byte[] BuildIpv4(in EthernetHeader eth, in Ipv4Header ip, ReadOnlySpan<byte> payload, int minLength = 0)
    {
        var buffer = new byte[Math.Max(eth.Length + ip.Length + payload.Length, minLength)];
        Ipv4(buffer, eth, ip, payload, minLength);
        return buffer;
    }

    public static byte[] BuildUdp(in EthernetHeader eth, in Ipv4Header ip, ushort sourcePort, ushort destinationPort,
        ReadOnlySpan<byte> payload, bool checksum = true, int minLength = 0)
    {
        var buffer = new byte[Math.Max(eth.Length + ip.Length + 8 + payload.Length, minLength)];
        Udp(buffer, eth, ip, sourcePort, destinationPort, payload, checksum, minLength);
        return buffer;
    }

    public static byte[] BuildTcp(in EthernetHeader eth, in Ipv4Header ip, in TcpHeader tcp, ReadOnlySpan<byte> payload, int minLength = 0)
    {
        var buffer = new byte[Math.Max(eth.Length + ip.Length + TcpHeader.Length + payload.Length, minLength)];
        Tcp(buffer, eth, ip, tcp, payload, minLength);
        return buffer;
    }

    private static void Need(Span<byte> frame, int length)
    {
        if (frame.Length < length)
            throw new ArgumentException($"the frame needs {length} bytes, the span has {frame.Length}", nameof(frame));
    }
}
