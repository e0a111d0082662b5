using System.Buffers.Binary;

namespace Offload.Protocol.Glbp;

/// <summary>
/// A decoded GLBP message: views into the caller's bytes, valid as long as they are. <see cref="TryDecode"/> walks
/// and checks every TLV once, so the enumerators below never meet a malformed TLV and need no error path.
/// </summary>
public readonly ref struct GlbpPacket
{
    private readonly int _helloOffset;
    private readonly int _authOffset;
    private readonly int _offloadAuthOffset;

    private GlbpPacket(ReadOnlySpan<byte> bytes, GlbpHeader header, int hello, int auth, int offloadAuth, int forwarders)
    {
        Bytes = bytes;
        Header = header;
        _helloOffset = hello;
        _authOffset = auth;
        _offloadAuthOffset = offloadAuth;
        ForwarderCount = forwarders;
    }

    /// <summary>The whole GLBP message (UDP payload).</summary>
    public ReadOnlySpan<byte> Bytes { get; }

    public GlbpHeader Header { get; }

    public bool HasHello => _helloOffset >= 0;

    /// <summary>The Hello TLV; check <see cref="HasHello"/> first (default otherwise).</summary>
    public GlbpHello Hello => _helloOffset >= 0 ? GlbpHello.Read(Bytes[_helloOffset..]) : default;

    /// <summary>The Hello TLV's address bytes (4 for IPv4, 16 for IPv6); empty without a Hello.</summary>
    public ReadOnlySpan<byte> HelloAddress => _helloOffset >= 0 ? Bytes.Slice(_helloOffset + GlbpHello.FixedLength, Bytes[_helloOffset + 23]) : default;

    public bool HasAuth => _authOffset >= 0;

    /// <summary>Cisco's Auth TLV; check <see cref="HasAuth"/> first.</summary>
    public GlbpAuth Auth => _authOffset >= 0 ? new GlbpAuth(Bytes, _authOffset) : default;

    public bool HasOffloadAuth => _offloadAuthOffset >= 0;

    /// <summary>Offload's HMAC TLV; check <see cref="HasOffloadAuth"/> first.</summary>
    public GlbpOffloadAuth OffloadAuth => _offloadAuthOffset >= 0 ? new GlbpOffloadAuth(Bytes, _offloadAuthOffset) : default;

    public int ForwarderCount { get; }

    /// <summary>Request/Response TLVs in wire order.</summary>
    public ForwarderEnumerator Forwarders => new(Bytes);

    /// <summary>Offload load TLVs (<see cref="GlbpOffloadLoad"/>) in wire order.</summary>
    public OffloadLoadEnumerator OffloadLoads => new(Bytes);

    /// <summary>Offload owner TLVs (<see cref="GlbpOffloadOwner"/>) in wire order.</summary>
    public OffloadOwnerEnumerator OffloadOwners => new(Bytes);

    /// <summary>All TLVs in wire order, unknown ones included.</summary>
    public TlvEnumerator Tlvs => new(Bytes);

    /// <summary>
    /// Checks and decodes a GLBP message. Never throws on bad input: the result names the first problem and where.
    /// </summary>
    public static GlbpResult TryDecode(ReadOnlySpan<byte> bytes, out GlbpPacket packet)
    {
        packet = default;
        if (bytes.Length < GlbpProtocol.HeaderLength)
            return new(GlbpError.TooShort, 0);
        if (bytes.Length > GlbpProtocol.MaxLength)
            return new(GlbpError.TooLong, GlbpProtocol.MaxLength);
        if (bytes[0] != GlbpProtocol.Version)
            return new(GlbpError.UnsupportedVersion, 0);
        var header = GlbpHeader.Read(bytes);
        if (header.Group > GlbpProtocol.MaxGroup)
            return new(GlbpError.GroupOutOfRange, 2);

        int hello = -1, auth = -1, offloadAuth = -1, forwarders = 0;
        int at = GlbpProtocol.HeaderLength;
        while (at < bytes.Length)
        {
            if (bytes.Length - at < GlbpProtocol.TlvHeaderLength)
                return new(GlbpError.TlvHeaderTruncated, at);
            byte type = bytes[at];
            int length = bytes[at + 1];
            if (length < GlbpProtocol.TlvHeaderLength)
                return new(GlbpError.TlvLengthTooSmall, at + 1);
            if (length == GlbpProtocol.TlvHeaderLength)
                return new(GlbpError.EmptyTlv, at + 1);
            if (length > bytes.Length - at)
                return new(GlbpError.TlvPastEnd, at + 1);
            ReadOnlySpan<byte> tlv = bytes.Slice(at, length);
            GlbpResult check = type switch
            {
                GlbpTlvType.Hello => CheckHello(tlv, at, ref hello),
                GlbpTlvType.RequestResponse => CheckForwarder(tlv, at, ref forwarders),
                GlbpTlvType.Auth => CheckAuth(tlv, at, ref auth, offloadAuth),
                GlbpTlvType.OffloadHmac => CheckOffloadAuth(tlv, at, ref offloadAuth, auth),
                GlbpTlvType.OffloadLoad => CheckOffloadLoad(tlv, at),
                GlbpTlvType.OffloadOwner => CheckOffloadOwner(tlv, at),
                _ => GlbpResult.Ok, // unknown TLVs are skipped by their length
            };
            if (!check.IsOk)
                return check;
            at += length;
        }
        packet = new GlbpPacket(bytes, header, hello, auth, offloadAuth, forwarders);
        return GlbpResult.Ok;
    }

    private static GlbpResult CheckHello(ReadOnlySpan<byte> tlv, int at, ref int hello)
    {
        if (hello >= 0)
            return new(GlbpError.DuplicateHello, at);
        if (tlv.Length < GlbpHello.FixedLength)
            return new(GlbpError.HelloTooShort, at + 1);
        int addressLength = tlv[23];
        bool lengthFitsType = (GlbpAddressType)tlv[22] switch
        {
            GlbpAddressType.Ipv4 => addressLength == 4,
            GlbpAddressType.Ipv6 => addressLength == 16,
            _ => true,
        };
        if (!lengthFitsType || GlbpHello.FixedLength + addressLength > tlv.Length)
            return new(GlbpError.BadAddressLength, at + 23);
        hello = at;
        return GlbpResult.Ok;
    }

    private static GlbpResult CheckForwarder(ReadOnlySpan<byte> tlv, int at, ref int forwarders)
    {
        if (tlv.Length < GlbpForwarder.Length)
            return new(GlbpError.RequestResponseTooShort, at + 1);
        forwarders++;
        return GlbpResult.Ok;
    }

    private static GlbpResult CheckAuth(ReadOnlySpan<byte> tlv, int at, ref int auth, int offloadAuth)
    {
        if (auth >= 0 || offloadAuth >= 0)
            return new(GlbpError.DuplicateAuth, at);
        if (tlv.Length < GlbpAuth.FixedLength)
            return new(GlbpError.AuthTooShort, at + 1);
        int dataLength = tlv[3];
        if (GlbpAuth.FixedLength + dataLength > tlv.Length)
            return new(GlbpError.AuthLengthPastTlv, at + 3);
        bool sizeOk = (GlbpAuthType)tlv[2] switch
        {
            GlbpAuthType.None => dataLength == 0,
            GlbpAuthType.Md5KeyString => dataLength == GlbpAuth.DigestLength,
            GlbpAuthType.Md5KeyChain => dataLength == 4 + GlbpAuth.DigestLength,
            _ => true,
        };
        if (!sizeOk)
            return new(GlbpError.BadAuthLength, at + 3);
        auth = at;
        return GlbpResult.Ok;
    }

    private static GlbpResult CheckOffloadAuth(ReadOnlySpan<byte> tlv, int at, ref int offloadAuth, int auth)
    {
        if (auth >= 0 || offloadAuth >= 0)
            return new(GlbpError.DuplicateAuth, at);
        if (tlv.Length != GlbpOffloadAuth.Length || tlv[2] != GlbpOffloadAuth.AlgorithmHmacSha256)
            return new(GlbpError.BadOffloadAuth, at + 1);
        offloadAuth = at;
        return GlbpResult.Ok;
    }

    private static GlbpResult CheckOffloadLoad(ReadOnlySpan<byte> tlv, int at)
    {
        if (tlv.Length != GlbpOffloadLoad.Length)
            return new(GlbpError.BadOffloadLoad, at + 1);
        if (tlv[2] == 0)
            return new(GlbpError.BadOffloadLoad, at + 2);
        return GlbpResult.Ok;
    }

    private static GlbpResult CheckOffloadOwner(ReadOnlySpan<byte> tlv, int at)
    {
        if (tlv.Length != GlbpOffloadOwner.Length)
            return new(GlbpError.BadOffloadOwner, at + 1);
        if (tlv[2] == 0)
            return new(GlbpError.BadOffloadOwner, at + 2);
        return GlbpResult.Ok;
    }

    /// <summary>One TLV: type, its offset in the message, and its bytes (header included) and value.</summary>
    public readonly ref struct Tlv
    {
        internal Tlv(ReadOnlySpan<byte> raw, int offset)
        {
            Raw = raw;
            Offset = offset;
        }

        public byte Type => Raw[0];
        public int Offset { get; }
        public ReadOnlySpan<byte> Raw { get; }
        public ReadOnlySpan<byte> Value => Raw[GlbpProtocol.TlvHeaderLength..];
    }

    public ref struct TlvEnumerator
    {
        private readonly ReadOnlySpan<byte> _bytes;
        private int _next;

        internal TlvEnumerator(ReadOnlySpan<byte> bytes)
        {
            _bytes = bytes;
            _next = bytes.IsEmpty ? 0 : GlbpProtocol.HeaderLength;
            Current = default;
        }

        public Tlv Current { get; private set; }

        public readonly TlvEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_next >= _bytes.Length)
                return false;
            int length = _bytes[_next + 1];
            Current = new Tlv(_bytes.Slice(_next, length), _next);
            _next += length;
            return true;
        }
    }

    public ref struct ForwarderEnumerator
    {
        private TlvEnumerator _tlvs;

        internal ForwarderEnumerator(ReadOnlySpan<byte> bytes)
        {
            _tlvs = new TlvEnumerator(bytes);
            Current = default;
        }

        public GlbpForwarder Current { get; private set; }

        public readonly ForwarderEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            while (_tlvs.MoveNext())
            {
                if (_tlvs.Current.Type == GlbpTlvType.RequestResponse)
                {
                    Current = GlbpForwarder.Read(_tlvs.Current.Raw);
                    return true;
                }
            }
            return false;
        }
    }

    public ref struct OffloadLoadEnumerator
    {
        private TlvEnumerator _tlvs;

        internal OffloadLoadEnumerator(ReadOnlySpan<byte> bytes)
        {
            _tlvs = new TlvEnumerator(bytes);
            Current = default;
        }

        public GlbpOffloadLoad Current { get; private set; }

        public readonly OffloadLoadEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            while (_tlvs.MoveNext())
            {
                if (_tlvs.Current.Type == GlbpTlvType.OffloadLoad)
                {
                    Current = GlbpOffloadLoad.Read(_tlvs.Current.Raw);
                    return true;
                }
            }
            return false;
        }
    }

    public ref struct OffloadOwnerEnumerator
    {
        private TlvEnumerator _tlvs;

        internal OffloadOwnerEnumerator(ReadOnlySpan<byte> bytes)
        {
            _tlvs = new TlvEnumerator(bytes);
            Current = default;
        }

        public GlbpOffloadOwner Current { get; private set; }

        public readonly OffloadOwnerEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            while (_tlvs.MoveNext())
            {
                if (_tlvs.Current.Type == GlbpTlvType.OffloadOwner)
                {
                    Current = GlbpOffloadOwner.Read(_tlvs.Current.Raw);
                    return true;
                }
            }
            return false;
        }
    }
}

