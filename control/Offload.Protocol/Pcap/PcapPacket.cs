namespace Offload.Protocol.Pcap;

public static class LinkType
{
    public const int Ethernet = 1;
}

public enum CaptureFormat
{
    Pcap,
    PcapNg,
}

/// <summary>
/// One captured packet. <see cref="Data"/> points into the reader's buffer and is valid until the next read;
/// copy it (<see cref="ToArray"/>) to keep it.
/// </summary>
public readonly struct PcapPacket
{
    public PcapPacket(long timestampNanoseconds, int interfaceId, int linkType, int originalLength, ReadOnlyMemory<byte> data)
    {
        TimestampNanoseconds = timestampNanoseconds;
        InterfaceId = interfaceId;
        LinkType = linkType;
        OriginalLength = originalLength;
        Data = data;
    }

    /// <summary>Nanoseconds since the Unix epoch, whatever resolution the file used.</summary>
    public long TimestampNanoseconds { get; }

    /// <summary>pcapng interface index; always 0 in a classic pcap.</summary>
    public int InterfaceId { get; }

    public int LinkType { get; }

    /// <summary>Length on the wire; larger than <c>Data.Length</c> when the capture cut the packet.</summary>
    public int OriginalLength { get; }

    public ReadOnlyMemory<byte> Data { get; }

    public DateTimeOffset Timestamp => DateTimeOffset.UnixEpoch.AddTicks(TimestampNanoseconds / 100);

    public PcapPacket ToOwned() => new(TimestampNanoseconds, InterfaceId, LinkType, OriginalLength, Data.ToArray());

    public byte[] ToArray() => Data.ToArray();
}
