using Offload.Protocol.Glbp;
using static Offload.Protocol.Tests.GlbpSamples;

namespace Offload.Protocol.Tests;

public class GlbpMalformedTests
{
    private static readonly byte[] HeaderOnly = Build(NoAuth, forwarders: 0, hello: false);

    private static byte[] With(byte[] tlvs) => [.. HeaderOnly, .. tlvs];

    private static byte[] HelloTlv(byte addressType, byte addressLength, int addressBytes) =>
        [1, (byte)(24 + addressBytes), 0, 0x20, 0, 100, 0, 0, 0, 0, 0x0b, 0xb8, 0, 0, 0x27, 0x10, 0, 0, 0, 0, 0, 0, addressType, addressLength, .. new byte[addressBytes]];

    /// <summary>The first <paramref name="length"/> bytes of a TLV, its length byte saying so.</summary>
    private static byte[] Cut(byte[] tlv, int length)
    {
        byte[] cut = tlv[..length];
        cut[1] = (byte)length;
        return cut;
    }

    /// <summary>One input per rejection reason, with the offset the reason must point at.</summary>
    public static IEnumerable<TestCaseData> Cases()
    {
        byte[] valid = Build(NoAuth);
        yield return Case(GlbpError.TooShort, 0, valid[..11]);
        yield return Case(GlbpError.TooLong, GlbpProtocol.MaxLength, [.. valid, .. new byte[GlbpProtocol.MaxLength]]);
        yield return Case(GlbpError.UnsupportedVersion, 0, [2, .. valid[1..]]);
        yield return Case(GlbpError.GroupOutOfRange, 2, [1, 0, 0x04, 0x00, .. valid[4..]]);
        yield return Case(GlbpError.TlvHeaderTruncated, 12, With([1]));
        yield return Case(GlbpError.TlvLengthTooSmall, 13, With([1, 0, 0, 0]));
        yield return Case(GlbpError.TlvLengthTooSmall, 13, With([7, 1, 0, 0]));
        yield return Case(GlbpError.EmptyTlv, 13, With([9, 2, 2, 20]));
        yield return Case(GlbpError.TlvPastEnd, 13, With([9, 10, 0, 0]));
        yield return Case(GlbpError.TlvPastEnd, 61, valid[..^1]);
        yield return Case(GlbpError.HelloTooShort, 13, With(Cut(HelloTlv(1, 4, 4), 23)));
        yield return Case(GlbpError.BadAddressLength, 35, With(HelloTlv(1, 16, 16)));
        yield return Case(GlbpError.BadAddressLength, 35, With(HelloTlv(2, 4, 4)));
        yield return Case(GlbpError.BadAddressLength, 35, With(Cut(HelloTlv(1, 4, 4), 26)));
        yield return Case(GlbpError.RequestResponseTooShort, 13, With([2, 19, .. new byte[17]]));
        yield return Case(GlbpError.AuthTooShort, 13, With([3, 3, 1]));
        yield return Case(GlbpError.AuthLengthPastTlv, 15, With([3, 6, 1, 3, (byte)'a', (byte)'b']));
        yield return Case(GlbpError.BadAuthLength, 15, With([3, 18, 2, 14, .. new byte[14]]));
        yield return Case(GlbpError.BadAuthLength, 15, With([3, 20, 3, 16, .. new byte[16]]));
        yield return Case(GlbpError.BadAuthLength, 15, With([3, 6, 0, 2, 0, 0]));
        yield return Case(GlbpError.DuplicateHello, 40, With([.. HelloTlv(1, 4, 4), .. HelloTlv(1, 4, 4)]));
        yield return Case(GlbpError.DuplicateAuth, 16, With([3, 4, 0, 0, 3, 4, 0, 0]));
        yield return Case(GlbpError.DuplicateAuth, 16, With([3, 4, 0, 0, 0xF1, 42, 1, 0, .. new byte[38]]));
        yield return Case(GlbpError.BadOffloadAuth, 13, With([0xF1, 41, 1, 0, .. new byte[37]]));
        yield return Case(GlbpError.BadOffloadAuth, 13, With([0xF1, 42, 2, 0, .. new byte[38]]));
        yield return Case(GlbpError.BadOffloadLoad, 13, With([0xF2, 11, 1, 0, .. new byte[7]]));
        yield return Case(GlbpError.BadOffloadLoad, 13, With([0xF2, 13, 1, 0, .. new byte[9]]));
        yield return Case(GlbpError.BadOffloadLoad, 14, With([0xF2, 12, 0, 0, .. new byte[8]]));
        yield return Case(GlbpError.BadOffloadOwner, 13, With([0xF3, 11, 1, 0, .. new byte[7]]));
        yield return Case(GlbpError.BadOffloadOwner, 14, With([0xF3, 10, 0, 0, .. new byte[6]]));
    }

