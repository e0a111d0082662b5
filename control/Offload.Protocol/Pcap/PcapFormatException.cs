namespace Offload.Protocol.Pcap;

/// <summary>A capture file that cannot be read as it claims to be; <see cref="Offset"/> is where the problem is.</summary>
public sealed class PcapFormatException : Exception
{
    public PcapFormatException()
    {
    }

    public PcapFormatException(string message)
        : base(message)
    {
    }

    public PcapFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public PcapFormatException(string problem, long offset)
        : base($"{problem} (at byte offset {offset})")
    {
        Offset = offset;
    }

    /// <summary>Byte offset in the file of the header or block that is wrong; -1 when not known.</summary>
    public long Offset { get; } = -1;
}
