using System.Buffers.Binary;
using System.Globalization;

namespace Offload.Device;

/// <summary>A 48-bit MAC address held in the low bits of a ulong, byte 0 (first on the wire) most significant.</summary>
public readonly record struct MacAddress(ulong Value)
{
    public static readonly MacAddress Broadcast = new(0xFFFF_FFFF_FFFF);

    public static MacAddress FromBytes(ReadOnlySpan<byte> six)
    {
        if (six.Length < 6)
            throw new ArgumentException("a MAC address needs 6 bytes", nameof(six));
        return new(((ulong)BinaryPrimitives.ReadUInt16BigEndian(six) << 32) | BinaryPrimitives.ReadUInt32BigEndian(six[2..]));
    }

    public void WriteTo(Span<byte> six)
    {
        BinaryPrimitives.WriteUInt16BigEndian(six, (ushort)(Value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(six[2..], (uint)Value);
    }

    /// <summary>Bytes 2..5, as the CSR *_LO registers hold them.</summary>
    public uint Lo => (uint)Value;

    /// <summary>Bytes 0..1, as the CSR *_HI registers hold them in [15:0].</summary>
    public uint Hi => (uint)(Value >> 32) & 0xFFFF;

    public bool IsMulticast => ((Value >> 40) & 1) != 0;

    /// <summary>GLBP virtual MAC: 0007.b4 + 6 zero bits + 10-bit group + 8-bit forwarder.</summary>
    public static MacAddress Glbp(int group, int forwarder)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(group);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(group, 1023);
        ArgumentOutOfRangeException.ThrowIfNegative(forwarder);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(forwarder, 255);
        return new(Protocol.Glbp.GlbpVirtualMac.Create((ushort)group, (byte)forwarder));
    }

    public static MacAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string hex = text.Replace(":", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).Replace(".", "", StringComparison.Ordinal);
        if (hex.Length != 12 || !ulong.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong v))
            throw new FormatException($"'{text}' is not a MAC address");
        return new(v);
    }

    public override string ToString()
    {
        Span<byte> b = stackalloc byte[6];
        WriteTo(b);
        return string.Create(CultureInfo.InvariantCulture, $"{b[0]:x2}:{b[1]:x2}:{b[2]:x2}:{b[3]:x2}:{b[4]:x2}:{b[5]:x2}");
    }
}

/// <summary>The flow table's exact-match key (105 bits in hardware; see docs/dataplane.md).</summary>
public readonly record struct FlowKey(byte InPort, uint SrcIp, uint DstIp, byte Protocol, ushort SrcPort, ushort DstPort);

public enum NatMode : byte
{
    None = 0,
    Destination = 1,
    Source = 2,
}

/// <summary>What a hit does: next-hop index, TTL decrement, optional NAT (port 0 keeps the port).</summary>
public readonly record struct FlowAction(byte NextHop, bool TtlDecrement = false, NatMode Nat = NatMode.None, uint NatIp = 0, ushort NatPort = 0);

public readonly record struct NextHop(byte Port, MacAddress Destination, MacAddress Source);

public enum ArpMode : byte
{
    RoundRobin = 0,
    HostDependent = 1,
}

/// <summary>One ARP responder group: a virtual IP, its 10-bit GLBP group number and its slot table.</summary>
public sealed record GroupConfig(uint VirtualIp, ushort GroupId, ArpMode Mode, bool CopyRequests, bool Enabled, byte[] Slots);

/// <summary>Sizes fixed when the RTL is built; read back from the PARAM_* registers.</summary>
public sealed record DataplaneGeometry(
    int DataWidth = 64, int Buckets = 1024, int Ways = 4, int Stash = 4, int Groups = 16, int Slots = 256,
    int Vmacs = 64, int NextHops = 256, int MaxFrame = 9600, int HostRxDepth = 4096, int HostTxDepth = 2048)
{
    public int MainEntries => 2 * Buckets * Ways;

    public int TotalEntries => MainEntries + Stash;

    public int Index(int sub, int bucket, int way) => (sub * Buckets * Ways) + (bucket * Ways) + way;
}

