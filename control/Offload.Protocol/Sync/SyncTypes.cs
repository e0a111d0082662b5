namespace Offload.Protocol.Sync;

/// <summary>What a session-sync message carries.</summary>
public enum SyncMessageType : byte
{
    /// <summary>Flows the receiver should hold (or install, when it forwards their vMAC).</summary>
    FlowBatch = 1,

    /// <summary>Acknowledges one message of the receiver's (boot, sequence) stream; carries no records.</summary>
    Ack = 2,

    /// <summary>Flows that ended at the sender: forward keys only.</summary>
    Withdraw = 3,

    /// <summary>Sent by a gateway that lost its state: "send me everything you hold". No records.</summary>
    RequestAll = 4,
}

/// <summary>Why a sync message was rejected. <see cref="None"/> means it was accepted.</summary>
public enum SyncError : byte
{
    None,

    /// <summary>Shorter than the fixed header plus the tag.</summary>
    TooShort,

    /// <summary>Longer than <see cref="SyncWire.MaxMessage"/>: one message fits one 1500-byte frame.</summary>
    TooLong,

    BadMagic,
    UnsupportedVersion,

    /// <summary>The length field differs from the datagram's length (truncated or padded on the way).</summary>
    LengthMismatch,

    /// <summary>The HMAC tag does not match: a wrong group key, or the bytes were changed.</summary>
    BadTag,

    UnknownType,
    ReservedNotZero,

    /// <summary>An Ack or RequestAll with records, or a batch with none.</summary>
    BadRecordCount,

    /// <summary>A record runs past the end of the message.</summary>
    TruncatedRecord,

    /// <summary>Bytes left after the last record the count announced.</summary>
    TrailingBytes,

    /// <summary>Flag bits this version does not define.</summary>
    BadRecordFlags,

    /// <summary>Ingress port above 1.</summary>
    BadKey,

    /// <summary>A NAT mode other than 0 (none), 1 (destination) and 2 (source), or a reverse entry that does not source-NAT.</summary>
    BadNatMode,

    /// <summary>Backend id longer than <see cref="SyncWire.MaxBackendId"/> bytes or not UTF-8.</summary>
    BadBackendId,

    /// <summary>An egress port above 1 for the backend or the client next hop.</summary>
    BadPort,

    /// <summary>The group key given to the codec is empty.</summary>
    NoKey,
}

/// <summary>A flow-table key as the sync protocol carries it (the data plane's key: ingress port and 5-tuple).</summary>
public readonly record struct SyncFlowKey(byte InPort, uint SrcIp, uint DstIp, byte Protocol, ushort SrcPort, ushort DstPort);

/// <summary>Bits of a flow record's flag byte.</summary>
[Flags]
public enum SyncFlowFlags : byte
{
    None = 0,

    /// <summary>The entries decrement TTL.</summary>
    TtlDecrement = 1,

    /// <summary>A NAT flow: the reverse key, reverse NAT and client next hop follow.</summary>
    HasReverse = 2,

    /// <summary>Only the SYN was seen so far (the receiver applies the short timeout).</summary>
    SynOnly = 4,

    All = TtlDecrement | HasReverse | SynOnly,
}

/// <summary>
/// One flow as a peer must rebuild it. Next hops travel as what they mean (backend MAC and egress port, the
/// client's MAC and port) and never as next-hop indices: dynamic client hops get different indices on every
/// gateway. The backend id travels next to the record (see <see cref="SyncMessageWriter.TryAddFlow"/>).
/// </summary>
/// <param name="Vmac">The virtual MAC the client addressed: whose flows these are (0 when the sender cannot tell).</param>
/// <param name="Nat">Forward NAT mode (0 none, 1 destination).</param>
/// <param name="ReverseNatIp">Source-NAT address of the reverse entry (the VIP).</param>
/// <param name="ClientMac">Destination MAC of the way back to the client (its source MAC on the way in).</param>
/// <param name="ClientPort">Port the client is reached on.</param>
public readonly record struct SyncFlow(
    SyncFlowKey Forward,
    ulong Vmac,
    SyncFlowFlags Flags,
    byte Nat,
    uint NatIp,
    ushort NatPort,
    ulong BackendMac,
    byte BackendPort,
    SyncFlowKey Reverse = default,
    uint ReverseNatIp = 0,
    ushort ReverseNatPort = 0,
    ulong ClientMac = 0,
    byte ClientPort = 0)
{
    public bool HasReverse => (Flags & SyncFlowFlags.HasReverse) != 0;

    public bool TtlDecrement => (Flags & SyncFlowFlags.TtlDecrement) != 0;

    public bool SynOnly => (Flags & SyncFlowFlags.SynOnly) != 0;
}

/// <summary>The fixed header of a message that passed <see cref="SyncMessage.TryDecode"/>.</summary>
/// <param name="Sender">The sender's IPv4 address (its identity in the group).</param>
/// <param name="Boot">The sender's boot id; sequences restart with each boot. For an Ack: the boot being acknowledged.</param>
/// <param name="Sequence">This message's sequence number in (sender, boot); for an Ack: the sequence acknowledged.</param>
/// <param name="Count">Records that follow.</param>
public readonly record struct SyncHeader(SyncMessageType Type, uint Sender, ulong Boot, ulong Sequence, int Count);
