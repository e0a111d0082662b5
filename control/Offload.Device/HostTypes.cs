namespace Offload.Device;

/// <summary>Why the data plane sent a frame to the host (byte 0 of the host RX metadata).</summary>
public enum HostReason : byte
{
    Miss = RegConst.ReasonMiss,
    Ttl = RegConst.ReasonTtl,
    ArpCopy = RegConst.ReasonArpCopy,
    Arp = RegConst.ReasonArp,
    Broadcast = RegConst.ReasonBcast,
    Exception = RegConst.ReasonException,
    Protocol = RegConst.ReasonProto,
    Other = RegConst.ReasonOther,
    FinRst = RegConst.ReasonFinRst,
}

/// <summary>The 16-byte metadata in front of every frame in the host RX queue (docs/dataplane.md, "The host port").</summary>
/// <param name="Reason">Why it was punted.</param>
/// <param name="IngressPort">Port it arrived on.</param>
/// <param name="Length">Length of the frame that follows (0 for <see cref="HostReason.FinRst"/> events).</param>
/// <param name="Aux">Flow index (TTL, FIN_RST with the TCP flags in bits 31..24), group index (ARP_COPY), else 0.</param>
/// <param name="Time">TIME (cycles) when it was queued.</param>
public readonly record struct HostFrame(HostReason Reason, byte IngressPort, ushort Length, uint Aux, ulong Time)
{
    /// <summary>Flow index for <see cref="HostReason.Ttl"/> and <see cref="HostReason.FinRst"/>.</summary>
    public int FlowIndex => (int)(Reason == HostReason.FinRst ? Aux & 0x00FF_FFFF : Aux);

    /// <summary>TCP flags of a <see cref="HostReason.FinRst"/> event.</summary>
    public byte TcpFlags => Reason == HostReason.FinRst ? (byte)(Aux >> 24) : (byte)0;
}

/// <summary>The 64-bit per-port counters, in CNT_* order.</summary>
public sealed record PortCounters(
    ulong RxFrames, ulong RxBytes, ulong TxFrames, ulong TxBytes,
    ulong DropRunt, ulong DropOversize, ulong DropMalformed, ulong DropBadChecksum,
    ulong DropNotForUs, ulong DropHostFull, ulong Punt, ulong FlowHit,
    ulong FlowMiss, ulong ArpReplies, ulong TtlExpired, ulong FinRst)
{
    /// <summary>Builds from the values in register order (<see cref="RegConst.CntRxFrames"/> ...).</summary>
    public static PortCounters FromValues(ReadOnlySpan<ulong> v)
    {
        if (v.Length < RegConst.CntPortCount)
            throw new ArgumentException($"need {RegConst.CntPortCount} values", nameof(v));
        return new(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]);
    }

    /// <summary>The counter at register index <paramref name="index"/> (a RegConst.Cnt* value).</summary>
    public ulong this[int index] => index switch
    {
        RegConst.CntRxFrames => RxFrames,
        RegConst.CntRxBytes => RxBytes,
        RegConst.CntTxFrames => TxFrames,
        RegConst.CntTxBytes => TxBytes,
        RegConst.CntDropRunt => DropRunt,
        RegConst.CntDropOversize => DropOversize,
        RegConst.CntDropMalformed => DropMalformed,
        RegConst.CntDropBadCsum => DropBadChecksum,
        RegConst.CntDropNotForUs => DropNotForUs,
        RegConst.CntDropHostFull => DropHostFull,
        RegConst.CntPunt => Punt,
        RegConst.CntFtHit => FlowHit,
        RegConst.CntFtMiss => FlowMiss,
        RegConst.CntArpReplies => ArpReplies,
        RegConst.CntTtlExpired => TtlExpired,
        RegConst.CntFinRst => FinRst,
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };
}

/// <summary>Every counter of the data plane, read in one batch.</summary>
public sealed record DataplaneCounters(PortCounters Port0, PortCounters Port1, ulong HostTxFrames, ulong HostTxDrops)
{
    public PortCounters Port(int port) => port switch
    {
        0 => Port0,
        1 => Port1,
        _ => throw new ArgumentOutOfRangeException(nameof(port)),
    };
}

/// <summary>Watchdog state as the registers report it.</summary>
public readonly record struct WatchdogStatus(uint Timeout, bool Expired, uint Expiries);
