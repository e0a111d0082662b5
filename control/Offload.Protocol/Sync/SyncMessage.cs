using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;

namespace Offload.Protocol.Sync;

/// <summary>
/// Layout of a session-sync message (UDP to SYNC_PORT, big-endian), sized so one message fits one 1500-byte frame:
/// <code>
///  0  magic "OFSY"        4  version (1)      5  type           6  record count (u16)
///  8  sender IPv4        12  boot id (u64)   20  sequence (u64) 28  length (u16, tag included)  30  reserved (0)
/// 32  records ...         then a 16-byte tag: HMAC-SHA256(group key, every byte before it), truncated
/// </code>
/// A flow record: flags, key (in-port, src, dst, proto, sport, dport), vMAC, NAT mode/ip/port, backend MAC and
/// egress port, backend id (length byte + UTF-8); with <see cref="SyncFlowFlags.HasReverse"/> then the reverse
/// key, its NAT mode/ip/port, client MAC and client port. A withdraw record is a key alone.
/// </summary>
public static class SyncWire
{
    public const uint Magic = 0x4F465359;
    public const byte Version = 1;
    public const int HeaderLength = 32;
    public const int TagLength = 16;

    /// <summary>1500-byte IP MTU minus the IPv4 and UDP headers.</summary>
    public const int MaxMessage = 1500 - 20 - 8;

    public const int KeyLength = 14;
    public const int MaxBackendId = 64;

    /// <summary>A flow record without its backend id and reverse part.</summary>
    public const int FlowFixedLength = 36;

    public const int ReverseLength = 28;

    public const ushort DefaultPort = 3223;

    public static int FlowRecordLength(int backendIdBytes, bool reverse) => FlowFixedLength + backendIdBytes + (reverse ? ReverseLength : 0);

    internal static void WriteKey(Span<byte> b, in SyncFlowKey k)
    {
        b[0] = k.InPort;
        BinaryPrimitives.WriteUInt32BigEndian(b[1..], k.SrcIp);
        BinaryPrimitives.WriteUInt32BigEndian(b[5..], k.DstIp);
        b[9] = k.Protocol;
        BinaryPrimitives.WriteUInt16BigEndian(b[10..], k.SrcPort);
        BinaryPrimitives.WriteUInt16BigEndian(b[12..], k.DstPort);
    }

    internal static SyncFlowKey ReadKey(ReadOnlySpan<byte> b) => new(
        b[0], BinaryPrimitives.ReadUInt32BigEndian(b[1..]), BinaryPrimitives.ReadUInt32BigEndian(b[5..]), b[9],
        BinaryPrimitives.ReadUInt16BigEndian(b[10..]), BinaryPrimitives.ReadUInt16BigEndian(b[12..]));

    internal static void WriteMac(Span<byte> b, ulong mac)
    {
        BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)(mac >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(b[2..], (uint)mac);
    }

    internal static ulong ReadMac(ReadOnlySpan<byte> b) =>
        ((ulong)BinaryPrimitives.ReadUInt16BigEndian(b) << 32) | BinaryPrimitives.ReadUInt32BigEndian(b[2..]);

    /// <summary>The truncated HMAC over <paramref name="signed"/>.</summary>
    internal static void ComputeTag(ReadOnlySpan<byte> key, ReadOnlySpan<byte> signed, Span<byte> tag)
    {
        Span<byte> full = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, signed, full);
        full[..TagLength].CopyTo(tag);
    }
}

