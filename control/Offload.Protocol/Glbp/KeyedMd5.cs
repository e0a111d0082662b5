using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Offload.Protocol.Glbp;

/// <summary>
/// "Keyed MD5" in the style of RFC 1828, the construction Cisco's first-hop redundancy protocols use for MD5
/// authentication (as modelled by John the Ripper's HSRP/VRRP/GLBP format): MD5(key ‖ fill ‖ data ‖ key), where
/// key ‖ fill is the key padded exactly as MD5 pads a message (0x80, zeros, the key's bit length as a 64-bit
/// little-endian number) to a multiple of 64 bytes. Not HMAC, and MD5 is broken; it exists for compatibility.
/// </summary>
public static class KeyedMd5
{
    public const int DigestLength = 16;

    // Larger inputs (long keys, big messages) rent from the pool instead of growing the stack.
    private const int StackLimit = 512;

    public static void Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> digest) =>
        Compute(key, data, default, default, digest);

    /// <summary>The data is the concatenation of three pieces, so callers need not copy them together first.</summary>
    public static void Compute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data1, ReadOnlySpan<byte> data2, ReadOnlySpan<byte> data3, Span<byte> digest)
    {
        if (digest.Length < DigestLength)
            throw new ArgumentException($"the digest needs {DigestLength} bytes", nameof(digest));
        int fill = FilledKeyLength(key.Length);
        int total = fill + data1.Length + data2.Length + data3.Length + key.Length;
        byte[]? rented = null;
        Span<byte> buffer = total <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(total));
        try
        {
            Span<byte> input = buffer[..total];
            key.CopyTo(input);
            input[key.Length..fill].Clear();
            input[key.Length] = 0x80;
            BinaryPrimitives.WriteUInt64LittleEndian(input[(fill - 8)..], (ulong)key.Length * 8);
            int at = fill;
            data1.CopyTo(input[at..]);
            at += data1.Length;
            data2.CopyTo(input[at..]);
            at += data2.Length;
            data3.CopyTo(input[at..]);
            at += data3.Length;
            key.CopyTo(input[at..]);
#pragma warning disable CA5351 // MD5 is what Cisco's GLBP authentication uses; interoperability needs it.
            MD5.HashData(input, digest);
#pragma warning restore CA5351
            // The buffer held the key: clear it before the stack frame or the pool reuses it.
            CryptographicOperations.ZeroMemory(input);
        }
        finally
        {
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Key, one 0x80 byte and the 8-byte length, rounded up to whole 64-byte MD5 blocks.</summary>
    public static int FilledKeyLength(int keyLength) => (keyLength + 1 + 8 + 63) / 64 * 64;
}
