using System.Buffers.Binary;

namespace Offload.Protocol.Glbp;

/// <summary>Where a GLBP message came from: its IPv4 or IPv6 source address and its Ethernet source.</summary>
public readonly record struct GlbpSource(uint Ipv4, UInt128 Ipv6, bool IsIpv6, ulong EthernetSource)
{
    public System.Net.IPAddress Address
    {
        get
        {
            if (!IsIpv6)
                return new System.Net.IPAddress(System.Net.IPAddress.HostToNetworkOrder((int)Ipv4) & 0xFFFF_FFFFL);
            Span<byte> b = stackalloc byte[16];
            BinaryPrimitives.WriteUInt128BigEndian(b, Ipv6);
            return new System.Net.IPAddress(b);
        }
    }
}

/// <summary>
/// Wraps a GLBP message in the frame Cisco sends (to 01:00:5e:00:00:66 / 224.0.0.102, UDP 3222 both ways, TTL 255,
/// DSCP CS6; over IPv6 to 33:33:00:00:00:66 / ff02::66, hop limit 255) and finds the message in a received frame.
/// </summary>
public static class GlbpFrame
{
    private const int UdpHeaderLength = 8;
    private const int Ipv6HeaderLength = 40;

    /// <param name="sourceMac">
    /// The Ethernet source: Cisco sends hellos from one of the vMACs the router forwards (its own MAC when it forwards
    /// none), which keeps the switches' tables pointing at the live forwarder; the sender's own MAC is in the GLBP header.
    /// </param>
    public static int Write(Span<byte> frame, ulong sourceMac, uint sourceIp, ReadOnlySpan<byte> message, ushort identification = 0)
    {
        var eth = new EthernetHeader(GlbpProtocol.MulticastMac, sourceMac);
        var ip = new Ipv4Header(sourceIp, GlbpProtocol.MulticastIpv4, IpProtocol.Udp)
        {
            Ttl = GlbpProtocol.Ttl,
            Tos = GlbpProtocol.TosCs6,
            Identification = identification,
        };
        return FrameBuilder.Udp(frame, eth, ip, GlbpProtocol.Port, GlbpProtocol.Port, message, checksum: true, minLength: FrameBuilder.MinFrame);
    }