/// <summary>
/// Builds one sync message in a caller's buffer: <see cref="Begin"/>, records while they fit, <see cref="Finish"/>.
/// Allocates nothing.
/// </summary>
public ref struct SyncMessageWriter
{
    private readonly Span<byte> _buffer;
    private int _length;
    private int _count;
    private SyncMessageType _type;

    /// <param name="buffer">Where the message goes; only its first <see cref="SyncWire.MaxMessage"/> bytes are used.</param>
    public SyncMessageWriter(Span<byte> buffer)
    {
        if (buffer.Length < SyncWire.HeaderLength + SyncWire.TagLength)
            throw new ArgumentException($"a sync message needs at least {SyncWire.HeaderLength + SyncWire.TagLength} bytes", nameof(buffer));
        _buffer = buffer.Length > SyncWire.MaxMessage ? buffer[..SyncWire.MaxMessage] : buffer;
    }

    public readonly int Count => _count;

    /// <summary>Bytes still free for records.</summary>
    public readonly int Room => _buffer.Length - SyncWire.TagLength - _length;

    public void Begin(SyncMessageType type, uint sender, ulong boot, ulong sequence)
    {
        _type = type;
        _count = 0;
        _length = SyncWire.HeaderLength;
        var h = _buffer[..SyncWire.HeaderLength];
        BinaryPrimitives.WriteUInt32BigEndian(h, SyncWire.Magic);
        h[4] = SyncWire.Version;
        h[5] = (byte)type;
        BinaryPrimitives.WriteUInt32BigEndian(h[8..], sender);
        BinaryPrimitives.WriteUInt64BigEndian(h[12..], boot);
        BinaryPrimitives.WriteUInt64BigEndian(h[20..], sequence);
        BinaryPrimitives.WriteUInt16BigEndian(h[30..], 0);
    }

    /// <summary>Appends a flow record; false when it does not fit (the message is unchanged).</summary>
    /// <exception cref="ArgumentException">The backend id is longer than <see cref="SyncWire.MaxBackendId"/> bytes, or a field is out of range.</exception>
    public bool TryAddFlow(in SyncFlow flow, ReadOnlySpan<char> backendId)
    {
        if (_type != SyncMessageType.FlowBatch)
            throw new InvalidOperationException($"flow records go into a {SyncMessageType.FlowBatch}, this is a {_type}");
        int idBytes = Encoding.UTF8.GetByteCount(backendId);
        if (idBytes > SyncWire.MaxBackendId)
            throw new ArgumentException($"backend id '{backendId}' is {idBytes} bytes of UTF-8, at most {SyncWire.MaxBackendId} fit", nameof(backendId));
        if ((flow.Flags & ~SyncFlowFlags.All) != 0 || flow.Forward.InPort > 1 || flow.Nat > 2 || flow.BackendPort > 1
            || (flow.HasReverse && (flow.Reverse.InPort > 1 || flow.ClientPort > 1)))
            throw new ArgumentException($"flow record has a field out of range: {flow}", nameof(flow));
        int need = SyncWire.FlowRecordLength(idBytes, flow.HasReverse);
        if (need > Room)
            return false;
        var r = _buffer.Slice(_length, need);
        r[0] = (byte)flow.Flags;
        SyncWire.WriteKey(r[1..], flow.Forward);
        SyncWire.WriteMac(r[15..], flow.Vmac);
        r[21] = flow.Nat;
        BinaryPrimitives.WriteUInt32BigEndian(r[22..], flow.NatIp);
        BinaryPrimitives.WriteUInt16BigEndian(r[26..], flow.NatPort);
        SyncWire.WriteMac(r[28..], flow.BackendMac);
        r[34] = flow.BackendPort;
        r[35] = (byte)idBytes;
        Encoding.UTF8.GetBytes(backendId, r.Slice(SyncWire.FlowFixedLength, idBytes));
        if (flow.HasReverse)
        {
            var v = r[(SyncWire.FlowFixedLength + idBytes)..];
            SyncWire.WriteKey(v, flow.Reverse);
            v[14] = 2;
            BinaryPrimitives.WriteUInt32BigEndian(v[15..], flow.ReverseNatIp);
            BinaryPrimitives.WriteUInt16BigEndian(v[19..], flow.ReverseNatPort);
            SyncWire.WriteMac(v[21..], flow.ClientMac);
            v[27] = flow.ClientPort;
        }
        _length += need;
        _count++;
        return true;
    }

    /// <summary>Appends a withdrawn key; false when it does not fit.</summary>
    public bool TryAddWithdraw(in SyncFlowKey key)
    {
        if (_type != SyncMessageType.Withdraw)
            throw new InvalidOperationException($"withdraw records go into a {SyncMessageType.Withdraw}, this is a {_type}");
        if (key.InPort > 1)
            throw new ArgumentException($"ingress port {key.InPort} does not exist", nameof(key));
        if (SyncWire.KeyLength > Room)
            return false;
        SyncWire.WriteKey(_buffer[_length..], key);
        _length += SyncWire.KeyLength;
        _count++;
        return true;
    }

    /// <summary>Writes count, length and tag; returns the message length.</summary>
    public readonly int Finish(ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty)
            throw new ArgumentException("the sync group key is empty", nameof(key));
        int total = _length + SyncWire.TagLength;
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[6..], (ushort)_count);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[28..], (ushort)total);
        SyncWire.ComputeTag(key, _buffer[.._length], _buffer.Slice(_length, SyncWire.TagLength));
        return total;
    }
}

