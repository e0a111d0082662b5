using System.Buffers.Binary;

namespace Offload.Reference;

/// <summary>
/// The 16-byte header in front of every host RX frame (docs/dataplane.md, "The host port"), less the timestamp,
/// which depends on cycle timing and is not part of what the reference model predicts.
/// </summary>
public readonly record struct HostMetadata(byte Reason, byte IngressPort, ushort Length, uint Aux)
{
    public const int Size = 16;

    public static HostMetadata Parse(ReadOnlySpan<byte> header)
    {
        if (header.Length < Size)
            throw new ArgumentException($"host metadata needs {Size} bytes, got {header.Length}", nameof(header));
        return new(header[0], header[1], BinaryPrimitives.ReadUInt16BigEndian(header[2..]), BinaryPrimitives.ReadUInt32BigEndian(header[4..]));
    }

    /// <summary>Time stamp field (bytes 8..15) of a raw header, for diagnostics.</summary>
    public static ulong Timestamp(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadUInt64BigEndian(header[8..]);

    public void WriteTo(Span<byte> header, ulong timestamp = 0)
    {
        header[0] = Reason;
        header[1] = IngressPort;
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], Length);
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], Aux);
        BinaryPrimitives.WriteUInt64BigEndian(header[8..], timestamp);
    }

    public override string ToString() => $"reason {ReasonName(Reason)} in {IngressPort} len {Length} aux 0x{Aux:x8}";

    public static string ReasonName(int reason) => reason switch
    {
        1 => "MISS",
        2 => "TTL",
        3 => "ARP_COPY",
        4 => "ARP",
        5 => "BCAST",
        6 => "EXCEPTION",
        7 => "PROTO",
        8 => "OTHER",
        9 => "FIN_RST",
        _ => $"?{reason}",
    };
}

/// <summary>One thing the data plane emits: a frame out port 0 or 1, or an entry in the host RX queue.</summary>
public sealed record PipelineOutput(int Port, HostMetadata? Metadata, byte[] Frame)
{
    /// <summary>The <see cref="Port"/> value of host RX queue entries (index 2 of per-destination arrays).</summary>
    public const int Host = 2;

    public bool IsHost => Port == Host;

    public static PipelineOutput ToPort(int port, byte[] frame) => new(port, null, frame);

    public static PipelineOutput ToHost(HostMetadata metadata, byte[] frame) => new(Host, metadata, frame);

    public override string ToString() =>
        IsHost ? $"host [{Metadata}] {Convert.ToHexString(Frame)}" : $"port {Port} {Convert.ToHexString(Frame)}";
}

/// <summary>What one input did: its outputs (in no particular order across destinations) and which path it took.</summary>
public sealed record ProcessResult(IReadOnlyList<PipelineOutput> Outputs, string Path)
{
    /// <summary>The drop counter index (<c>RegConst.CntDrop*</c>) when the frame was dropped, else -1.</summary>
    public int DropCounter { get; init; } = -1;

    public bool Dropped => DropCounter >= 0;
}
