using System.Buffers.Binary;

namespace Offload.Protocol;

/// <summary>
/// The Internet checksum (RFC 1071) and its incremental update (RFC 1624). Sums are kept as 32-bit
/// accumulators so callers can add pieces (pseudo header, header, payload) before folding once.
/// </summary>
public static class InternetChecksum
{
    /// <summary>Adds the bytes as big-endian 16-bit words to <paramref name="sum"/>; an odd last byte is padded with zero.</summary>
    public static uint Add(uint sum, ReadOnlySpan<byte> data)
    {
        // 64-bit accumulator so a jumbo frame cannot overflow before the fold.
        ulong acc = sum;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
            acc += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length)
            acc += (uint)data[i] << 8;
        while (acc > 0xFFFF_FFFF)
            acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
        return (uint)acc;
    }

    /// <summary>Adds one 16-bit word.</summary>
    public static uint Add(uint sum, ushort word)
    {
        ulong acc = (ulong)sum + word;
        return (uint)((acc & 0xFFFF_FFFF) + (acc >> 32));
    }

    /// <summary>Folds the carries into 16 bits until none remain (ones' complement sum).</summary>
    public static ushort Fold(uint sum)
    {
        while (sum > 0xFFFF)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>The checksum field value for the data (the checksum field itself must be zero in it).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, uint initial = 0) => (ushort)~Fold(Add(initial, data));

    /// <summary>True when the data, checksum field included, sums to 0xFFFF.</summary>
    public static bool IsValid(ReadOnlySpan<byte> data) => Fold(Add(0, data)) == 0xFFFF;

    /// <summary>The TCP/UDP pseudo header sum: addresses, protocol and the L4 length.</summary>
    public static uint PseudoHeader(uint sourceIp, uint destinationIp, byte protocol, int l4Length)
    {
        uint sum = 0;
        sum = Add(sum, (ushort)(sourceIp >> 16));
        sum = Add(sum, (ushort)sourceIp);
        sum = Add(sum, (ushort)(destinationIp >> 16));
        sum = Add(sum, (ushort)destinationIp);
        sum = Add(sum, protocol);
        return Add(sum, (ushort)l4Length);
    }

    /// <summary>
    /// RFC 1624 eqn. 3 for one changed word: HC' = ~(~HC + ~m + m'). Chain calls for several words, or use
    /// <see cref="UpdateAccumulator"/> to sum them all before one fold as the data plane does.
    /// </summary>
    public static ushort Update(ushort checksum, ushort oldWord, ushort newWord)
    {
        uint s = (ushort)~checksum;
        s += (ushort)~oldWord;
        s += newWord;
        return (ushort)~Fold(s);
    }

    /// <summary>Adds ~old + new for one changed word to an accumulator that started at ~HC.</summary>
    public static uint UpdateAccumulator(uint sum, ushort oldWord, ushort newWord) => Add(Add(sum, (ushort)~oldWord), newWord);
}
