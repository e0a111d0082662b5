namespace Offload.Protocol.Agent;

/// <summary>
/// Offload's agent protocol: UDP datagrams between <c>offload agent</c> on each backend and the gateways'
/// health-and-load handlers. Every field is big-endian.
/// <code>
///  0  magic "OFAG" (4)      4  version = 1 (1)     5  type (1)            6  flags (1)        7  id length n (1)
///  8  boot id (8)          16  sequence (8)        24  sender time, Unix ms (8)
/// 32  body: Report = cpu ‱ (2), memory ‱ (2), established TCP connections (4), weight (2), reserved = 0 (2),
///     report interval ms (4); Query = nothing
/// 32 + body   id (n bytes, printable ASCII)
/// end − 16    HMAC-SHA256(key, every byte before it), truncated to its first 16 bytes
/// </code>
/// The MAC is truncated to 128 bits (RFC 2104 §5 allows truncation to half the output or more): forging it
/// still takes 2^128 work and it keeps a report within 80 bytes. The boot id must increase every time an agent
/// starts (the reporter uses its start time in microseconds), so a restarted agent whose sequence begins again
/// at 1 is told apart from a replay of an earlier boot, which carries a smaller boot id. A boot id is never later
/// than its message's sender time, and a gateway forgets an agent's newest (boot, sequence) once the agent has
/// been silent for its fall time, so neither can be pushed out of the real agent's reach (docs/control-plane.md).
/// </summary>
public static class AgentProtocol
{
    public const uint Magic = 0x4F46_4147; // "OFAG"
    public const byte Version = 1;
    public const int HeaderLength = 32;
    public const int ReportBodyLength = 16;
    public const int MacLength = 16;
    public const int MaxIdLength = 64;

    /// <summary>A report with the longest id: the buffer size that fits any message.</summary>
    public const int MaxLength = HeaderLength + ReportBodyLength + MaxIdLength + MacLength;

    /// <summary>CPU and memory travel as parts per ten thousand.</summary>
    public const int FractionScale = 10_000;

    /// <summary>The longest report interval a report may announce (one hour).</summary>
    public const uint MaxIntervalMs = 3_600_000;

    /// <summary>Where a gateway's handler listens for reports unless configured otherwise.</summary>
    public const int DefaultGatewayPort = 7380;

    /// <summary>Where an agent listens for queries unless told otherwise.</summary>
    public const int DefaultAgentPort = 7381;

    public static int ReportLength(int idLength) => HeaderLength + ReportBodyLength + idLength + MacLength;

    public static int QueryLength(int idLength) => HeaderLength + idLength + MacLength;

    /// <summary>Ids are 1..64 bytes of printable ASCII without spaces, so they read the same in logs on every side.</summary>
    public static bool IsIdByte(byte b) => b is > 0x20 and < 0x7F;

    public static bool IsValidId(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength)
            return false;
        foreach (char c in id)
        {
            if (c is <= ' ' or >= (char)0x7F)
                return false;
        }
        return true;
    }
}

public enum AgentMessageType : byte
{
    /// <summary>Agent → gateway: the backend's state.</summary>
    Report = 1,

    /// <summary>Gateway → agent: "send me a report now" (a gateway that lost its cache rebuilds it this way).</summary>
    Query = 2,
}

[Flags]
public enum AgentFlags : byte
{
    None = 0,

    /// <summary>The weight field carries an operator weight; without it the gateway keeps its configured weight.</summary>
    WeightSet = 1,

    /// <summary>The operator drains the backend: no new connections, existing ones continue.</summary>
    Drain = 2,
}

/// <summary>Why a datagram was not taken. Decoding maps every malformed input to exactly one of the first group.</summary>
public enum AgentReject
{
    None = 0,

    /// <summary>Shorter than the 32-byte header.</summary>
    TooShort,
    BadMagic,
    UnsupportedVersion,
    UnknownType,

    /// <summary>Id length 0 or above <see cref="AgentProtocol.MaxIdLength"/>.</summary>
    BadIdLength,

    /// <summary>Datagram length differs from what the type and id length say.</summary>
    LengthMismatch,

    /// <summary>An id byte outside printable ASCII.</summary>
    BadId,

    /// <summary>Flags unknown, or set where the type has none (a query), or a weight without the weight flag.</summary>
    BadFlags,

    /// <summary>CPU or memory above 100 %, a reserved field not zero, an interval of 0 or above an hour, a negative time or one after the year 9999.</summary>
    FieldOutOfRange,

    /// <summary>The HMAC does not match under the key configured for this id: forged, corrupted or a wrong key.</summary>
    BadMac,

    /// <summary>The id is not one this side is configured for.</summary>
    UnknownAgent,

    /// <summary>Same boot, sequence not above the last accepted one: a replay or a reordered old datagram.</summary>
    Replayed,

    /// <summary>A boot id below the one already seen: a replay from an earlier run of the agent.</summary>
    StaleBoot,

    /// <summary>Sender time further from ours than the allowed skew: an old datagram replayed after a restart, or a clock that is off.</summary>
    ClockSkew,

    /// <summary>A valid message of a type this side does not take (a query sent to a gateway).</summary>
    WrongType,

    /// <summary>A query from an address that is not one of the agent's gateways.</summary>
    UnknownSender,

    /// <summary>A boot id later than the message's own sender time: an agent cannot have started after it spoke.</summary>
    BootInFuture,
}
