using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Offload.Protocol.Agent;

/// <summary>What an agent reports about its backend (see <see cref="AgentProtocol"/> for the wire layout).</summary>
/// <param name="BootId">Increases every time the agent starts.</param>
/// <param name="Sequence">Strictly increasing within one boot, from 1.</param>
/// <param name="Cpu">CPU utilisation 0..1 (sent in steps of 1/10000).</param>
/// <param name="Memory">Fraction of memory in use 0..1 (sent in steps of 1/10000).</param>
/// <param name="Connections">Established TCP connections (IPv4 and IPv6).</param>
/// <param name="Weight">Operator weight 0..65535, or null to keep the gateway's configured weight.</param>
/// <param name="Drain">Operator drain: no new connections.</param>
/// <param name="Interval">How often the agent reports: the gateway declares it silent after a number of these.</param>
public readonly record struct AgentReport(
    string Id, ulong BootId, ulong Sequence, DateTimeOffset Time, double Cpu, double Memory, uint Connections, int? Weight, bool Drain, TimeSpan Interval);

/// <summary>A gateway asking agent <paramref name="Id"/> for a report now.</summary>
public readonly record struct AgentQuery(string Id, ulong BootId, ulong Sequence, DateTimeOffset Time);

/// <summary>
/// A decoded datagram, still pointing into the receive buffer so the receive path does not allocate; the
/// report fields are zero for a query. <see cref="ToReport"/> copies it out.
/// </summary>
public readonly ref struct AgentFrame
{
    public AgentMessageType Type { get; init; }

    public AgentFlags Flags { get; init; }

    public ulong BootId { get; init; }

    public ulong Sequence { get; init; }

    public long TimeMs { get; init; }

    public ushort CpuPermyriad { get; init; }

    public ushort MemoryPermyriad { get; init; }

    public uint Connections { get; init; }

    public ushort RawWeight { get; init; }

    public uint IntervalMs { get; init; }

    /// <summary>The id bytes (printable ASCII).</summary>
    public ReadOnlySpan<byte> Id { get; init; }

    public double Cpu => CpuPermyriad / (double)AgentProtocol.FractionScale;

    public double Memory => MemoryPermyriad / (double)AgentProtocol.FractionScale;

    public int? Weight => (Flags & AgentFlags.WeightSet) != 0 ? RawWeight : null;

    public bool Drain => (Flags & AgentFlags.Drain) != 0;

    public TimeSpan Interval => TimeSpan.FromMilliseconds(IntervalMs);

    public DateTimeOffset Time => DateTimeOffset.FromUnixTimeMilliseconds(TimeMs);

    public string IdString() => Encoding.ASCII.GetString(Id);

    public AgentReport ToReport() => new(IdString(), BootId, Sequence, Time, Cpu, Memory, Connections, Weight, Drain, Interval);

    public AgentQuery ToQuery() => new(IdString(), BootId, Sequence, Time);
}

/// <summary>Encodes and decodes agent messages. Decoding never throws: every bad input yields an <see cref="AgentReject"/>.</summary>
public static class AgentCodec
{
    private const AgentFlags KnownFlags = AgentFlags.WeightSet | AgentFlags.Drain;
    // DateTimeOffset.MaxValue.ToUnixTimeMilliseconds(), as a constant for the pattern below.
    private const long MaxTimeMs = 253_402_300_799_999;