/// <summary>
/// Cisco's Auth TLV (type 3). Offsets from the TLV start: 0 type, 1 length, 2 auth type, 3 data length, 4… data.
/// Plain text: the text (not padded). MD5 key-string: the 16-byte digest at 4. MD5 key-chain: the key id
/// (32-bit big-endian) at 4 and the digest at 8. None: no data.
/// </summary>
public readonly ref struct GlbpAuth
{
    public const int FixedLength = 4;
    public const int DigestLength = 16;

    private readonly ReadOnlySpan<byte> _packet;

    internal GlbpAuth(ReadOnlySpan<byte> packet, int offset)
    {
        _packet = packet;
        Offset = offset;
    }

    /// <summary>Offset of the TLV within the message.</summary>
    public int Offset { get; }

    public int TlvLength => _packet[Offset + 1];
    public GlbpAuthType Type => (GlbpAuthType)_packet[Offset + 2];
    public ReadOnlySpan<byte> Data => _packet.Slice(Offset + FixedLength, _packet[Offset + 3]);

    /// <summary>The plain-text password (empty for other types).</summary>
    public ReadOnlySpan<byte> Text => Type == GlbpAuthType.PlainText ? Data : default;

    public uint KeyId => Type == GlbpAuthType.Md5KeyChain ? BinaryPrimitives.ReadUInt32BigEndian(Data) : 0;

    /// <summary>Offset of the MD5 digest within the message, or -1 for non-MD5 types.</summary>
    public int DigestOffset => Type switch
    {
        GlbpAuthType.Md5KeyString => Offset + FixedLength,
        GlbpAuthType.Md5KeyChain => Offset + FixedLength + 4,
        _ => -1,
    };

    public ReadOnlySpan<byte> Digest => DigestOffset < 0 ? default : _packet.Slice(DigestOffset, DigestLength);
}

/// <summary>
/// Offload's HMAC-SHA256 TLV (type 0xF1, ours, not Cisco's). Offsets from the TLV start: 0 type, 1 length (42),
/// 2 algorithm (1 = HMAC-SHA256), 3 reserved (0), 4–5 key id, 6–9 sequence number (sender-increasing, for replay
/// checks by the group layer), 10–41 the MAC.
/// </summary>
public readonly ref struct GlbpOffloadAuth
{
    public const int Length = 42;
    public const byte AlgorithmHmacSha256 = 1;
    public const int MacOffset = 10;
    public const int MacLength = 32;

    private readonly ReadOnlySpan<byte> _packet;

    internal GlbpOffloadAuth(ReadOnlySpan<byte> packet, int offset)
    {
        _packet = packet;
        Offset = offset;
    }

    public int Offset { get; }
    public ushort KeyId => BinaryPrimitives.ReadUInt16BigEndian(_packet[(Offset + 4)..]);
    public uint Sequence => BinaryPrimitives.ReadUInt32BigEndian(_packet[(Offset + 6)..]);
    public ReadOnlySpan<byte> Mac => _packet.Slice(Offset + MacOffset, MacLength);
}
