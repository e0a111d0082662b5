using System.Buffers.Binary;

namespace Offload.Protocol.Pcap;

/// <summary>
/// Writes a classic little-endian pcap. Packets longer than the snap length are stored cut to it with their
/// real length in the record's original-length field, as capture tools do.
/// </summary>
public sealed class PcapWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly bool _nanosecond;
    private readonly int _snapLength;

    public PcapWriter(Stream stream, bool nanosecond = false, int snapLength = 262_144, int linkType = LinkType.Ethernet, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(snapLength);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _nanosecond = nanosecond;
        _snapLength = snapLength;
        Span<byte> h = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(h, nanosecond ? 0xA1B23C4Du : 0xA1B2C3D4u);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 4);
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(h[16..], snapLength);
        BinaryPrimitives.WriteInt32LittleEndian(h[20..], linkType);
        _stream.Write(h);
    }

    public static PcapWriter Create(string path, bool nanosecond = false) =>
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16), nanosecond);

    /// <summary>Appends a packet; <paramref name="timestampNanoseconds"/> counts from the Unix epoch.</summary>
    public void Write(ReadOnlySpan<byte> packet, long timestampNanoseconds, int originalLength = -1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(timestampNanoseconds);
        if (originalLength < 0)
            originalLength = packet.Length;
        ArgumentOutOfRangeException.ThrowIfLessThan(originalLength, packet.Length);
        long seconds = timestampNanoseconds / 1_000_000_000;
        if (seconds > uint.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(timestampNanoseconds), "pcap timestamps end in 2106");
        long fraction = timestampNanoseconds % 1_000_000_000;
        int captured = Math.Min(packet.Length, _snapLength);
        Span<byte> h = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(h, (uint)seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], (uint)(_nanosecond ? fraction : fraction / 1000));
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], captured);
        BinaryPrimitives.WriteInt32LittleEndian(h[12..], originalLength);
        _stream.Write(h);
        _stream.Write(packet[..captured]);
    }

    public void Flush() => _stream.Flush();

    public void Dispose()
    {
        _stream.Flush();
        if (!_leaveOpen)
            _stream.Dispose();
    }
}