    /// <summary>
    /// GLBP over IPv6 (to ff02::66, hop limit 255, traffic class CS6). Offload's groups run over IPv4; this builds the
    /// frames IPv6 Cisco groups send, for `glbp watch` and its tests.
    /// </summary>
    public static int WriteIpv6(Span<byte> frame, ulong sourceMac, UInt128 sourceIp, ReadOnlySpan<byte> message)
    {
        int udpLength = UdpHeaderLength + message.Length;
        int length = Math.Max(EthernetHeader.UntaggedLength + Ipv6HeaderLength + udpLength, FrameBuilder.MinFrame);
        if (frame.Length < length)
            throw new ArgumentException($"the frame needs {length} bytes, the span has {frame.Length}", nameof(frame));
        int at = new EthernetHeader(GlbpProtocol.MulticastMacIpv6, sourceMac).WriteTo(frame, EtherType.Ipv6);
        Span<byte> ip = frame.Slice(at, Ipv6HeaderLength);
        // Version 6, traffic class CS6 (0xC0), flow label 0.
        BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000u | ((uint)GlbpProtocol.TosCs6 << 20));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)udpLength);
        ip[6] = IpProtocol.Udp;
        ip[7] = GlbpProtocol.Ttl;
        BinaryPrimitives.WriteUInt128BigEndian(ip[8..], sourceIp);
        BinaryPrimitives.WriteUInt128BigEndian(ip[24..], GlbpProtocol.MulticastIpv6);
        Span<byte> udp = frame.Slice(at + Ipv6HeaderLength, udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp, GlbpProtocol.Port);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], GlbpProtocol.Port);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], 0);
        message.CopyTo(udp[8..]);
        // The UDP checksum is mandatory over IPv6: pseudo-header of both addresses, the length and next header.
        uint sum = InternetChecksum.Add(0, ip.Slice(8, 32));
        sum = InternetChecksum.Add(sum, (ushort)udpLength);
        sum = InternetChecksum.Add(sum, IpProtocol.Udp);
        ushort c = InternetChecksum.Compute(udp, sum);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], c == 0 ? (ushort)0xFFFF : c);
        frame[(at + Ipv6HeaderLength + udpLength)..length].Clear();
        return length;
    }

    /// <summary>Allocates; for tests and tools.</summary>
    public static byte[] BuildIpv6(ulong sourceMac, UInt128 sourceIp, ReadOnlySpan<byte> message)
    {
        var buffer = new byte[Math.Max(EthernetHeader.UntaggedLength + Ipv6HeaderLength + UdpHeaderLength + message.Length, FrameBuilder.MinFrame)];
        WriteIpv6(buffer, sourceMac, sourceIp, message);
        return buffer;
    }

    /// <summary>Allocates; for tests and tools.</summary>
    public static byte[] Build(ulong sourceMac, uint sourceIp, ReadOnlySpan<byte> message, ushort identification = 0)
    {
        var buffer = new byte[Math.Max(EthernetHeader.UntaggedLength + Ipv4Header.MinLength + UdpHeaderLength + message.Length, FrameBuilder.MinFrame)];
        Write(buffer, sourceMac, sourceIp, message, identification);
        return buffer;
    }

    /// <summary>
    /// Finds the GLBP message in an Ethernet frame (untagged or one 802.1Q tag): IPv4, not a fragment, UDP to port
    /// 3222. False for anything else; never throws. Ethernet padding is cut off using the UDP length.
    /// </summary>
    public static bool TryGetMessage(ReadOnlySpan<byte> frame, out uint sourceIp, out ReadOnlySpan<byte> message)
    {
        bool found = TryRead(frame, out GlbpSource source, out message) && !source.IsIpv6;
        sourceIp = found ? source.Ipv4 : 0;
        if (!found)
            message = default;
        return found;
    }

    /// <summary>
    /// Finds the GLBP message in an Ethernet frame (untagged or one 802.1Q tag) over IPv4 (not a fragment) or IPv6
    /// (UDP straight after the fixed header), UDP to port 3222. False for anything else; never throws.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> frame, out GlbpSource source, out ReadOnlySpan<byte> message)
    {
        source = default;
        message = default;
        int at = 12;
        if (frame.Length < EthernetHeader.UntaggedLength)
            return false;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[at..]);
        if (etherType == EtherType.Vlan)
        {
            if (frame.Length < EthernetHeader.TaggedLength)
                return false;
            at += 4;
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[at..]);
        }
        at += 2;
        ulong ethernetSource = EthernetHeader.ReadMac(frame[6..]);
        if (etherType == EtherType.Ipv6)
            return TryGetIpv6(frame[at..], ethernetSource, out source, out message);
        if (etherType != EtherType.Ipv4)
            return false;
        ReadOnlySpan<byte> ip = frame[at..];
        if (ip.Length < Ipv4Header.MinLength || ip[0] >> 4 != 4)
            return false;
        int ihl = (ip[0] & 0x0F) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        ushort fragment = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        if (ihl < Ipv4Header.MinLength || total < ihl + UdpHeaderLength || total > ip.Length || ip[9] != IpProtocol.Udp
            || (fragment & (Ipv4Header.MoreFragments | 0x1FFF)) != 0)
            return false;
        ReadOnlySpan<byte> udp = ip[ihl..total];
        int udpLength = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        if (BinaryPrimitives.ReadUInt16BigEndian(udp[2..]) != GlbpProtocol.Port || udpLength < UdpHeaderLength || udpLength > udp.Length)
            return false;
        source = new GlbpSource(BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), 0, false, ethernetSource);
        message = udp[UdpHeaderLength..udpLength];
        return true;
    }

    private static bool TryGetIpv6(ReadOnlySpan<byte> ip, ulong ethernetSource, out GlbpSource source, out ReadOnlySpan<byte> message)
    {
        source = default;
        message = default;
        if (ip.Length < Ipv6HeaderLength || ip[0] >> 4 != 6 || ip[6] != IpProtocol.Udp)
            return false;
        int payload = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
        if (payload < UdpHeaderLength || payload > ip.Length - Ipv6HeaderLength)
            return false;
        ReadOnlySpan<byte> udp = ip.Slice(Ipv6HeaderLength, payload);
        int udpLength = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        if (BinaryPrimitives.ReadUInt16BigEndian(udp[2..]) != GlbpProtocol.Port || udpLength < UdpHeaderLength || udpLength > udp.Length)
            return false;
        source = new GlbpSource(0, BinaryPrimitives.ReadUInt128BigEndian(ip[8..]), true, ethernetSource);
        message = udp[UdpHeaderLength..udpLength];
        return true;
    }
}
