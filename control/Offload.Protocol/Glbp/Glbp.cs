namespace Offload.Protocol.Glbp;

/// <summary>
/// Constants of Cisco's GLBP (version 1) as seen on the wire. There is no public specification: the layout
/// follows Wireshark's dissector (epan/dissectors/packet-glbp.c), whose field names ("unknown1" etc.) we keep
/// for the bytes nobody has decoded, so a tshark dump and our structs can be compared field by field.
/// </summary>
public static class GlbpProtocol
{
    public const byte Version = 1;
    public const ushort Port = 3222;

    /// <summary>224.0.0.102, first wire byte most significant.</summary>
    public const uint MulticastIpv4 = 0xE000_0066;

    /// <summary>01:00:5e:00:00:66, the IPv4 multicast MAC of 224.0.0.102.</summary>
    public const ulong MulticastMac = 0x0100_5E00_0066;

    /// <summary>ff02::66, GLBP over IPv6, as a 128-bit big-endian number.</summary>
    public static readonly UInt128 MulticastIpv6 = new(0xFF02_0000_0000_0000, 0x0000_0000_0000_0066);

    /// <summary>33:33:00:00:00:66, the IPv6 multicast MAC of ff02::66.</summary>
    public const ulong MulticastMacIpv6 = 0x3333_0000_0066;

    /// <summary>Cisco sends GLBP with TTL (hop limit) 255 so a receiver can tell it was not routed.</summary>
    public const byte Ttl = 255;

    /// <summary>IPv4 ToS byte of Cisco's GLBP: DSCP CS6 (network control), 0xC0.</summary>
    public const byte TosCs6 = 0xC0;

    public const int HeaderLength = 12;
    public const int TlvHeaderLength = 2;
    public const ushort MaxGroup = 1023;

    /// <summary>Largest GLBP message we build or accept (one Ethernet MTU less IPv4 and UDP headers).</summary>
    public const int MaxLength = 1500 - 20 - 8;
}

public static class GlbpTlvType
{
    public const byte Hello = 1;
    public const byte RequestResponse = 2;
    public const byte Auth = 3;

    /// <summary>
    /// Offload's own HMAC-SHA256 authentication TLV, not Cisco's. Cisco uses types 1–4 (4 appears next to MD5
    /// authentication, meaning unknown); 0xF1 is far from them. Cisco routers and Wireshark skip it as an unknown
    /// TLV, so it is only useful in groups made of Offload gateways, and it is off unless configured.
    /// </summary>
    public const byte OffloadHmac = 0xF1;

    /// <summary>
    /// Offload's own forwarder-load TLV (see <see cref="GlbpOffloadLoad"/>), not Cisco's. Wireshark's dissector
    /// (packet-glbp.c) knows only types 1–3 and shows every other type as "Unknown TLV data", skipped by its
    /// length, as Cisco routers skip TLVs they do not know; 0xF2 sits next to our HMAC TLV, far from Cisco's.
    /// </summary>
    public const byte OffloadLoad = 0xF2;

    /// <summary>Offload's forwarder-owner TLV (see <see cref="GlbpOffloadOwner"/>), not Cisco's.</summary>
    public const byte OffloadOwner = 0xF3;

    /// <summary>
    /// Sent by Cisco routers next to MD5 authentication, 8 + 10·n bytes padded to a multiple of 4 (the peers heard
    /// and a value echoed from each: apparently anti-replay). Decoded as unknown and skipped; never sent by Offload.
    /// </summary>
    public const byte CiscoPeers = 4;
}

/// <summary>Virtual gateway state as carried in the Hello TLV (values from Wireshark's table).</summary>
public enum GlbpVgState : byte
{
    Listen = 0x04,
    Speak = 0x08,
    Standby = 0x10,
    Active = 0x20,
}

/// <summary>Virtual forwarder state as carried in the Request/Response TLV.</summary>
public enum GlbpVfState : byte
{
    Listen = 0x04,
    Active = 0x20,
}

/// <summary>Address type of the Hello TLV's virtual address.</summary>
public enum GlbpAddressType : byte
{
    Ipv4 = 1,
    Ipv6 = 2,
}

/// <summary>Authentication type byte of the Auth TLV.</summary>
public enum GlbpAuthType : byte
{
    None = 0,
    PlainText = 1,
    Md5KeyString = 2,
    Md5KeyChain = 3,
}