/// <summary>CRC-32-shaped hashes of the flow key, bit for bit the ones in the RTL.</summary>
public static class FlowHash
{
    public const uint PolyA = 0x04C11DB7;
    public const uint PolyB = 0x1EDC6F41;

    public static uint CrcA(in FlowKey key) => Crc(key, PolyA);

    public static uint CrcB(in FlowKey key) => Crc(key, PolyB);

    /// <summary>Host-dependent ARP slot selection hashes the requester's 48-bit MAC with CRC-A.</summary>
    public static uint CrcA(MacAddress mac) => Bits(0xFFFF_FFFF, mac.Value, 48, PolyA);

    // Byte-at-a-time tables for the MSB-first CRC: the classifier hashes every new key four times (two
    // choices, forward and reverse), and the bit loop was a third of its cost.
    private static readonly uint[] TableA = MakeTable(PolyA);
    private static readonly uint[] TableB = MakeTable(PolyB);

    private static uint Crc(in FlowKey key, uint poly)
    {
        uint[] table = poly == PolyA ? TableA : TableB;
        // The 1-bit ingress port comes first; the remaining 104 bits are whole bytes, most significant first.
        uint crc = Bits(0xFFFF_FFFF, key.InPort, 1, poly);
        crc = Word(crc, key.SrcIp, table);
        crc = Word(crc, key.DstIp, table);
        crc = Byte(crc, key.Protocol, table);
        crc = Byte(crc, (byte)(key.SrcPort >> 8), table);
        crc = Byte(crc, (byte)key.SrcPort, table);
        crc = Byte(crc, (byte)(key.DstPort >> 8), table);
        return Byte(crc, (byte)key.DstPort, table);
    }

    private static uint Word(uint crc, uint value, uint[] table)
    {
        crc = Byte(crc, (byte)(value >> 24), table);
        crc = Byte(crc, (byte)(value >> 16), table);
        crc = Byte(crc, (byte)(value >> 8), table);
        return Byte(crc, (byte)value, table);
    }

    private static uint Byte(uint crc, byte value, uint[] table) => (crc << 8) ^ table[(crc >> 24) ^ value];

    private static uint[] MakeTable(uint poly)
    {
        var table = new uint[256];
        for (uint b = 0; b < 256; b++)
        {
            // Feeding byte b into a zero register: the register's top byte XOR the data byte is all that
            // selects the feedback, which is why the table is indexed by their XOR.
            table[b] = Bits(0, b, 8, poly);
        }
        return table;
    }

    private static uint Bits(uint crc, ulong value, int count, uint poly)
    {
        for (int i = count - 1; i >= 0; i--)
        {
            uint fb = (crc >> 31) ^ (uint)((value >> i) & 1);
            crc = (crc << 1) ^ (fb != 0 ? poly : 0);
        }
        return crc;
    }
}

/// <summary>Everything the data plane holds: what the control plane writes and the reference model reads.</summary>
public sealed class DataplaneConfig
{
    public DataplaneConfig(DataplaneGeometry geometry)
    {
        Geometry = geometry ?? throw new ArgumentNullException(nameof(geometry));
        Groups = new GroupConfig?[geometry.Groups];
        Vmacs = new MacAddress?[geometry.Vmacs];
        NextHops = new NextHop[geometry.NextHops];
    }

    public DataplaneGeometry Geometry { get; }

    public MacAddress[] PortMacs { get; } = new MacAddress[2];

    /// <summary>vMAC filter entries by index; null is an invalid (unused) entry.</summary>
    public MacAddress?[] Vmacs { get; }

    public GroupConfig?[] Groups { get; }

    public NextHop[] NextHops { get; }

    /// <summary>Flow entries by hardware index (placement is the control plane's job).</summary>
    public Dictionary<int, (FlowKey Key, FlowAction Action)> Flows { get; } = [];

    public ushort SyncPort { get; set; } = 3223;
}