/// <summary>Decodes and authenticates sync messages; every rejection has its <see cref="SyncError"/>, nothing throws.</summary>
public static class SyncMessage
{
    /// <summary>
    /// Checks <paramref name="message"/> completely (framing, tag, then every record) so that a
    /// <see cref="SyncRecordReader"/> over it cannot fail. The tag is checked before any record is looked at,
    /// so forged content is rejected as <see cref="SyncError.BadTag"/>.
    /// </summary>
    public static SyncError TryDecode(ReadOnlySpan<byte> message, ReadOnlySpan<byte> key, out SyncHeader header)
    {
        header = default;
        if (key.IsEmpty)
            return SyncError.NoKey;
        if (message.Length < SyncWire.HeaderLength + SyncWire.TagLength)
            return SyncError.TooShort;
        if (message.Length > SyncWire.MaxMessage)
            return SyncError.TooLong;
        if (BinaryPrimitives.ReadUInt32BigEndian(message) != SyncWire.Magic)
            return SyncError.BadMagic;
        if (message[4] != SyncWire.Version)
            return SyncError.UnsupportedVersion;
        if (BinaryPrimitives.ReadUInt16BigEndian(message[28..]) != message.Length)
            return SyncError.LengthMismatch;
        int signed = message.Length - SyncWire.TagLength;
        Span<byte> tag = stackalloc byte[SyncWire.TagLength];
        SyncWire.ComputeTag(key, message[..signed], tag);
        if (!CryptographicOperations.FixedTimeEquals(tag, message[signed..]))
            return SyncError.BadTag;

        var type = (SyncMessageType)message[5];
        if (type is not (SyncMessageType.FlowBatch or SyncMessageType.Ack or SyncMessageType.Withdraw or SyncMessageType.RequestAll))
            return SyncError.UnknownType;
        if (BinaryPrimitives.ReadUInt16BigEndian(message[30..]) != 0)
            return SyncError.ReservedNotZero;
        int count = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        bool wantsRecords = type is SyncMessageType.FlowBatch or SyncMessageType.Withdraw;
        if (wantsRecords != (count > 0))
            return SyncError.BadRecordCount;

        var body = message[SyncWire.HeaderLength..signed];
        int at = 0;
        for (int i = 0; i < count; i++)
        {
            var error = type == SyncMessageType.FlowBatch ? CheckFlow(body[at..], out int used) : CheckKey(body[at..], out used);
            if (error != SyncError.None)
                return error;
            at += used;
        }
        if (at != body.Length)
            return SyncError.TrailingBytes;

        header = new SyncHeader(type, BinaryPrimitives.ReadUInt32BigEndian(message[8..]), BinaryPrimitives.ReadUInt64BigEndian(message[12..]),
            BinaryPrimitives.ReadUInt64BigEndian(message[20..]), count);
        return SyncError.None;
    }

    private static SyncError CheckKey(ReadOnlySpan<byte> r, out int used)
    {
        used = SyncWire.KeyLength;
        if (r.Length < SyncWire.KeyLength)
            return SyncError.TruncatedRecord;
        return r[0] > 1 ? SyncError.BadKey : SyncError.None;
    }

