using System.Buffers.Binary;
using System.Text;

namespace Offload.Device.Flash;

/// <summary>An image file or a flash slot that is not a usable image; the message names the problem.</summary>
public sealed class ImageException : Exception
{
    public ImageException()
    {
    }

    public ImageException(string message)
        : base(message)
    {
    }

    public ImageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// An Offload image: a 64-byte header and the bitstream (docs/dataplane.md, "Images and the flash layout"). All header
/// fields are big-endian:
/// 0 magic "OFIM"; 4 format version (1); 6 header length (64); 8 board name, 16 bytes of ASCII padded with NULs;
/// 24 payload length; 28 CRC-32 of the payload; 32 build info, 24 bytes of ASCII padded with NULs; 56 zero;
/// 60 CRC-32 of bytes 0..59.
/// </summary>
public sealed record FlashImage(string Board, string BuildInfo, byte[] Payload)
{
    public const int HeaderLength = 64;
    public const uint Magic = 0x4F46494D; // "OFIM"
    public const ushort FormatVersion = 1;
    public const int BoardLength = 16;
    public const int BuildLength = 24;

    /// <summary>The file larger than this is refused before it is read whole (the largest slot of any layout).</summary>
    public const int MaxFileLength = 16 << 20;

    /// <summary>The header and payload as they go to flash.</summary>
    public byte[] ToBytes()
    {
        var b = new byte[HeaderLength + Payload.Length];
        WriteHeader(b);
        Payload.CopyTo(b, HeaderLength);
        return b;
    }

    private void WriteHeader(Span<byte> h)
    {
        if (Encoding.ASCII.GetByteCount(Board) > BoardLength || Encoding.ASCII.GetByteCount(BuildInfo) > BuildLength)
            throw new ArgumentException($"board name is at most {BoardLength} and build info {BuildLength} ASCII bytes");
        h[..HeaderLength].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(h, Magic);
        BinaryPrimitives.WriteUInt16BigEndian(h[4..], FormatVersion);
        BinaryPrimitives.WriteUInt16BigEndian(h[6..], HeaderLength);
        Encoding.ASCII.GetBytes(Board, h.Slice(8, BoardLength));
        BinaryPrimitives.WriteUInt32BigEndian(h[24..], (uint)Payload.Length);
        BinaryPrimitives.WriteUInt32BigEndian(h[28..], Crc32.Compute(Payload));
        Encoding.ASCII.GetBytes(BuildInfo, h.Slice(32, BuildLength));
        BinaryPrimitives.WriteUInt32BigEndian(h[60..], Crc32.Compute(h[..60]));
    }

    /// <summary>Parses and checks the header alone: magic, version, length, header CRC.</summary>
    /// <returns>Board, build info, payload length and payload CRC.</returns>
    /// <exception cref="ImageException">Not an image header this tool writes.</exception>
    public static (string Board, string BuildInfo, int PayloadLength, uint PayloadCrc) ParseHeader(ReadOnlySpan<byte> h, string what)
    {
        if (h.Length < HeaderLength)
            throw new ImageException($"{what}: {h.Length} bytes, shorter than the {HeaderLength}-byte image header");
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(h);
        if (magic != Magic)
            throw new ImageException($"{what}: not an Offload image (magic 0x{magic:X8}, expected 0x{Magic:X8} \"OFIM\")");
        ushort version = BinaryPrimitives.ReadUInt16BigEndian(h[4..]);
        if (version != FormatVersion)
            throw new ImageException($"{what}: image format version {version}; this tool reads version {FormatVersion}");
        if (BinaryPrimitives.ReadUInt16BigEndian(h[6..]) != HeaderLength)
            throw new ImageException($"{what}: header length {BinaryPrimitives.ReadUInt16BigEndian(h[6..])}, expected {HeaderLength}");
        uint crc = BinaryPrimitives.ReadUInt32BigEndian(h[60..]);
        if (crc != Crc32.Compute(h[..60]))
            throw new ImageException($"{what}: the header's CRC-32 does not match (corrupt header)");
        string board = Ascii(h.Slice(8, BoardLength));
        string build = Ascii(h.Slice(32, BuildLength));
        uint length = BinaryPrimitives.ReadUInt32BigEndian(h[24..]);
        if (length == 0 || length > MaxFileLength)
            throw new ImageException($"{what}: payload length {length} is out of range");
        return (board, build, (int)length, BinaryPrimitives.ReadUInt32BigEndian(h[28..]));
    }

    /// <summary>Parses and checks a whole image: header, exact length, payload CRC.</summary>
    /// <exception cref="ImageException">What is wrong, naming <paramref name="what"/>.</exception>
    public static FlashImage Parse(ReadOnlySpan<byte> bytes, string what)
    {
        var (board, build, length, crc) = ParseHeader(bytes, what);
        if (bytes.Length - HeaderLength != length)
            throw new ImageException($"{what}: the header says {length} payload bytes, the file holds {bytes.Length - HeaderLength}");
        var payload = bytes[HeaderLength..];
        if (Crc32.Compute(payload) != crc)
            throw new ImageException($"{what}: the payload's CRC-32 does not match the header (corrupt or truncated image)");
        return new FlashImage(board, build, payload.ToArray());
    }

    /// <summary>Reads an image file with a bounded read; anything wrong is an <see cref="ImageException"/> naming the file.</summary>
    public static FlashImage Load(string path)
    {
        byte[] bytes;
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (f.Length > MaxFileLength)
                throw new ImageException($"{path}: {f.Length} bytes, larger than any slot ({MaxFileLength} bytes at most)");
            bytes = new byte[f.Length];
            f.ReadExactly(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageException($"{path}: {e.Message}", e);
        }
        return Parse(bytes, path);
    }

    private static string Ascii(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        var s = end < 0 ? field : field[..end];
        foreach (byte b in s)
        {
            if (b is < 0x20 or > 0x7E)
                return "?";
        }
        return Encoding.ASCII.GetString(s);
    }
}

/// <summary>CRC-32 (IEEE 802.3, reflected, as zlib and PNG compute it).</summary>
public static class Crc32
{
    private static readonly uint[] Table = CreateTable();

    public static uint Compute(ReadOnlySpan<byte> data) => Update(0, data);

    /// <summary>Continues a CRC over more data (pass 0 to start).</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        foreach (byte b in data)
            c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return ~c;
    }

    private static uint[] CreateTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }
}