    /// <summary>Writes a signed report; returns its length. Throws for values the protocol cannot carry (a caller bug, not input).</summary>
    public static int WriteReport(Span<byte> destination, in AgentReport report, ReadOnlySpan<byte> key)
    {
        if (!(report.Cpu is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(report), report.Cpu, "CPU utilisation must be within 0..1");
        if (!(report.Memory is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(report), report.Memory, "memory fraction must be within 0..1");
        if (report.Weight is < 0 or > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(report), report.Weight, "weight must be within 0..65535");
        long intervalMs = (long)report.Interval.TotalMilliseconds;
        if (intervalMs is < 1 or > AgentProtocol.MaxIntervalMs)
            throw new ArgumentOutOfRangeException(nameof(report), report.Interval, "the report interval must be 1 ms .. 1 h");
        int length = AgentProtocol.ReportLength(CheckId(report.Id));
        CheckSpace(destination, length);
        var flags = (report.Weight.HasValue ? AgentFlags.WeightSet : 0) | (report.Drain ? AgentFlags.Drain : 0);
        WriteHeader(destination, AgentMessageType.Report, flags, report.Id, report.BootId, report.Sequence, report.Time);
        Span<byte> body = destination.Slice(AgentProtocol.HeaderLength, AgentProtocol.ReportBodyLength);
        BinaryPrimitives.WriteUInt16BigEndian(body, Permyriad(report.Cpu));
        BinaryPrimitives.WriteUInt16BigEndian(body[2..], Permyriad(report.Memory));
        BinaryPrimitives.WriteUInt32BigEndian(body[4..], report.Connections);
        BinaryPrimitives.WriteUInt16BigEndian(body[8..], (ushort)(report.Weight ?? 0));
        BinaryPrimitives.WriteUInt16BigEndian(body[10..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(body[12..], (uint)intervalMs);
        Encoding.ASCII.GetBytes(report.Id, destination[(AgentProtocol.HeaderLength + AgentProtocol.ReportBodyLength)..]);
        Sign(destination[..length], key);
        return length;
    }

    /// <summary>Writes a signed query; returns its length.</summary>
    public static int WriteQuery(Span<byte> destination, in AgentQuery query, ReadOnlySpan<byte> key)
    {
        int length = AgentProtocol.QueryLength(CheckId(query.Id));
        CheckSpace(destination, length);
        WriteHeader(destination, AgentMessageType.Query, AgentFlags.None, query.Id, query.BootId, query.Sequence, query.Time);
        Encoding.ASCII.GetBytes(query.Id, destination[AgentProtocol.HeaderLength..]);
        Sign(destination[..length], key);
        return length;
    }

    /// <summary>
    /// Checks the structure and field ranges of a datagram and reads it, without authenticating it: the key
    /// depends on the id, which this reads. Call <see cref="Authenticate"/> before trusting anything in it.
    /// </summary>
    public static AgentReject TryParse(ReadOnlySpan<byte> datagram, out AgentFrame frame)
    {
        frame = default;
        if (datagram.Length < AgentProtocol.HeaderLength)
            return AgentReject.TooShort;
        if (BinaryPrimitives.ReadUInt32BigEndian(datagram) != AgentProtocol.Magic)
            return AgentReject.BadMagic;
        if (datagram[4] != AgentProtocol.Version)
            return AgentReject.UnsupportedVersion;
        var type = (AgentMessageType)datagram[5];
        if (type is not (AgentMessageType.Report or AgentMessageType.Query))
            return AgentReject.UnknownType;
        var flags = (AgentFlags)datagram[6];
        int idLength = datagram[7];
        if (idLength is 0 or > AgentProtocol.MaxIdLength)
            return AgentReject.BadIdLength;
        int bodyLength = type == AgentMessageType.Report ? AgentProtocol.ReportBodyLength : 0;
        if (datagram.Length != AgentProtocol.HeaderLength + bodyLength + idLength + AgentProtocol.MacLength)
            return AgentReject.LengthMismatch;
        ReadOnlySpan<byte> id = datagram.Slice(AgentProtocol.HeaderLength + bodyLength, idLength);
        foreach (byte b in id)
        {
            if (!AgentProtocol.IsIdByte(b))
                return AgentReject.BadId;
        }
        if ((flags & ~KnownFlags) != 0 || (type == AgentMessageType.Query && flags != AgentFlags.None))
            return AgentReject.BadFlags;
        long timeMs = BinaryPrimitives.ReadInt64BigEndian(datagram[24..]);
        // Above the year 9999 the frame's Time (a DateTimeOffset) cannot be formed: refused here, so reading a frame never throws.
        if (timeMs is < 0 or > MaxTimeMs)
            return AgentReject.FieldOutOfRange;
        ushort cpu = 0, memory = 0, weight = 0;
        uint connections = 0, intervalMs = 0;
        if (type == AgentMessageType.Report)
        {
            ReadOnlySpan<byte> body = datagram.Slice(AgentProtocol.HeaderLength, AgentProtocol.ReportBodyLength);
            cpu = BinaryPrimitives.ReadUInt16BigEndian(body);
            memory = BinaryPrimitives.ReadUInt16BigEndian(body[2..]);
            connections = BinaryPrimitives.ReadUInt32BigEndian(body[4..]);
            weight = BinaryPrimitives.ReadUInt16BigEndian(body[8..]);
            ushort reserved = BinaryPrimitives.ReadUInt16BigEndian(body[10..]);
            intervalMs = BinaryPrimitives.ReadUInt32BigEndian(body[12..]);
            // A weight without its flag would be silently ignored; reject it so one message has one meaning.
            if (weight != 0 && (flags & AgentFlags.WeightSet) == 0)
                return AgentReject.BadFlags;
            if (cpu > AgentProtocol.FractionScale || memory > AgentProtocol.FractionScale || reserved != 0
                || intervalMs is 0 or > AgentProtocol.MaxIntervalMs)
                return AgentReject.FieldOutOfRange;
        }
        frame = new AgentFrame
        {
            Type = type,
            Flags = flags,
            BootId = BinaryPrimitives.ReadUInt64BigEndian(datagram[8..]),
            Sequence = BinaryPrimitives.ReadUInt64BigEndian(datagram[16..]),
            TimeMs = timeMs,
            CpuPermyriad = cpu,
            MemoryPermyriad = memory,
            Connections = connections,
            RawWeight = weight,
            IntervalMs = intervalMs,
            Id = id,
        };
        return AgentReject.None;
    }

    /// <summary>True when the datagram's trailing MAC is the HMAC of the rest under <paramref name="key"/> (constant-time compare).</summary>
    public static bool Authenticate(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> key)
    {
        if (datagram.Length < AgentProtocol.HeaderLength + AgentProtocol.MacLength)
            return false;
        int signed = datagram.Length - AgentProtocol.MacLength;
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, datagram[..signed], mac);
        return CryptographicOperations.FixedTimeEquals(mac[..AgentProtocol.MacLength], datagram[signed..]);
    }

    /// <summary>Parses and authenticates in one step, for a side that has one key for every peer.</summary>
    public static AgentReject TryDecode(ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> key, out AgentFrame frame)
    {
        AgentReject reject = TryParse(datagram, out frame);
        if (reject != AgentReject.None)
            return reject;
        if (!Authenticate(datagram, key))
        {
            frame = default;
            return AgentReject.BadMac;
        }
        return AgentReject.None;
    }

    public static string Describe(AgentReject reject) => reject switch
    {
        AgentReject.None => "ok",
        AgentReject.TooShort => "datagram shorter than the 32-byte agent header",
        AgentReject.BadMagic => "not an agent message (magic is not OFAG)",
        AgentReject.UnsupportedVersion => "agent protocol version other than 1",
        AgentReject.UnknownType => "message type is neither report nor query",
        AgentReject.BadIdLength => "id length 0 or above 64",
        AgentReject.LengthMismatch => "datagram length does not match its type and id length",
        AgentReject.BadId => "id holds a byte outside printable ASCII",
        AgentReject.BadFlags => "unknown flags, flags on a query, or a weight without the weight flag",
        AgentReject.FieldOutOfRange => "a field is out of range (CPU or memory above 100 %, reserved not 0, interval 0 or above 1 h, negative time)",
        AgentReject.BadMac => "HMAC does not match (forged, corrupted, or a different key)",
        AgentReject.UnknownAgent => "no agent with this id is configured",
        AgentReject.Replayed => "sequence number not above the last one of this boot (replay)",
        AgentReject.StaleBoot => "boot id below the agent's current one (replay of an earlier run)",
        AgentReject.ClockSkew => "sender time too far from ours",
        AgentReject.WrongType => "message type not taken here",
        AgentReject.UnknownSender => "query from an address that is not a configured gateway",
        _ => reject.ToString(),
    };

    private static int CheckId(string id)
    {
        if (!AgentProtocol.IsValidId(id))
            throw new ArgumentException($"agent id '{id}' must be 1..{AgentProtocol.MaxIdLength} printable ASCII characters without spaces", nameof(id));
        return id.Length;
    }

    private static void CheckSpace(Span<byte> destination, int length)
    {
        if (destination.Length < length)
            throw new ArgumentException($"the message needs {length} bytes, the buffer has {destination.Length}", nameof(destination));
    }

    private static void WriteHeader(Span<byte> d, AgentMessageType type, AgentFlags flags, string id, ulong bootId, ulong sequence, DateTimeOffset time)
    {
        BinaryPrimitives.WriteUInt32BigEndian(d, AgentProtocol.Magic);
        d[4] = AgentProtocol.Version;
        d[5] = (byte)type;
        d[6] = (byte)flags;
        d[7] = (byte)id.Length;
        BinaryPrimitives.WriteUInt64BigEndian(d[8..], bootId);
        BinaryPrimitives.WriteUInt64BigEndian(d[16..], sequence);
        BinaryPrimitives.WriteInt64BigEndian(d[24..], Math.Max(0, time.ToUnixTimeMilliseconds()));
    }

    private static void Sign(Span<byte> message, ReadOnlySpan<byte> key)
    {
        int signed = message.Length - AgentProtocol.MacLength;
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, message[..signed], mac);
        mac[..AgentProtocol.MacLength].CopyTo(message[signed..]);
    }

    private static ushort Permyriad(double fraction) => (ushort)Math.Round(fraction * AgentProtocol.FractionScale, MidpointRounding.AwayFromZero);
}
