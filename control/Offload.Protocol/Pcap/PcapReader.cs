using System.Buffers.Binary;

namespace Offload.Protocol.Pcap;

/// <summary>
/// Reads classic pcap (either byte order, micro- or nanosecond timestamps) and pcapng (SHB, IDB, EPB, SPB and
/// the obsolete PB; every other block is skipped). The format is detected from the first four bytes. Anything
/// that does not add up throws <see cref="PcapFormatException"/> with the offset of the offending header (and the
/// file's name when it has one), except a file that ends inside its last record: its complete records are read and
/// <see cref="Warning"/> says where it was cut. One buffer is reused for all packets, so reading allocates nothing
/// per packet, and no record or block above <see cref="MaxRecordLength"/> is read, whatever its header claims.
/// </summary>
public sealed class PcapReader : IDisposable
{
    /// <summary>Largest captured packet or pcapng block accepted; protects against absurd lengths in a bad file.</summary>
    public const int MaxRecordLength = 16 * 1024 * 1024;

    private const uint PcapMagicMicro = 0xA1B2C3D4;
    private const uint PcapMagicNano = 0xA1B23C4D;
    private const uint BlockShb = 0x0A0D0D0A;
    private const uint BlockIdb = 0x00000001;
    private const uint BlockPb = 0x00000002;
    private const uint BlockSpb = 0x00000003;
    private const uint BlockEpb = 0x00000006;
    private const uint ByteOrderMagic = 0x1A2B3C4D;
    private const ushort OptionEnd = 0;
    private const ushort OptionTsResol = 9;
    private const ushort OptionTsOffset = 14;

    private readonly Stream _stream;
    private readonly string? _name;
    private int _records;
    private readonly bool _leaveOpen;
    private readonly List<Interface> _interfaces = [];
    private byte[] _buffer = new byte[2048];
    private long _position;
    private bool _bigEndian;

    // classic pcap only
    private readonly bool _nano;
    private int _pcapLinkType;
    private uint _snapLength;

    /// <param name="name">What errors and the warning call the capture (its path); null leaves them unprefixed.</param>
    public PcapReader(Stream stream, bool leaveOpen = false, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _name = name;
        Span<byte> magic = stackalloc byte[4];
        if (!Fill(magic))
            throw Bad("the file is empty or shorter than a capture file header", 0);
        uint le = BinaryPrimitives.ReadUInt32LittleEndian(magic);
        uint be = BinaryPrimitives.ReadUInt32BigEndian(magic);
        if (le == BlockShb)
        {
            Format = CaptureFormat.PcapNg;
            ReadSectionHeader(0, []);
        }
        else if (le is PcapMagicMicro or PcapMagicNano || be is PcapMagicMicro or PcapMagicNano)
        {
            Format = CaptureFormat.Pcap;
            _bigEndian = be is PcapMagicMicro or PcapMagicNano;
            _nano = (_bigEndian ? be : le) == PcapMagicNano;
            ReadPcapHeader();
        }
        else
        {
            throw Bad($"unknown magic number 0x{be:X8}: neither pcap nor pcapng", 0);
        }
    }

    public CaptureFormat Format { get; }

    /// <summary>
    /// Set when the file ended inside a record: the records before it were read, that one was not (as tcpdump and
    /// tshark do with a capture cut short by a full disk or a killed writer). Null for a complete file.
    /// </summary>
    public string? Warning { get; private set; }

    /// <summary>Link type of a classic pcap, or of the first pcapng interface seen so far (-1 before any).</summary>
    public int LinkType => Format == CaptureFormat.Pcap ? _pcapLinkType : _interfaces.Count > 0 ? _interfaces[0].LinkType : -1;

    /// <summary>True when multi-byte fields of the current section are big-endian.</summary>
    public bool IsBigEndian => _bigEndian;

    /// <summary>True for a classic pcap with nanosecond timestamps.</summary>
    public bool IsNanosecond => _nano;