    private static SyncError CheckFlow(ReadOnlySpan<byte> r, out int used)
    {
        used = 0;
        if (r.Length < SyncWire.FlowFixedLength)
            return SyncError.TruncatedRecord;
        var flags = (SyncFlowFlags)r[0];
        if ((flags & ~SyncFlowFlags.All) != 0)
            return SyncError.BadRecordFlags;
        if (r[1] > 1)
            return SyncError.BadKey;
        if (r[21] > 2)
            return SyncError.BadNatMode;
        if (r[34] > 1)
            return SyncError.BadPort;
        int idBytes = r[35];
        if (idBytes > SyncWire.MaxBackendId)
            return SyncError.BadBackendId;
        bool reverse = (flags & SyncFlowFlags.HasReverse) != 0;
        int need = SyncWire.FlowRecordLength(idBytes, reverse);
        if (r.Length < need)
            return SyncError.TruncatedRecord;
        if (!Utf8.IsValid(r.Slice(SyncWire.FlowFixedLength, idBytes)))
            return SyncError.BadBackendId;
        if (reverse)
        {
            var v = r[(SyncWire.FlowFixedLength + idBytes)..];
            if (v[0] > 1)
                return SyncError.BadKey;
            if (v[14] != 2)
                return SyncError.BadNatMode;
            if (v[27] > 1)
                return SyncError.BadPort;
        }
        used = need;
        return SyncError.None;
    }
}

/// <summary>Walks the records of a message that <see cref="SyncMessage.TryDecode"/> accepted.</summary>
public ref struct SyncRecordReader
{
    private readonly ReadOnlySpan<byte> _body;
    private readonly SyncMessageType _type;
    private int _at;

    public SyncRecordReader(ReadOnlySpan<byte> message, in SyncHeader header)
    {
        int end = Math.Max(SyncWire.HeaderLength, message.Length - SyncWire.TagLength);
        _body = message.Length >= SyncWire.HeaderLength ? message[SyncWire.HeaderLength..end] : default;
        _type = header.Type;
        _at = 0;
    }

    /// <summary>The next flow record of a FlowBatch; its backend id is UTF-8 inside the message.</summary>
    public bool TryReadFlow(out SyncFlow flow, out ReadOnlySpan<byte> backendId)
    {
        flow = default;
        backendId = default;
        if (_type != SyncMessageType.FlowBatch || _at + SyncWire.FlowFixedLength > _body.Length)
            return false;
        var r = _body[_at..];
        var flags = (SyncFlowFlags)r[0];
        int idBytes = r[35];
        bool reverse = (flags & SyncFlowFlags.HasReverse) != 0;
        int need = SyncWire.FlowRecordLength(idBytes, reverse);
        if (_at + need > _body.Length)
            return false;
        backendId = r.Slice(SyncWire.FlowFixedLength, idBytes);
        flow = new SyncFlow(SyncWire.ReadKey(r[1..]), SyncWire.ReadMac(r[15..]), flags, r[21], BinaryPrimitives.ReadUInt32BigEndian(r[22..]),
            BinaryPrimitives.ReadUInt16BigEndian(r[26..]), SyncWire.ReadMac(r[28..]), r[34]);
        if (reverse)
        {
            var v = r[(SyncWire.FlowFixedLength + idBytes)..];
            flow = flow with
            {
                Reverse = SyncWire.ReadKey(v),
                ReverseNatIp = BinaryPrimitives.ReadUInt32BigEndian(v[15..]),
                ReverseNatPort = BinaryPrimitives.ReadUInt16BigEndian(v[19..]),
                ClientMac = SyncWire.ReadMac(v[21..]),
                ClientPort = v[27],
            };
        }
        _at += need;
        return true;
    }

    /// <summary>The next key of a Withdraw.</summary>
    public bool TryReadWithdraw(out SyncFlowKey key)
    {
        key = default;
        if (_type != SyncMessageType.Withdraw || _at + SyncWire.KeyLength > _body.Length)
            return false;
        key = SyncWire.ReadKey(_body[_at..]);
        _at += SyncWire.KeyLength;
        return true;
    }
}
