using System.Buffers.Binary;

namespace Offload.Protocol;

public static class EtherType
{
    public const ushort Ipv4 = 0x0800;
    public const ushort Arp = 0x0806;
    public const ushort Vlan = 0x8100;
    public const ushort Ipv6 = 0x86DD;
}

public static class IpProtocol
{
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;
}

public static class TcpFlags
{
    public const byte Fin = 0x01;
    public const byte Syn = 0x02;
    public const byte Rst = 0x04;
    public const byte Psh = 0x08;
    public const byte Ack = 0x10;
}

/// <summary>
/// Destination and source MAC (48-bit values, first wire byte most significant, as <c>MacAddress.Value</c>)
/// and an optional 802.1Q tag control word.
/// </summary>
public readonly record struct EthernetHeader(ulong Destination, ulong Source, ushort? VlanTci = null)
{
    public const int UntaggedLength = 14;
    public const int TaggedLength = 18;

    public int Length => VlanTci is null ? UntaggedLength : TaggedLength;

    /// <summary>Writes the header ending in <paramref name="etherType"/>; returns its length.</summary>
    public int WriteTo(Span<byte> frame, ushort etherType)
    {
        if (frame.Length < Length)
            throw new ArgumentException($"an Ethernet header needs {Length} bytes, the span has {frame.Length}", nameof(frame));
        WriteMac(frame, Destination);
        WriteMac(frame[6..], Source);
        int at = 12;
        if (VlanTci is ushort tci)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherType.Vlan);
            BinaryPrimitives.WriteUInt16BigEndian(frame[14..], tci);
            at = 16;
        }
        BinaryPrimitives.WriteUInt16BigEndian(frame[at..], etherType);
        return at + 2;
    }

    public static void WriteMac(Span<byte> six, ulong mac)
    {
        BinaryPrimitives.WriteUInt16BigEndian(six, (ushort)(mac >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(six[2..], (uint)mac);
    }

    public static ulong ReadMac(ReadOnlySpan<byte> six) =>
        ((ulong)BinaryPrimitives.ReadUInt16BigEndian(six) << 32) | BinaryPrimitives.ReadUInt32BigEndian(six[2..]);
}

/// <summary>An ARP packet for Ethernet/IPv4 (htype 1, ptype 0x0800, hlen 6, plen 4).</summary>
public readonly record struct ArpPacket(ushort Operation, ulong SenderMac, uint SenderIp, ulong TargetMac, uint TargetIp)
{
    public const int Length = 28;
    public const ushort OperationRequest = 1;
    public const ushort OperationReply = 2;

    public static ArpPacket Request(ulong senderMac, uint senderIp, uint targetIp) => new(OperationRequest, senderMac, senderIp, 0, targetIp);

    public static ArpPacket Reply(ulong senderMac, uint senderIp, ulong targetMac, uint targetIp) => new(OperationReply, senderMac, senderIp, targetMac, targetIp);

    /// <summary>
    /// Reads an Ethernet/IPv4 ARP packet; false for anything shorter than 28 bytes or of another hardware or protocol
    /// type (those are not ours to learn from).
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> arp, out ArpPacket packet)
    {
        packet = default;
        if (arp.Length < Length || BinaryPrimitives.ReadUInt16BigEndian(arp) != 1 || BinaryPrimitives.ReadUInt16BigEndian(arp[2..]) != EtherType.Ipv4
            || arp[4] != 6 || arp[5] != 4)
            return false;
        packet = new ArpPacket(BinaryPrimitives.ReadUInt16BigEndian(arp[6..]), EthernetHeader.ReadMac(arp[8..]), BinaryPrimitives.ReadUInt32BigEndian(arp[14..]),
            EthernetHeader.ReadMac(arp[18..]), BinaryPrimitives.ReadUInt32BigEndian(arp[24..]));
        return true;
    }

    /// <summary>The ARP packet of an Ethernet frame (one 802.1Q tag allowed); false when the frame carries none.</summary>
    public static bool TryReadFrame(ReadOnlySpan<byte> frame, out ArpPacket packet)
    {
        packet = default;
        if (frame.Length < 14)
            return false;
        int l3 = 14;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (type == 0x8100)
        {
            if (frame.Length < 18)
                return false;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
            l3 = 18;
        }
        return type == EtherType.Arp && TryRead(frame[l3..], out packet);
    }

    public int WriteTo(Span<byte> arp)
    {
        if (arp.Length < Length)
            throw new ArgumentException($"an ARP packet needs {Length} bytes, the span has {arp.Length}", nameof(arp));
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], EtherType.Ipv4);
        arp[4] = 6;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], Operation);
        EthernetHeader.WriteMac(arp[8..], SenderMac);
        BinaryPrimitives.WriteUInt32BigEndian(arp[14..], SenderIp);
        EthernetHeader.WriteMac(arp[18..], TargetMac);
        BinaryPrimitives.WriteUInt32BigEndian(arp[24..], TargetIp);
        return Length;
    }
}

