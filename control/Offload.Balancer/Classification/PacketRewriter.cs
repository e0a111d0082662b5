using System.Buffers.Binary;
using Offload.Device;

namespace Offload.Balancer.Classification;

/// <summary>Where the headers of a punted IPv4 frame are, and its flow key.</summary>
public readonly record struct ParsedPacket(FlowKey Key, int L3, int L4, byte Ttl, byte TcpFlags);

/// <summary>
/// Parses punted frames and rewrites them in place exactly as the data plane rewrites a hit
/// (docs/dataplane.md, "Rewrite"), so a re-injected first packet is bit for bit what the flow entry would
/// have produced and the backend sees one consistent stream.
/// </summary>
public static class PacketRewriter
{
    /// <summary>
    /// Reads the flow key the data plane would have looked up. False for anything a MISS cannot be: not IPv4,
    /// options, fragments, or too short for its protocol.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> frame, byte ingressPort, out ParsedPacket packet)
    {
        packet = default;
        if (frame.Length < 14)
            return false;
        int l3 = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x8100 ? 18 : 14;
        if (frame.Length < l3 + 20 || BinaryPrimitives.ReadUInt16BigEndian(frame[(l3 - 2)..]) != 0x0800)
            return false;
        ReadOnlySpan<byte> ip = frame[l3..];
        if (ip[0] != 0x45)
            return false;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (total < 20 || l3 + total > frame.Length || (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0)
            return false;
        byte protocol = ip[9];
        int l4 = l3 + 20;
        ushort sport = 0, dport = 0;
        byte flags = 0;
        if (protocol == 6 || protocol == 17)
        {
            if (total < (protocol == 6 ? 40 : 28))
                return false;
            sport = BinaryPrimitives.ReadUInt16BigEndian(frame[l4..]);
            dport = BinaryPrimitives.ReadUInt16BigEndian(frame[(l4 + 2)..]);
            if (protocol == 6)
                flags = frame[l4 + 13];
        }
        var key = new FlowKey(ingressPort, BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), BinaryPrimitives.ReadUInt32BigEndian(ip[16..]), protocol, sport, dport);
        packet = new ParsedPacket(key, l3, l4, ip[8], flags);
        return true;
    }

    /// <summary>Applies <paramref name="action"/> with next hop <paramref name="nextHop"/> to the frame, in place.</summary>
    public static void Rewrite(Span<byte> frame, in ParsedPacket packet, in FlowAction action, in NextHop nextHop)
    {
        nextHop.Destination.WriteTo(frame);
        nextHop.Source.WriteTo(frame[6..]);

        Span<byte> ip = frame[packet.L3..];
        byte protocol = packet.Key.Protocol;
        bool tcpUdp = protocol is 6 or 17;
        int l4ChecksumAt = packet.L4 + (protocol == 6 ? 16 : 6);

        // RFC 1624 eqn. 3 as one sum over every word the action rewrites, changed or not: the hardware does
        // the same, and it only matters when the old checksum is 0xFFFF.
        uint ipSum = (ushort)~BinaryPrimitives.ReadUInt16BigEndian(ip[10..]);
        uint l4Sum = tcpUdp ? (ushort)~BinaryPrimitives.ReadUInt16BigEndian(frame[l4ChecksumAt..]) : 0u;

        if (action.TtlDecrement)
        {
            ushort old = BinaryPrimitives.ReadUInt16BigEndian(ip[8..]);
            ip[8]--;
            ipSum += (ushort)~old + (uint)BinaryPrimitives.ReadUInt16BigEndian(ip[8..]);
        }

        if (action.Nat is NatMode.Destination or NatMode.Source)
        {
            bool destination = action.Nat == NatMode.Destination;
            Span<byte> address = ip[(destination ? 16 : 12)..];
            for (int w = 0; w < 2; w++)
            {
                Span<byte> word = address[(2 * w)..];
                ushort old = BinaryPrimitives.ReadUInt16BigEndian(word);
                ushort now = (ushort)(action.NatIp >> (16 * (1 - w)));
                BinaryPrimitives.WriteUInt16BigEndian(word, now);
                uint delta = (ushort)~old + (uint)now;
                ipSum += delta;
                l4Sum += delta; // the pseudo header carries the addresses
            }
            if (tcpUdp && action.NatPort != 0)
            {
                Span<byte> port = frame[(packet.L4 + (destination ? 2 : 0))..];
                ushort old = BinaryPrimitives.ReadUInt16BigEndian(port);
                BinaryPrimitives.WriteUInt16BigEndian(port, action.NatPort);
                l4Sum += (ushort)~old + (uint)action.NatPort;
            }
        }

        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~Fold(ipSum));
        if (!tcpUdp)
            return;
        ushort oldChecksum = BinaryPrimitives.ReadUInt16BigEndian(frame[l4ChecksumAt..]);
        ushort checksum = (ushort)~Fold(l4Sum);
        if (protocol == 17)
        {
            // UDP: 0 means "no checksum" and stays so; a computed 0 goes out as 0xFFFF.
            if (oldChecksum == 0)
                checksum = 0;
            else if (checksum == 0)
                checksum = 0xFFFF;
        }
        BinaryPrimitives.WriteUInt16BigEndian(frame[l4ChecksumAt..], checksum);
    }

    private static ushort Fold(uint s)
    {
        while (s > 0xFFFF)
            s = (s & 0xFFFF) + (s >> 16);
        return (ushort)s;
    }
}
