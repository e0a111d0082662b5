using System.Buffers.Binary;

namespace Offload.Protocol.Glbp;

/// <summary>
/// Offload's forwarder-load TLV (type <see cref="GlbpTlvType.OffloadLoad"/>, 0xF2; ours, not Cisco's): how busy a
/// member is on one virtual forwarder it forwards, so the Active AVG can build load-based ARP slot tables.
/// Offsets from the TLV start: 0 type, 1 length (12), 2 forwarder number (1–255), 3 reserved (0, ignored on
/// receipt), 4–7 packets per second (big-endian, saturating at 2^32-1), 8–11 installed flows (big-endian).
/// It is not authenticated on its own: the message's MD5 or HMAC covers it like every other TLV.
/// </summary>
public readonly record struct GlbpOffloadLoad(byte Forwarder, uint PacketsPerSecond, uint Flows)
{
    public const int Length = 12;

    public byte Reserved { get; init; }

    /// <summary>Rounds and clamps a measured rate into the TLV's 32-bit field.</summary>
    public static uint ToWire(double value) =>
        double.IsNaN(value) || value <= 0 ? 0 : value >= uint.MaxValue ? uint.MaxValue : (uint)Math.Round(value);

    internal void WriteTo(Span<byte> t)
    {
        if (Forwarder == 0)
            throw new ArgumentOutOfRangeException(nameof(Forwarder), "forwarder numbers are 1-255");
        t[0] = GlbpTlvType.OffloadLoad;
        t[1] = Length;
        t[2] = Forwarder;
        t[3] = Reserved;
        BinaryPrimitives.WriteUInt32BigEndian(t[4..], PacketsPerSecond);
        BinaryPrimitives.WriteUInt32BigEndian(t[8..], Flows);
    }

    /// <summary>Reads a TLV the decoder has already checked.</summary>
    internal static GlbpOffloadLoad Read(ReadOnlySpan<byte> t) =>
        new(t[2], BinaryPrimitives.ReadUInt32BigEndian(t[4..]), BinaryPrimitives.ReadUInt32BigEndian(t[8..])) { Reserved = t[3] };
}