    public static PcapReader Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        try
        {
            return new PcapReader(stream, leaveOpen: false, name: path);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Reads the next packet; false at the end of the file, or where it was cut off (see <see cref="Warning"/>).</summary>
    public bool TryRead(out PcapPacket packet)
    {
        packet = default;
        if (Warning is not null)
            return false;
        try
        {
            bool got = Format == CaptureFormat.Pcap ? TryReadPcapRecord(out packet) : TryReadPcapNgPacket(out packet);
            if (got)
                _records++;
            return got;
        }
        catch (CutOffException e)
        {
            Warning = $"{Prefix}cut off in its last record: {e.Message} (at byte offset {e.Offset}); the {_records} complete record(s) before it were read";
            packet = default;
            return false;
        }
    }

    private string Prefix => _name is null ? "" : $"{_name}: ";

    private PcapFormatException Bad(string problem, long offset) => new($"{Prefix}{problem}", offset);

    /// <summary>The file ended inside a record; thrown only past the file header, where the records before are whole.</summary>
    private sealed class CutOffException(string problem, long offset) : Exception(problem)
    {
        public long Offset { get; } = offset;
    }

    /// <summary>Reads every remaining packet into owned copies (for tests and small files).</summary>
    public List<PcapPacket> ReadAll()
    {
        var list = new List<PcapPacket>();
        while (TryRead(out var p))
            list.Add(p.ToOwned());
        return list;
    }

    public static List<PcapPacket> ReadAll(string path)
    {
        using var reader = Open(path);
        return reader.ReadAll();
    }

    public void Dispose()
    {
        if (!_leaveOpen)
            _stream.Dispose();
    }

    private void ReadPcapHeader()
    {
        Span<byte> h = stackalloc byte[20];
        if (!Fill(h))
            throw Bad("truncated pcap file header (needs 24 bytes)", 0);
        ushort major = U16(h);
        ushort minor = U16(h[2..]);
        if (major != 2)
            throw Bad($"unsupported pcap version {major}.{minor} (expected 2.x)", 4);
        _snapLength = U32(h[12..]);
        // The upper bits of the link-type word carry FCS information; the link type is the low 16 bits.
        _pcapLinkType = (int)(U32(h[16..]) & 0xFFFF);
    }

    private bool TryReadPcapRecord(out PcapPacket packet)
    {
        packet = default;
        long at = _position;
        Span<byte> h = stackalloc byte[16];
        int got = FillSome(h);
        if (got == 0)
            return false;
        if (got < h.Length)
            throw new CutOffException($"truncated pcap record header: {got} of 16 bytes", at);
        uint seconds = U32(h);
        uint fraction = U32(h[4..]);
        uint captured = U32(h[8..]);
        uint original = U32(h[12..]);
        uint fractionLimit = _nano ? 1_000_000_000u : 1_000_000u;
        if (fraction >= fractionLimit)
            throw Bad($"pcap record timestamp fraction {fraction} is not below {fractionLimit}", at);
        uint limit = Math.Max(_snapLength, 262_144u);
        if (captured > limit || captured > MaxRecordLength)
            throw Bad($"pcap record claims {captured} captured bytes, more than the snap length {_snapLength} allows", at);
        if (original > int.MaxValue)
            throw Bad($"pcap record original length {original} is out of range", at);
        Span<byte> data = Buffer((int)captured);
        int dataGot = FillSome(data);
        if (dataGot < data.Length)
            throw new CutOffException($"truncated pcap record: header says {captured} bytes, file has {dataGot}", at);
        long ns = (seconds * 1_000_000_000L) + (_nano ? fraction : fraction * 1000L);
        packet = new PcapPacket(ns, 0, _pcapLinkType, (int)original, _buffer.AsMemory(0, (int)captured));
        return true;
    }

    /// <summary>
    /// Reads the rest of an SHB that starts at <paramref name="at"/>; its type has been read, and its length too
    /// when <paramref name="lengthBytes"/> is not empty.
    /// </summary>
    private void ReadSectionHeader(long at, ReadOnlySpan<byte> lengthBytes)
    {
        // The byte order of the length is only known once the byte-order magic after it has been read.
        Span<byte> head = stackalloc byte[8];
        lengthBytes.CopyTo(head);
        if (!Fill(head[lengthBytes.Length..]))
            throw at > 0 ? new CutOffException("truncated pcapng section header block", at) : Bad("truncated pcapng section header block", at);
        uint bom = BinaryPrimitives.ReadUInt32LittleEndian(head[4..]);
        if (bom == ByteOrderMagic)
            _bigEndian = false;
        else if (BinaryPrimitives.ReverseEndianness(bom) == ByteOrderMagic)
            _bigEndian = true;
        else
            throw Bad($"pcapng section header has a bad byte-order magic 0x{bom:X8}", at + 8);
        uint total = U32(head);
        Span<byte> body = ReadBlockRest(at, total, 12, head[4..]);
        if (body.Length < 16)
            throw Bad($"pcapng section header block total length {total} is shorter than its 28 fixed bytes", at);
        ushort major = U16(body[4..]);
        ushort minor = U16(body[6..]);
        if (major != 1)
            throw Bad($"unsupported pcapng version {major}.{minor} (expected 1.x)", at);
        // A new section starts new interface numbering.
        _interfaces.Clear();
    }

    private bool TryReadPcapNgPacket(out PcapPacket packet)
    {
        packet = default;
        Span<byte> head = stackalloc byte[8];
        while (true)
        {
            long at = _position;
            int got = FillSome(head);
            if (got == 0)
                return false;
            if (got < head.Length)
                throw new CutOffException($"truncated pcapng block header: {got} of 8 bytes", at);
            uint rawType = BinaryPrimitives.ReadUInt32LittleEndian(head);
            if (rawType == BlockShb)
            {
                ReadSectionHeader(at, head[4..]);
                continue;
            }
            uint type = U32(head);
            uint total = U32(head[4..]);
            switch (type)
            {
                case BlockIdb:
                    ReadInterface(at, ReadBlockRest(at, total, 8, []));
                    continue;
                case BlockEpb:
                    packet = EnhancedPacket(at, ReadBlockRest(at, total, 8, []));
                    return true;
                case BlockSpb:
                    packet = SimplePacket(at, ReadBlockRest(at, total, 8, []));
                    return true;
                case BlockPb:
                    packet = ObsoletePacket(at, ReadBlockRest(at, total, 8, []));
                    return true;
                default:
                    ReadBlockRest(at, total, 8, []);
                    continue;
            }
        }
    }

    /// <summary>
    /// Validates a block's total length, reads its body and trailing length, and returns the body (the bytes
    /// between the 8-byte block header and the trailing length), always at the start of the buffer.
    /// <paramref name="already"/> bytes of the block have been read; <paramref name="bodyStart"/> are those
    /// past the 8-byte header.
    /// </summary>
    private Span<byte> ReadBlockRest(long at, uint total, int already, ReadOnlySpan<byte> bodyStart)
    {
        if (total < 12 || total % 4 != 0)
            throw Bad($"pcapng block total length {total} is not a multiple of 4 of at least 12", at);
        if (total > MaxRecordLength)
            throw Bad($"pcapng block total length {total} exceeds {MaxRecordLength}", at);
        int bodyLength = (int)total - 12;
        if (bodyLength < bodyStart.Length)
            throw Bad($"pcapng block total length {total} is too short for its fixed fields", at);
        // Room for the whole block so the body can be shifted up by bodyStart without reallocating.
        Span<byte> rest = Buffer((int)total)[..((int)total - already)];
        int got = FillSome(rest);
        // The first section header is the file's own header: a file cut there has no records to keep.
        if (got < rest.Length && at > 0)
            throw new CutOffException($"truncated pcapng block: total length {total}, file has {already + got} bytes of it", at);
        if (got < rest.Length)
            throw Bad($"truncated pcapng block: total length {total}, file has {already + got} bytes of it", at);
        uint trailer = U32(rest[^4..]);
        if (trailer != total)
            throw Bad($"pcapng block trailing length {trailer} differs from its leading length {total}", at);
        // Put any body bytes read ahead (the SHB's byte-order magic) in front so the body is contiguous;
        // CopyTo is a memmove, so shifting within the buffer is safe.
        if (bodyStart.Length > 0)
        {
            _buffer.AsSpan(0, rest.Length - 4).CopyTo(_buffer.AsSpan(bodyStart.Length));
            bodyStart.CopyTo(_buffer);
        }
        return _buffer.AsSpan(0, bodyLength);
    }

    private void ReadInterface(long at, ReadOnlySpan<byte> body)
    {
        if (body.Length < 8)
            throw Bad("pcapng interface description block is shorter than its 8 fixed bytes", at);
        var iface = new Interface { LinkType = U16(body), SnapLength = U32(body[4..]) };
        ReadOnlySpan<byte> options = body[8..];
        long optionAt = at + 16;
        while (options.Length > 0)
        {
            if (options.Length < 4)
                throw Bad("pcapng option header runs past the end of its block", optionAt);
            ushort code = U16(options);
            ushort len = U16(options[2..]);
            if (code == OptionEnd)
                break;
            int padded = (len + 3) & ~3;
            if (4 + padded > options.Length)
                throw Bad($"pcapng option {code} of {len} bytes runs past the end of its block", optionAt);
            ReadOnlySpan<byte> value = options.Slice(4, len);
            if (code == OptionTsResol)
            {
                if (len != 1)
                    throw Bad($"if_tsresol option has length {len}, expected 1", optionAt);
                iface.Resolution = value[0];
                int exponent = value[0] & 0x7F;
                if ((value[0] & 0x80) == 0 ? exponent > 18 : exponent > 63)
                    throw Bad($"if_tsresol 0x{value[0]:X2} is out of range", optionAt);
            }
            else if (code == OptionTsOffset)
            {
                if (len != 8)
                    throw Bad($"if_tsoffset option has length {len}, expected 8", optionAt);
                iface.OffsetSeconds = _bigEndian ? BinaryPrimitives.ReadInt64BigEndian(value) : BinaryPrimitives.ReadInt64LittleEndian(value);
            }
            options = options[(4 + padded)..];
            optionAt += 4 + padded;
        }
        _interfaces.Add(iface);
    }

    private PcapPacket EnhancedPacket(long at, Span<byte> body)
    {
        if (body.Length < 20)
            throw Bad("pcapng enhanced packet block is shorter than its 20 fixed bytes", at);
        Interface iface = InterfaceAt(at, U32(body));
        ulong ticks = ((ulong)U32(body[4..]) << 32) | U32(body[8..]);
        uint captured = U32(body[12..]);
        uint original = U32(body[16..]);
        if (captured > body.Length - 20)
            throw Bad($"pcapng enhanced packet claims {captured} captured bytes, its block holds {body.Length - 20}", at);
        if (original > int.MaxValue)
            throw Bad($"pcapng enhanced packet original length {original} is out of range", at);
        int interfaceId = (int)U32(body);
        return new PcapPacket(Nanoseconds(at, iface, ticks), interfaceId, iface.LinkType, (int)original, Memory(20, (int)captured));
    }

    private PcapPacket SimplePacket(long at, Span<byte> body)
    {
        if (body.Length < 4)
            throw Bad("pcapng simple packet block is shorter than its 4 fixed bytes", at);
        Interface iface = InterfaceAt(at, 0);
        uint original = U32(body);
        uint captured = iface.SnapLength == 0 ? original : Math.Min(original, iface.SnapLength);
        if (captured > body.Length - 4)
            throw Bad($"pcapng simple packet needs {captured} bytes of data, its block holds {body.Length - 4}", at);
        if (original > int.MaxValue)
            throw Bad($"pcapng simple packet original length {original} is out of range", at);
        // Simple packets carry no timestamp.
        return new PcapPacket(0, 0, iface.LinkType, (int)original, Memory(4, (int)captured));
    }

    private PcapPacket ObsoletePacket(long at, Span<byte> body)
    {
        if (body.Length < 20)
            throw Bad("pcapng packet block is shorter than its 20 fixed bytes", at);
        int interfaceId = U16(body);
        Interface iface = InterfaceAt(at, (uint)interfaceId);
        ulong ticks = ((ulong)U32(body[4..]) << 32) | U32(body[8..]);
        uint captured = U32(body[12..]);
        uint original = U32(body[16..]);
        if (captured > body.Length - 20)
            throw Bad($"pcapng packet block claims {captured} captured bytes, its block holds {body.Length - 20}", at);
        if (original > int.MaxValue)
            throw Bad($"pcapng packet block original length {original} is out of range", at);
        return new PcapPacket(Nanoseconds(at, iface, ticks), interfaceId, iface.LinkType, (int)original, Memory(20, (int)captured));
    }

    private Interface InterfaceAt(long at, uint id)
    {
        if (id >= _interfaces.Count)
            throw Bad($"packet refers to interface {id}, but the section describes {_interfaces.Count}", at);
        return _interfaces[(int)id];
    }

    private long Nanoseconds(long at, Interface iface, ulong ticks)
    {
        int exponent = iface.Resolution & 0x7F;
        Int128 ns;
        if ((iface.Resolution & 0x80) == 0)
        {
            ns = exponent <= 9
                ? (Int128)ticks * (long)Math.Pow(10, 9 - exponent)
                : (Int128)ticks / (long)Math.Pow(10, exponent - 9);
        }
        else
        {
            ns = ((Int128)ticks * 1_000_000_000) >> exponent;
        }
        ns += (Int128)iface.OffsetSeconds * 1_000_000_000;
        if (ns > long.MaxValue || ns < long.MinValue)
            throw Bad($"packet timestamp {ticks} at resolution 0x{iface.Resolution:X2} does not fit in 64-bit nanoseconds", at);
        return (long)ns;
    }

    /// <summary>Packet bytes of a block body (which <see cref="ReadBlockRest"/> leaves at the buffer's start).</summary>
    private ReadOnlyMemory<byte> Memory(int start, int length) => _buffer.AsMemory(start, length);

    private Span<byte> Buffer(int length)
    {
        if (_buffer.Length < length)
            _buffer = new byte[Math.Max(length, _buffer.Length * 2)];
        return _buffer.AsSpan(0, length);
    }

    private ushort U16(ReadOnlySpan<byte> b) => _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);

    private uint U32(ReadOnlySpan<byte> b) => _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);

    private bool Fill(Span<byte> buffer) => FillSome(buffer) == buffer.Length;

    /// <summary>Reads until the span is full or the stream ends; returns the bytes read.</summary>
    private int FillSome(Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = _stream.Read(buffer[total..]);
            if (n == 0)
                break;
            total += n;
        }
        _position += total;
        return total;
    }

    private sealed class Interface
    {
        public int LinkType { get; init; }

        public uint SnapLength { get; init; }

        /// <summary>if_tsresol: bit 7 clear = 10^-n seconds, set = 2^-n; default microseconds.</summary>
        public byte Resolution { get; set; } = 6;

        public long OffsetSeconds { get; set; }
    }
}
