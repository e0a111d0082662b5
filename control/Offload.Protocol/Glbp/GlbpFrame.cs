using System.Buffers.Binary;

namespace Offload.Protocol.Glbp;

/// <summary>
/// Wraps a GLBP message in the Ethernet/IPv4/UDP frame Cisco sends (to 01:00:5e:00:00:66 / 224.0.0.102, UDP 3222
/// both ways, TTL 255) and finds the message in a received frame.
/// </summary>
public static class GlbpFrame
{
    private const int UdpHeaderLength = 8;

    public static int Write(Span<byte> frame, ulong sourceMac, uint sourceIp, ReadOnlySpan<byte> message, ushort identification = 0)
    {
        var eth = new EthernetHeader(GlbpProtocol.MulticastMac, sourceMac);
        var ip = new Ipv4Header(sourceIp, GlbpProtocol.MulticastIpv4, IpProtocol.Udp) { Ttl = GlbpProtocol.Ttl, Identification = identification };
        return FrameBuilder.Udp(frame, eth, ip, GlbpProtocol.Port, GlbpProtocol.Port, message, checksum: true, minLength: FrameBuilder.MinFrame);
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
        sourceIp = 0;
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
        sourceIp = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        message = udp[UdpHeaderLength..udpLength];
        return true;
    }
}
