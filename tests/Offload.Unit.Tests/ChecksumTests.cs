using System.Buffers.Binary;
using Offload.Protocol;

namespace Offload.Unit.Tests;

public class ChecksumTests
{
    // RFC 1071 section 3 example: the words 0001 f203 f4f5 f6f7 sum (ones' complement) to ddf2.
    [Test]
    public void Rfc1071_example_sums_to_ddf2()
    {
        byte[] data = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7];
        Assert.That(InternetChecksum.Fold(InternetChecksum.Add(0, data)), Is.EqualTo(0xDDF2));
        Assert.That(InternetChecksum.Compute(data), Is.EqualTo(0x220D));
    }

    // RFC 1624 section 4: m = 0x5555 becomes 0x3285 with the rest summing to 0xCD7A; eqn. 3 gives 0x0000
    // (eqn. 2 would give the wrong 0xFFFF).
    [Test]
    public void Rfc1624_worked_example_gives_zero_not_ffff()
    {
        ushort hc = (ushort)~InternetChecksum.Fold(0xCD7A + 0x5555);
        Assert.That(hc, Is.EqualTo(0xDD2F));
        Assert.That(InternetChecksum.Update(hc, 0x5555, 0x3285), Is.EqualTo(0x0000));
    }

    // A textbook header (4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7): TTL 0x40 -> 0x3f changes the
    // word 0x4011 to 0x3f11; ~(~b861 + ~4011 + 3f11) = ~(479e + bfee + 3f11) = ~469e = b961.
    [Test]
    public void Ttl_decrement_by_rfc1624_matches_hand_computation()
    {
        byte[] header = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");
        Assert.That(InternetChecksum.Compute(header), Is.EqualTo(0xB861));
        Assert.That(InternetChecksum.Update(0xB861, 0x4011, 0x3F11), Is.EqualTo(0xB961));
        header[8] = 0x3F;
        Assert.That(InternetChecksum.Compute(header), Is.EqualTo(0xB961));
    }

    [Test]
    public void Odd_length_pads_last_byte_with_zero()
    {
        Assert.That(InternetChecksum.Fold(InternetChecksum.Add(0, [0x12, 0x34, 0x56])), Is.EqualTo(0x1234 + 0x5600));
    }

    [Test]
    public void Incremental_update_agrees_with_recomputation_on_random_headers()
    {
        var rng = new Random(1624);
        byte[] header = new byte[20];
        for (int n = 0; n < 20000; n++)
        {
            rng.NextBytes(header);
            header[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), 0);
            ushort hc = InternetChecksum.Compute(header);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), hc);
            int word = 2 * rng.Next(0, 10);
            if (word == 10)
                continue;
            ushort old = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(word));
            ushort now = (ushort)rng.Next(0, 0x10000);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(word), now);
            ushort updated = InternetChecksum.Update(hc, old, now);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), updated);
            Assert.That(InternetChecksum.IsValid(header), Is.True, $"iteration {n}: {Convert.ToHexString(header)}");
        }
    }

    [Test]
    public void Pseudo_header_sum_covers_addresses_protocol_and_length()
    {
        uint sum = InternetChecksum.PseudoHeader(0x0A000001, 0x0A000002, IpProtocol.Udp, 12);
        Assert.That(InternetChecksum.Fold(sum), Is.EqualTo(0x0A00 + 0x0001 + 0x0A00 + 0x0002 + 17 + 12));
    }
}