    private static TestCaseData Case(GlbpError error, int offset, byte[] input) =>
        new TestCaseData(input, error, offset).SetArgDisplayNames($"{error}@{offset}/{input.Length}B");

    [TestCaseSource(nameof(Cases))]
    public void Malformed_input_is_rejected_with_its_reason(byte[] input, GlbpError error, int offset)
    {
        GlbpResult r = GlbpPacket.TryDecode(input, out GlbpPacket p);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(r.Error, Is.EqualTo(error), r.Message);
            Assert.That(r.Offset, Is.EqualTo(offset));
            Assert.That(r.Message, Does.Contain(GlbpResult.Describe(error)));
            Assert.That(p.Bytes.IsEmpty, Is.True, "no view of a rejected message");
        }
    }

    [Test]
    public void Every_rejection_reason_has_a_test_case()
    {
        var covered = Cases().Select(c => (GlbpError)c.Arguments[1]!).ToHashSet();
        var all = Enum.GetValues<GlbpError>().Where(e => e != GlbpError.None);
        Assert.That(all, Is.SubsetOf(covered));
        foreach (GlbpError e in all)
            Assert.That(GlbpResult.Describe(e), Is.Not.EqualTo("unknown error"));
    }

    [Test]
    public void Every_truncation_of_a_valid_message_is_rejected_or_decodes_without_throwing()
    {
        byte[] m = Build((ref GlbpWriter w) => w.WriteAuthMd5KeyChain(7), forwarders: 4);
        for (int n = 0; n <= m.Length; n++)
        {
            GlbpResult r = GlbpPacket.TryDecode(m.AsSpan(0, n), out _);
            bool boundary = n == 12 || n == 36 || n == 64 || (n > 64 && (n - 64) % 20 == 0);
            Assert.That(r.IsOk, Is.EqualTo(boundary), $"length {n}: {r.Message}");
        }
    }

    [Test]
    public void Random_bytes_never_throw_and_any_accepted_message_enumerates_cleanly()
    {
        var rng = new Random(3222);
        byte[] seed = Build((ref GlbpWriter w) => w.WriteAuthText("cisco"u8), forwarders: 3);
        int accepted = 0;
        for (int i = 0; i < 20_000; i++)
        {
            byte[] m = i % 2 == 0 ? new byte[rng.Next(0, 80)] : (byte[])seed.Clone();
            if (i % 2 == 0)
                rng.NextBytes(m);
            else
                for (int k = rng.Next(1, 4); k > 0; k--)
                    m[rng.Next(m.Length)] = (byte)rng.Next(256);
            if (m.Length > 0 && i % 4 == 0)
                m[0] = 1;
            if (!GlbpPacket.TryDecode(m, out GlbpPacket p).IsOk)
                continue;
            accepted++;
            int total = GlbpProtocol.HeaderLength;
            foreach (GlbpPacket.Tlv t in p.Tlvs)
                total += t.Raw.Length;
            foreach (GlbpForwarder f in p.Forwarders)
                _ = f.VirtualMac;
            _ = p.HasHello ? p.Hello : default;
            _ = p.HasAuth ? p.Auth.Data.Length + p.Auth.Digest.Length : 0;
            Assert.That(total, Is.EqualTo(m.Length));
        }
        Assert.That(accepted, Is.GreaterThan(100));
    }
}
