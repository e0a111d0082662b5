using System.Buffers.Binary;

namespace Offload.Device.Tests;

/// <summary>Just enough frame building and checking for device tests (no FCS, like the data plane's ports).</summary>
internal static class Packets
{
    public const int EthHeader = 14;

    /// <summary>Ethernet + IPv4 (IHL 5, DF) + TCP (ACK) or UDP, with valid checksums, padded to 60 bytes.</summary>
    public static byte[] Ipv4(MacAddress dst, MacAddress src, FlowKey key, byte ttl = 64, int payload = 6, byte tcpFlags = 0x10)
    {
        bool tcp = key.Protocol == 6;
        int l4 = tcp ? 20 : 8;
        int ipLen = 20 + l4 + payload;
        var f = new byte[Math.Max(60, EthHeader + ipLen)];
        dst.WriteTo(f);
        src.WriteTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        var ip = f.AsSpan(EthHeader, ipLen);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)ipLen);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 0x1234);
        ip[6] = 0x40;
        ip[8] = ttl;
        ip[9] = key.Protocol;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], key.SrcIp);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], key.DstIp);
        var l = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(l, key.SrcPort);
        BinaryPrimitives.WriteUInt16BigEndian(l[2..], key.DstPort);
        if (tcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(l[4..], 1000);
            l[12] = 0x50;
            l[13] = tcpFlags;
            BinaryPrimitives.WriteUInt16BigEndian(l[14..], 8192);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(l[4..], (ushort)(8 + payload));
        }
        for (int i = 0; i < payload; i++)
            l[l4 + i] = (byte)(0xA0 + i);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~Sum(ip[..20], 0));
        int ck = tcp ? 16 : 6;
        ushort c = (ushort)~Sum(l[..(l4 + payload)], PseudoSum(ip));
        if (!tcp && c == 0)
            c = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(l[ck..], c);
        return f;
    }

    public static bool Ipv4HeaderChecksumOk(ReadOnlySpan<byte> frame) => Sum(frame.Slice(EthHeader, 20), 0) == 0xFFFF;

    public static bool L4ChecksumOk(ReadOnlySpan<byte> frame)
    {
        var ip = frame[EthHeader..];
        int ipLen = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        var l = ip[20..ipLen];
        if (ip[9] == 17 && BinaryPrimitives.ReadUInt16BigEndian(l[6..]) == 0)
            return true;
        return Sum(l, PseudoSum(ip)) == 0xFFFF;
    }

    private static uint PseudoSum(ReadOnlySpan<byte> ip)
    {
        int ipLen = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        uint s = 0;
        for (int i = 12; i < 20; i += 2)
            s += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        return s + ip[9] + (uint)(ipLen - 20);
    }

    private static uint Sum(ReadOnlySpan<byte> data, uint seed)
    {
        uint s = seed;
        for (int i = 0; i + 1 < data.Length; i += 2)
            s += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (data.Length % 2 != 0)
            s += (uint)data[^1] << 8;
        while (s >> 16 != 0)
            s = (s & 0xFFFF) + (s >> 16);
        return s;
    }
}