/// <summary>
/// IPv4 header fields a test or the CLI chooses; the builder fills version, IHL, total length and checksum.
/// <see cref="FlagsFragment"/> is the raw 16-bit word (flags in bits 15..13, offset in 8-byte units below).
/// </summary>
public readonly record struct Ipv4Header(uint Source, uint Destination, byte Protocol)
{
    public const int MinLength = 20;
    public const ushort DontFragment = 0x4000;
    public const ushort MoreFragments = 0x2000;

    public byte Ttl { get; init; } = 64;
    public byte Tos { get; init; }
    public ushort Identification { get; init; }
    public ushort FlagsFragment { get; init; }

    /// <summary>Option bytes (a multiple of 4, at most 40); IHL follows from their length.</summary>
    public ReadOnlyMemory<byte> Options { get; init; }

    public int Length => MinLength + Options.Length;

    /// <summary>Writes the header for a payload of <paramref name="payloadLength"/> bytes, checksum included.</summary>
    public int WriteTo(Span<byte> ip, int payloadLength)
    {
        if (Options.Length % 4 != 0 || Options.Length > 40)
            throw new ArgumentException($"IPv4 options must be a multiple of 4 bytes up to 40, not {Options.Length}");
        int total = Length + payloadLength;
        if (total > 0xFFFF)
            throw new ArgumentException($"IPv4 total length {total} exceeds 65535", nameof(payloadLength));
        if (ip.Length < Length)
            throw new ArgumentException($"the IPv4 header needs {Length} bytes, the span has {ip.Length}", nameof(ip));
        ip[0] = (byte)(0x40 | (Length / 4));
        ip[1] = Tos;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)total);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], Identification);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], FlagsFragment);
        ip[8] = Ttl;
        ip[9] = Protocol;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], Source);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], Destination);
        Options.Span.CopyTo(ip[20..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip[..Length]));
        return Length;
    }
}

/// <summary>TCP header fields (no options: data offset 5).</summary>
public readonly record struct TcpHeader(ushort SourcePort, ushort DestinationPort)
{
    public const int Length = 20;

    public uint Sequence { get; init; }
    public uint Acknowledgment { get; init; }
    public byte Flags { get; init; } = TcpFlags.Ack;
    public ushort Window { get; init; } = 65535;
    public ushort Urgent { get; init; }
}

/// <summary>IPv4 addresses as 32-bit values, first wire byte most significant (as in <c>FlowKey</c>).</summary>
public static class Ipv4Address
{
    public static uint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split('.');
        uint value = 0;
        if (parts.Length != 4)
            throw new FormatException($"'{text}' is not a dotted-quad IPv4 address");
        foreach (string part in parts)
        {
            if (!byte.TryParse(part, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out byte b))
                throw new FormatException($"'{text}' is not a dotted-quad IPv4 address");
            value = (value << 8) | b;
        }
        return value;
    }

    public static bool TryParse(string? text, out uint address)
    {
        address = 0;
        if (text is null)
            return false;
        int parts = 0;
        foreach (var range in text.AsSpan().Split('.'))
        {
            if (++parts > 4 || !byte.TryParse(text.AsSpan(range), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out byte b))
                return false;
            address = (address << 8) | b;
        }
        return parts == 4;
    }

    public static string Format(uint address) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{address >> 24}.{(address >> 16) & 0xFF}.{(address >> 8) & 0xFF}.{address & 0xFF}");
}
