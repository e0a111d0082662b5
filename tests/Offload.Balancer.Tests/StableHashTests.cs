using System.Numerics;
using Offload.Balancer.Hashing;
using Offload.Device;

namespace Offload.Balancer.Tests;

public class StableHashTests
{
    private static readonly FlowKey Key = new(0, 0x0A00_0001, 0xC0A8_0064, 6, 40000, 80);

    // Gateways (and versions) must agree on these: a change here is a wire-compatibility break, not a refactor.
    [Test]
    public void Golden_values_are_pinned()
    {
        Assert.Multiple(() =>
        {
            Assert.That(StableHash.Mix(1), Is.EqualTo(0xB456_BCFC_34C2_CB2CUL));
            Assert.That(StableHash.OfFlow(Key, StableHash.DefaultFlowSeed), Is.EqualTo(GoldenFlow));
            Assert.That(StableHash.OfSource(0x0A00_0001, StableHash.DefaultFlowSeed), Is.EqualTo(GoldenSource));
            Assert.That(StableHash.OfString("10.1.0.1:80", StableHash.OffsetSeed), Is.EqualTo(GoldenOffset));
            Assert.That(StableHash.OfString("10.1.0.1:80", StableHash.SkipSeed), Is.EqualTo(GoldenSkip));
        });
    }

    internal const ulong GoldenFlow = 0x5132_95ED_02BC_29FE;
    internal const ulong GoldenSource = 0xA16E_7AF9_980A_1F3A;
    internal const ulong GoldenOffset = 0xE6EF_5D2E_9306_AB3E;
    internal const ulong GoldenSkip = 0xE46E_EF73_6FEE_1945;

    [Test]
    public void Ingress_port_does_not_change_the_flow_hash()
    {
        Assert.That(StableHash.OfFlow(Key with { InPort = 1 }, 7), Is.EqualTo(StableHash.OfFlow(Key, 7)));
    }

    [Test]
    public void Seed_changes_every_hash()
    {
        Assert.Multiple(() =>
        {
            Assert.That(StableHash.OfFlow(Key, 1), Is.Not.EqualTo(StableHash.OfFlow(Key, 2)));
            Assert.That(StableHash.OfSource(5, 1), Is.Not.EqualTo(StableHash.OfSource(5, 2)));
            Assert.That(StableHash.OfString("a", 1), Is.Not.EqualTo(StableHash.OfString("a", 2)));
        });
    }

    [Test]
    public void Every_field_of_the_five_tuple_matters()
    {
        ulong h = StableHash.OfFlow(Key, 0);
        Assert.Multiple(() =>
        {
            Assert.That(StableHash.OfFlow(Key with { SrcIp = Key.SrcIp + 1 }, 0), Is.Not.EqualTo(h));
            Assert.That(StableHash.OfFlow(Key with { DstIp = Key.DstIp + 1 }, 0), Is.Not.EqualTo(h));
            Assert.That(StableHash.OfFlow(Key with { Protocol = 17 }, 0), Is.Not.EqualTo(h));
            Assert.That(StableHash.OfFlow(Key with { SrcPort = 40001 }, 0), Is.Not.EqualTo(h));
            Assert.That(StableHash.OfFlow(Key with { DstPort = 81 }, 0), Is.Not.EqualTo(h));
        });
    }

    [Test]
    public void String_hash_separates_lengths_and_order()
    {
        Assert.Multiple(() =>
        {
            Assert.That(StableHash.OfString("ab", 0), Is.Not.EqualTo(StableHash.OfString("ba", 0)));
            Assert.That(StableHash.OfString("a", 0), Is.Not.EqualTo(StableHash.OfString("a\0", 0)));
            Assert.That(StableHash.OfString("", 0), Is.Not.EqualTo(StableHash.OfString("\0", 0)));
        });
    }

    // Avalanche: flipping one input bit flips each output bit with probability ~1/2, so neighbouring clients
    // (sequential addresses and ports) land on unrelated table slots.
    [Test]
    public void Flipping_any_input_bit_flips_about_half_the_output_bits()
    {
        var rng = new Random(3);
        for (int bit = 0; bit < 104; bit++)
        {
            long flipped = 0;
            const int Trials = 400;
            for (int t = 0; t < Trials; t++)
            {
                var k = new FlowKey(0, (uint)rng.NextInt64(), (uint)rng.NextInt64(), (byte)rng.Next(256), (ushort)rng.Next(65536), (ushort)rng.Next(65536));
                FlowKey f = Flip(k, bit);
                flipped += BitOperations.PopCount(StableHash.OfFlow(k, 9) ^ StableHash.OfFlow(f, 9));
            }
            double mean = flipped / (double)(Trials * 64);
            Assert.That(mean, Is.InRange(0.45, 0.55), $"input bit {bit}");
        }
    }

    [Test]
    public void Flow_hash_mod_m_spreads_sequential_ports_evenly()
    {
        const int M = 1009;
        int[] buckets = new int[M];
        for (int i = 0; i < M * 100; i++)
            buckets[StableHash.OfFlow(new FlowKey(0, 0x0A00_0001, 0xC0A8_0064, 6, (ushort)(i & 0xFFFF), (ushort)(i >> 16)), 0) % M]++;
        double chi2 = buckets.Sum(b => (b - 100.0) * (b - 100.0) / 100.0);
        // M - 1 = 1008 degrees of freedom: mean 1008, sd ~45; 1250 is > 5 sd out.
        Assert.That(chi2, Is.LessThan(1250));
    }

    private static FlowKey Flip(FlowKey k, int bit) => bit switch
    {
        < 32 => k with { SrcIp = k.SrcIp ^ (1u << bit) },
        < 64 => k with { DstIp = k.DstIp ^ (1u << (bit - 32)) },
        < 72 => k with { Protocol = (byte)(k.Protocol ^ (1 << (bit - 64))) },
        < 88 => k with { SrcPort = (ushort)(k.SrcPort ^ (1 << (bit - 72))) },
        _ => k with { DstPort = (ushort)(k.DstPort ^ (1 << (bit - 88))) },
    };
}
