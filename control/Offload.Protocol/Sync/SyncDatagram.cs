using System.Buffers.Binary;

namespace Offload.Protocol.Sync;

/// <summary>Why a frame handed to the sync receiver is not a sync datagram.</summary>
public enum SyncFrameError : byte
{
    None,
    TooShort,
    NotIpv4,

    /// <summary>IHL above 5 or a fragment: the data plane punts those as EXCEPTION, never as sync.</summary>
    OptionsOrFragment,

    NotUdp,
    WrongPort,

    /// <summary>The IPv4 total length or UDP length disagrees with the frame.</summary>
    BadLength,
}

/// <summary>Where a sync message sits in an Ethernet frame, and who sent it.</summary>
public readonly record struct SyncDatagramInfo(uint SourceIp, uint DestinationIp, ulong SourceMac, int PayloadOffset, int PayloadLength);

/// <summary>Wraps sync messages in Ethernet/IPv4/UDP and finds them again in frames the host queue delivers.</summary>
public static class SyncDatagram
{
    /// <summary>Ethernet (untagged), IPv4 and UDP headers in front of the message.</summary>
    public const int Overhead = 14 + 20 + 8;

    /// <summary>
    /// Builds the frame carrying <paramref name="message"/> into <paramref name="frame"/> (SYNC_PORT both ways, UDP
    /// checksum on) and returns its length. Allocates nothing.
    /// </summary>
    public static int Build(Span<byte> frame, ulong destinationMac, ulong sourceMac, uint sourceIp, uint destinationIp, ushort syncPort,
        ReadOnlySpan<byte> message) =>
        FrameBuilder.Udp(frame, new EthernetHeader(destinationMac, sourceMac), new Ipv4Header(sourceIp, destinationIp, IpProtocol.Udp),
            syncPort, syncPort, message);

    /// <summary>Finds the UDP payload of a frame sent to <paramref name="syncPort"/>; never throws.</summary>
    public static SyncFrameError TryParse(ReadOnlySpan<byte> frame, ushort syncPort, out SyncDatagramInfo info)
    {
        info = default;
        if (frame.Length < 14)
            return SyncFrameError.TooShort;
        int l3 = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == EtherType.Vlan ? 18 : 14;
        if (frame.Length < l3 + 20)
            return SyncFrameError.TooShort;
        if (BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 - 2)..]) != EtherType.Ipv4 || (frame[l3] >> 4) != 4)
            return SyncFrameError.NotIpv4;
        var ip = frame[l3..];
        if ((ip[0] & 0x0F) != 5 || (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0)
            return SyncFrameError.OptionsOrFragment;
        if (ip[9] != IpProtocol.Udp)
            return SyncFrameError.NotUdp;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (total < 28 || total > ip.Length)
            return SyncFrameError.BadLength;
        var udp = ip[20..total];
        if (BinaryPrimitives.ReadUInt16BigEndian(udp[2..]) != syncPort)
            return SyncFrameError.WrongPort;
        int udpLength = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        if (udpLength < 8 || udpLength > udp.Length)
            return SyncFrameError.BadLength;
        info = new SyncDatagramInfo(BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), BinaryPrimitives.ReadUInt32BigEndian(ip[16..]),
            EthernetHeader.ReadMac(frame[6..]), l3 + 28, udpLength - 8);
        return SyncFrameError.None;
    }
}
