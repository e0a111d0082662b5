using System.Numerics;
using Offload.Device;

namespace Offload.Device.Tests;

public class FlowHashTests
{
    // Hand-checked with an independent GF(2) long division (see Remainder below), and for CRC-A against the
    // published CRC-32/MPEG-2 check value, which is the same CRC over bytes.
    [TestCase(0, 0x0A000001u, 0x0A000002u, 6, 12345, 80, 0xD1520203u, 0xA68B53D7u)]
    [TestCase(1, 0xC0A80A14u, 0x08080808u, 17, 53, 40000, 0x09616378u, 0xA1D18F68u)]
    [TestCase(0, 0u, 0u, 0, 0, 0, 0x79FABFA9u, 0xAE6824C5u)]
    [TestCase(1, 0xFFFFFFFFu, 0xFFFFFFFFu, 255, 65535, 65535, 0xFCA034D7u, 0xC764AF94u)]
    public void Key_hashes_match_hand_checked_values(int inPort, uint src, uint dst, int proto, int sport, int dport, uint crcA, uint crcB)
    {
        var key = new FlowKey((byte)inPort, src, dst, (byte)proto, (ushort)sport, (ushort)dport);
        Assert.Multiple(() =>
        {
            Assert.That(FlowHash.CrcA(key), Is.EqualTo(crcA), "CRC-A");
            Assert.That(FlowHash.CrcB(key), Is.EqualTo(crcB), "CRC-B");
        });
    }

    [Test]
    public void Long_division_reference_gives_the_CRC_32_MPEG_2_check_value()
    {
        // "123456789" is the catalogue's check input; CRC-32/MPEG-2 = poly 04C11DB7, init FFFFFFFF, no reflection, no xorout.
        var msg = new BigInteger("123456789"u8, isUnsigned: true, isBigEndian: true);
        Assert.That(Remainder(msg, 72, FlowHash.PolyA), Is.EqualTo(0x0376E6E7u));
    }

    [Test]
    public void Mac_hash_is_CRC_A_over_the_six_bytes()
    {
        var mac = MacAddress.Parse("00:19:b9:fa:12:34");
        Assert.That(FlowHash.CrcA(mac), Is.EqualTo(0xE9D39FB1u));
        Assert.That(FlowHash.CrcA(mac), Is.EqualTo(Remainder(new BigInteger(mac.Value), 48, FlowHash.PolyA)));
    }

    [Test]
    public void Random_keys_agree_with_long_division()
    {
        var rng = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            var key = new FlowKey((byte)rng.Next(2), (uint)rng.NextInt64(1L << 32), (uint)rng.NextInt64(1L << 32),
                (byte)rng.Next(256), (ushort)rng.Next(65536), (ushort)rng.Next(65536));
            BigInteger bits = ((BigInteger)key.InPort << 104) | ((BigInteger)key.SrcIp << 72) | ((BigInteger)key.DstIp << 40)
                | ((BigInteger)key.Protocol << 32) | ((BigInteger)key.SrcPort << 16) | key.DstPort;
            Assert.That(FlowHash.CrcA(key), Is.EqualTo(Remainder(bits, 105, FlowHash.PolyA)), key.ToString);
            Assert.That(FlowHash.CrcB(key), Is.EqualTo(Remainder(bits, 105, FlowHash.PolyB)), key.ToString);
        }
    }

    // A CRC register preset to all ones equals the plain remainder of the message with its first 32 bits
    // inverted, times x^32, modulo the polynomial: a different computation from the shift register.
    private static uint Remainder(BigInteger message, int bits, uint poly)
    {
        BigInteger v = (message ^ (new BigInteger(0xFFFFFFFFu) << (bits - 32))) << 32;
        BigInteger p = new BigInteger(poly) | (BigInteger.One << 32);
        for (int i = bits + 31; i >= 32; i--)
        {
            if (!(v >> i).IsEven)
                v ^= p << (i - 32);
        }
        return (uint)v;
    }
}
