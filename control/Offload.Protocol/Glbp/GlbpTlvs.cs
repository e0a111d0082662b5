using System.Buffers.Binary;

namespace Offload.Protocol.Glbp;

/// <summary>
/// The 12-byte header: version (1), unknown1, group (big-endian, 0–1023), unknown2 (2 bytes), owner MAC.
/// The unknown bytes are kept so a decoded packet re-encodes to the same bytes.
/// </summary>
public readonly record struct GlbpHeader(ushort Group, ulong OwnerMac)
{
    public byte Unknown1 { get; init; }
    public ushort Unknown2 { get; init; }

    internal void WriteTo(Span<byte> b)
    {
        b[0] = GlbpProtocol.Version;
        b[1] = Unknown1;
        BinaryPrimitives.WriteUInt16BigEndian(b[2..], Group);
        BinaryPrimitives.WriteUInt16BigEndian(b[4..], Unknown2);
        EthernetHeader.WriteMac(b[6..], OwnerMac);
    }

    internal static GlbpHeader Read(ReadOnlySpan<byte> b) =>
        new(BinaryPrimitives.ReadUInt16BigEndian(b[2..]), EthernetHeader.ReadMac(b[6..]))
        {
            Unknown1 = b[1],
            Unknown2 = BinaryPrimitives.ReadUInt16BigEndian(b[4..]),
        };
}

/// <summary>
/// Hello TLV (type 1). Offsets from the TLV start: 0 type, 1 length, 2 unknown10, 3 VG state, 4 unknown11,
/// 5 priority, 6–7 unknown12, 8–11 hello (ms), 12–15 hold (ms), 16–17 redirect (s), 18–19 timeout (s),
/// 20–21 unknown13, 22 address type, 23 address length, 24… address (28 bytes in all for IPv4).
/// </summary>
public readonly record struct GlbpHello(GlbpVgState State, byte Priority, uint HelloMs, uint HoldMs,
    ushort RedirectSeconds, ushort TimeoutSeconds, uint VirtualIpv4)
{
    public const int FixedLength = 24;
    public const int Ipv4Length = FixedLength + 4;

    /// <summary>IPv6 hellos decode (their address stays in the TLV bytes); we only build IPv4 ones.</summary>
    public GlbpAddressType AddressType { get; init; } = GlbpAddressType.Ipv4;

    public byte Unknown10 { get; init; }
    public byte Unknown11 { get; init; }
    public ushort Unknown12 { get; init; }
    public ushort Unknown13 { get; init; }

    internal int WriteTo(Span<byte> t)
    {
        if (AddressType != GlbpAddressType.Ipv4)
            throw new NotSupportedException("only IPv4 hellos are built");
        t[0] = GlbpTlvType.Hello;
        t[1] = Ipv4Length;
        t[2] = Unknown10;
        t[3] = (byte)State;
        t[4] = Unknown11;
        t[5] = Priority;
        BinaryPrimitives.WriteUInt16BigEndian(t[6..], Unknown12);
        BinaryPrimitives.WriteUInt32BigEndian(t[8..], HelloMs);
        BinaryPrimitives.WriteUInt32BigEndian(t[12..], HoldMs);
        BinaryPrimitives.WriteUInt16BigEndian(t[16..], RedirectSeconds);
        BinaryPrimitives.WriteUInt16BigEndian(t[18..], TimeoutSeconds);
        BinaryPrimitives.WriteUInt16BigEndian(t[20..], Unknown13);
        t[22] = (byte)GlbpAddressType.Ipv4;
        t[23] = 4;
        BinaryPrimitives.WriteUInt32BigEndian(t[24..], VirtualIpv4);
        return Ipv4Length;
    }

    /// <summary>Reads a TLV the decoder has already checked (length, address type and length).</summary>
    internal static GlbpHello Read(ReadOnlySpan<byte> t)
    {
        var type = (GlbpAddressType)t[22];
        return new((GlbpVgState)t[3], t[5], BinaryPrimitives.ReadUInt32BigEndian(t[8..]), BinaryPrimitives.ReadUInt32BigEndian(t[12..]),
            BinaryPrimitives.ReadUInt16BigEndian(t[16..]), BinaryPrimitives.ReadUInt16BigEndian(t[18..]),
            type == GlbpAddressType.Ipv4 ? BinaryPrimitives.ReadUInt32BigEndian(t[24..]) : 0)
        {
            AddressType = type,
            Unknown10 = t[2],
            Unknown11 = t[4],
            Unknown12 = BinaryPrimitives.ReadUInt16BigEndian(t[6..]),
            Unknown13 = BinaryPrimitives.ReadUInt16BigEndian(t[20..]),
        };
    }
}

/// <summary>
/// Request/Response TLV (type 2), one per virtual forwarder. Offsets from the TLV start: 0 type, 1 length (20),
/// 2 forwarder number, 3 VF state, 4 unknown21, 5 priority, 6 weight, 7–13 unknown22 (7 bytes), 14–19 vMAC.
/// </summary>
public readonly record struct GlbpForwarder(byte Forwarder, GlbpVfState State, byte Priority, byte Weight, ulong VirtualMac)
{
    public const int Length = 20;

    public byte Unknown21 { get; init; }

    /// <summary>The 7 unknown bytes as a 56-bit big-endian number.</summary>
    public ulong Unknown22 { get; init; }

    internal int WriteTo(Span<byte> t)
    {
        t[0] = GlbpTlvType.RequestResponse;
        t[1] = Length;
        t[2] = Forwarder;
        t[3] = (byte)State;
        t[4] = Unknown21;
        t[5] = Priority;
        t[6] = Weight;
        for (int i = 0; i < 7; i++)
            t[7 + i] = (byte)(Unknown22 >> (8 * (6 - i)));
        EthernetHeader.WriteMac(t[14..], VirtualMac);
        return Length;
    }

    internal static GlbpForwarder Read(ReadOnlySpan<byte> t)
    {
        ulong unknown = 0;
        foreach (byte b in t[7..14])
            unknown = (unknown << 8) | b;
        return new(t[2], (GlbpVfState)t[3], t[5], t[6], EthernetHeader.ReadMac(t[14..]))
        {
            Unknown21 = t[4],
            Unknown22 = unknown,
        };
    }
}
