namespace Offload.Protocol.Glbp;

/// <summary>
/// GLBP virtual MACs: 00:07:b4, then 6 zero bits, the 10-bit group and the 8-bit forwarder number
/// (group 1020, forwarder 1 is 0007.b403.fc01).
/// </summary>
public static class GlbpVirtualMac
{
    public const ulong Prefix = 0x0007_B400_0000;
    public const byte MaxForwarder = 255;

    public static ulong Create(ushort group, byte forwarder)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(group, GlbpProtocol.MaxGroup);
        return Prefix | ((ulong)group << 8) | forwarder;
    }

    /// <summary>Splits a vMAC; false when the OUI or the six reserved bits do not match.</summary>
    public static bool TryParse(ulong mac, out ushort group, out byte forwarder)
    {
        if ((mac & 0xFFFF_FFFC_0000) != Prefix)
        {
            group = 0;
            forwarder = 0;
            return false;
        }
        group = (ushort)((mac >> 8) & 0x3FF);
        forwarder = (byte)mac;
        return true;
    }

    /// <summary>
    /// The virtual link-local address of an IPv6 group as Cisco routers use it: fe80:: with the EUI-64 of the group's
    /// forwarder-0 vMAC, ff:fe inserted and, as the captures show, the universal/local bit left as it is
    /// (fe80::7:b4ff:fe00:100 for group 1).
    /// </summary>
    public static UInt128 LinkLocalIpv6(ushort group)
    {
        ulong mac = Create(group, 0);
        ulong eui = ((mac >> 24) << 40) | (0xFFFEul << 24) | (mac & 0xFF_FFFF);
        return ((UInt128)0xFE80_0000_0000_0000ul << 64) | eui;
    }

    public static string LinkLocalIpv6Text(ushort group)
    {
        Span<byte> b = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(b, LinkLocalIpv6(group));
        return new System.Net.IPAddress(b).ToString();
    }
}
