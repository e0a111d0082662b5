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
/// 2 forwarder number, 3 VF state, 4 unknown21 (0 in every capture), 5 priority (167 primary, 135 secondary: see
/// <see cref="GlbpOwnership"/>), 6 weight, 7–9 unknown22 (3 bytes), 10–11 time-out remaining (s), 12–13 redirect
/// remaining (s), 14–19 vMAC. Wireshark leaves bytes 7–13 undecoded; the two timers are read from captures of Cisco
/// routers (a primary sends the full values, a secondary counts them down), see docs/control-plane.md.
/// </summary>
public readonly record struct GlbpForwarder(byte Forwarder, GlbpVfState State, byte Priority, byte Weight, ulong VirtualMac)
{
    public const int Length = 20;

    public byte Unknown21 { get; init; }

    /// <summary>The 3 bytes at offsets 7–9 nobody has decoded, as a 24-bit big-endian number.</summary>
    public uint Unknown22 { get; init; }

    /// <summary>Seconds until the forwarder is removed if its primary stays away (the full time-out while it is alive).</summary>
    public ushort TimeoutRemaining { get; init; }

    /// <summary>Seconds until the AVG stops handing out its vMAC if its primary stays away (the full redirect while alive).</summary>
    public ushort RedirectRemaining { get; init; }

    /// <summary>What the priority byte says about the sender's relation to this forwarder.</summary>
    public GlbpForwarderRole Role => GlbpOwnership.Role(Priority);

    internal int WriteTo(Span<byte> t)
    {
        if (Unknown22 > 0xFF_FFFF)
            throw new ArgumentOutOfRangeException(nameof(Unknown22), "unknown22 is 3 bytes");
        t[0] = GlbpTlvType.RequestResponse;
        t[1] = Length;
        t[2] = Forwarder;
        t[3] = (byte)State;
        t[4] = Unknown21;
        t[5] = Priority;
        t[6] = Weight;
        t[7] = (byte)(Unknown22 >> 16);
        t[8] = (byte)(Unknown22 >> 8);
        t[9] = (byte)Unknown22;
        BinaryPrimitives.WriteUInt16BigEndian(t[10..], TimeoutRemaining);
        BinaryPrimitives.WriteUInt16BigEndian(t[12..], RedirectRemaining);
        EthernetHeader.WriteMac(t[14..], VirtualMac);
        return Length;
    }

    internal static GlbpForwarder Read(ReadOnlySpan<byte> t) =>
        new(t[2], (GlbpVfState)t[3], t[5], t[6], EthernetHeader.ReadMac(t[14..]))
        {
            Unknown21 = t[4],
            Unknown22 = ((uint)t[7] << 16) | ((uint)t[8] << 8) | t[9],
            TimeoutRemaining = BinaryPrimitives.ReadUInt16BigEndian(t[10..]),
            RedirectRemaining = BinaryPrimitives.ReadUInt16BigEndian(t[12..]),
        };
}

/// <summary>A sender's relation to a forwarder, as its Request/Response TLV's priority byte says.</summary>
public enum GlbpForwarderRole
{
    /// <summary>Priority 167: the sender is the forwarder's primary, the member it belongs to.</summary>
    Primary,

    /// <summary>Priority 135: the sender is a secondary, standing in (when Active) for a primary that failed.</summary>
    Secondary,

    /// <summary>Priority 0: the sender will not forward it (Offload sends this while resigning or below its lower threshold).</summary>
    Unwilling,

    /// <summary>Any other value: nobody has seen it from a Cisco router; read as neither primary nor secondary.</summary>
    Unknown,
}

/// <summary>
/// GLBP's ownership semantics, in one place, so the group engine and the passive observer cannot read a message
/// differently: the header's MAC names the sender (its own MAC, not the Ethernet source, which Cisco sets to one of
/// its vMACs); a forwarder's primary is whoever advertises it with priority 167; a secondary (135) that advertises
/// it Active stands in for a failed primary and counts the redirect and time-out down.
/// </summary>
public static class GlbpOwnership
{
    public const byte PrimaryPriority = 167;
    public const byte SecondaryPriority = 135;
    public const byte UnwillingPriority = 0;

    public static GlbpForwarderRole Role(byte priority) => priority switch
    {
        PrimaryPriority => GlbpForwarderRole.Primary,
        SecondaryPriority => GlbpForwarderRole.Secondary,
        UnwillingPriority => GlbpForwarderRole.Unwilling,
        _ => GlbpForwarderRole.Unknown,
    };

    /// <summary>A stand-in: a secondary forwarding a vMAC whose primary is gone.</summary>
    public static bool IsStandIn(in GlbpForwarder tlv) => tlv.State == GlbpVfState.Active && tlv.Role == GlbpForwarderRole.Secondary;

    /// <summary>
    /// The time-out and redirect a member advertises for a forwarder: the full values while its primary is alive
    /// (or is the sender), else what is left of them <paramref name="elapsed"/> after the primary was lost,
    /// rounded up so a value reaches 0 only when the time is over, as a Cisco secondary counts.
    /// </summary>
    public static (ushort Timeout, ushort Redirect) Remaining(ushort timeoutSeconds, ushort redirectSeconds, TimeSpan? elapsed)
    {
        if (elapsed is not TimeSpan e)
            return (timeoutSeconds, redirectSeconds);
        return (Left(timeoutSeconds, e), Left(redirectSeconds, e));

        static ushort Left(ushort full, TimeSpan e)
        {
            double left = Math.Ceiling(full - e.TotalSeconds);
            return left <= 0 ? (ushort)0 : (ushort)Math.Min(full, left);
        }
    }
}

/// <summary>
/// Offload's forwarder-owner TLV (type <see cref="GlbpTlvType.OffloadOwner"/>, 0xF3; ours, not Cisco's): the Active
/// AVG's record of which member a forwarder number belongs to, so a member that restarts (and forgot) reclaims its
/// own number instead of taking a new one. Cisco's equivalent is not public; Cisco routers skip it as unknown.
/// Offsets from the TLV start: 0 type, 1 length (10), 2 forwarder number (1–255), 3 reserved (0), 4–9 owner MAC.
/// </summary>
public readonly record struct GlbpOffloadOwner(byte Forwarder, ulong OwnerMac)
{
    public const int Length = 10;

    internal void WriteTo(Span<byte> t)
    {
        if (Forwarder == 0)
            throw new ArgumentOutOfRangeException(nameof(Forwarder), "forwarder numbers are 1-255");
        t[0] = GlbpTlvType.OffloadOwner;
        t[1] = Length;
        t[2] = Forwarder;
        t[3] = 0;
        EthernetHeader.WriteMac(t[4..], OwnerMac);
    }

    internal static GlbpOffloadOwner Read(ReadOnlySpan<byte> t) => new(t[2], EthernetHeader.ReadMac(t[4..]));
}
