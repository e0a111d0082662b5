using System.Security.Cryptography;
using System.Text;
using Offload.Protocol.Glbp;
using static Offload.Protocol.Tests.GlbpSamples;

namespace Offload.Protocol.Tests;

public class GlbpAuthTests
{
    private static readonly byte[] Key = "Blabla"u8.ToArray();

    /// <summary>
    /// John the Ripper's "hsrp" format (HSRP, VRRP, GLBP MD5 authentication) test vectors: salt (the hashed
    /// packet data), digest, password. They come from real HSRPv1/v2 captures, so they pin the keyed-MD5
    /// construction (key, MD5-style key fill, data, key) that Cisco's FHRPs share.
    /// </summary>
    [TestCase("000004030a64010000000000000000000a000064041c010000000a0000140000000000000000000000000000000000000000", "52e1db09d18d695b8fefb3730ff8d9d6", "password12345")]
    [TestCase("000004030a5a01000000000000000000ac102801041c01000000ac1028140000000000000000000000000000000000000000", "f15dfa631a0679e0801f8e6b0c0c17ac", "openwall")]
    [TestCase("000010030a64010000000000000000000a000064041c010000000a0000140000000000000000000000000000000000000000", "f02fc41b1b516e2d1261d8800d39ccea", "openwall12345")]
    [TestCase("0128020006040001aabbcc000a000000006400000bb8000027100a000064000000000000000000000000041c010000000a00000a0000000000000000000000000000000000000000", "642fedafe1f374bd2fdd8f1ba81d87a2", "password")]
    [TestCase("0128020006040001aabbcc001400000000c800000bb8000027100a000064000000000000000000000000041c010000000a0000140000000000000000000000000000000000000000", "0481257f0fe583b275f03a48e88de72f", "password12345")]
    public void Keyed_md5_matches_john_the_rippers_fhrp_vectors(string salt, string digest, string password)
    {
        Span<byte> d = stackalloc byte[16];
        KeyedMd5.Compute(Encoding.ASCII.GetBytes(password), Convert.FromHexString(salt), d);
        Assert.That(Convert.ToHexStringLower(d), Is.EqualTo(digest));
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(55)]
    [TestCase(56)]
    [TestCase(100)]
    [TestCase(600)]
    public void Keyed_md5_fills_keys_of_any_length_like_md5_padding(int keyLength)
    {
        byte[] key = Enumerable.Range(0, keyLength).Select(i => (byte)(i * 13 + 1)).ToArray();
        byte[] data = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();
        // Independent model: MD5's own padding of the key alone is exactly the fill.
        int fill = (keyLength + 9 + 63) / 64 * 64;
        byte[] filled = new byte[fill];
        key.CopyTo(filled, 0);
        filled[keyLength] = 0x80;
        BitConverter.TryWriteBytes(filled.AsSpan(fill - 8), (ulong)keyLength * 8);
        byte[] expected = MD5.HashData([.. filled, .. data, .. key]);

        Span<byte> d = stackalloc byte[16];
        KeyedMd5.Compute(key, data, d);
        Assert.That(d.ToArray(), Is.EqualTo(expected));
    }

    /// <summary>
    /// The bytes glbp2john (John the Ripper) feeds its cracker for a key-chain packet, rebuilt here from raw frame
    /// offsets without our decoder: GLBP bytes 0–19, source IPv4, 12 zero bytes, then GLBP bytes 36 onward.
    /// </summary>
    private static byte[] JohnGlbpSalt(byte[] frame)
    {
        byte[] glbp = frame[42..(42 + ((frame[38] << 8) | frame[39]) - 8)];
        return [.. glbp[..20], .. frame[26..30], .. new byte[12], .. glbp[36..]];
    }

    [Test]
    public void Md5_key_chain_digest_is_what_glbp2john_would_crack()
    {
        byte[] m = Build((ref GlbpWriter w) => w.WriteAuthMd5KeyChain(1), forwarders: 3);
        GlbpAuthenticator.SignMd5(m, SourceIp, Key);
        byte[] frame = GlbpFrame.Build(OwnerMac, SourceIp, m);

        Span<byte> expected = stackalloc byte[16];
        KeyedMd5.Compute(Key, JohnGlbpSalt(frame), expected);
        Assert.That(m[20..36], Is.EqualTo(expected.ToArray()));
        Assert.That(m[20..36], Is.Not.EqualTo(new byte[16]));
    }

    [Test]
    public void Md5_key_string_digest_covers_the_same_bytes_without_a_key_id()
    {
        byte[] m = Build((ref GlbpWriter w) => w.WriteAuthMd5KeyString(), forwarders: 2);
        GlbpAuthenticator.SignMd5(m, SourceIp, Key);
        byte[] address = [10, 20, 20, 2, .. new byte[12]];
        Span<byte> expected = stackalloc byte[16];
        KeyedMd5.Compute(Key, [.. m[..16], .. address, .. m[32..]], expected);
        Assert.That(m[16..32], Is.EqualTo(expected.ToArray()));
    }

    public static IEnumerable<TestCaseData> Modes()
    {
        yield return new TestCaseData(new GlbpAuthSettings(GlbpAuthMode.PlainText, Key), (WriterStep)((ref GlbpWriter w) => w.WriteAuthText(Key))).SetArgDisplayNames("text");
        yield return new TestCaseData(new GlbpAuthSettings(GlbpAuthMode.Md5KeyString, Key), (WriterStep)((ref GlbpWriter w) => w.WriteAuthMd5KeyString())).SetArgDisplayNames("md5-string");
        yield return new TestCaseData(new GlbpAuthSettings(GlbpAuthMode.Md5KeyChain, Key, 42), (WriterStep)((ref GlbpWriter w) => w.WriteAuthMd5KeyChain(42))).SetArgDisplayNames("md5-chain");
        yield return new TestCaseData(new GlbpAuthSettings(GlbpAuthMode.OffloadHmacSha256, Key, 7), (WriterStep)((ref GlbpWriter w) => w.WriteOffloadAuth(7, 1000))).SetArgDisplayNames("offload-hmac");
    }

    private static byte[] Signed(GlbpAuthSettings s, WriterStep auth)
    {
        byte[] m = Build((ref GlbpWriter w) => auth(ref w));
        if (s.Mode is GlbpAuthMode.Md5KeyString or GlbpAuthMode.Md5KeyChain)
            GlbpAuthenticator.SignMd5(m, SourceIp, s.Key.Span);
        else if (s.Mode == GlbpAuthMode.OffloadHmacSha256)
            GlbpAuthenticator.SignOffload(m, SourceIp, s.Key.Span);
        return m;
    }

    private static GlbpAuthStatus Check(byte[] m, uint source, in GlbpAuthSettings s)
    {
        Assert.That(GlbpPacket.TryDecode(m, out GlbpPacket p).IsOk, Is.True);
        return GlbpAuthenticator.Verify(p, source, s);
    }

    [TestCaseSource(nameof(Modes))]
    public void Signed_message_verifies_and_every_tampering_is_caught(GlbpAuthSettings s, WriterStep auth)
    {
        byte[] m = Signed(s, auth);
        Assert.That(Check(m, SourceIp, s), Is.EqualTo(GlbpAuthStatus.Ok));

        GlbpAuthStatus wrongKey = Check(m, SourceIp, s with { Key = "Blablb"u8.ToArray() });
        Assert.That(wrongKey, Is.EqualTo(s.Mode == GlbpAuthMode.PlainText ? GlbpAuthStatus.TextMismatch : GlbpAuthStatus.DigestMismatch));
        Assert.That(Check(m, SourceIp, GlbpAuthSettings.Disabled), Is.EqualTo(GlbpAuthStatus.ModeMismatch));

        if (s.Mode == GlbpAuthMode.PlainText)
            return;
        // Any changed byte outside the digest (and the sender's address) must break it.
        Assert.That(Check(m, SourceIp + 1, s), Is.EqualTo(GlbpAuthStatus.DigestMismatch), "source address");
        Assert.That(GlbpPacket.TryDecode(m, out GlbpPacket p).IsOk, Is.True);
        (int macAt, int macLength) = p.HasAuth ? (p.Auth.DigestOffset, 16) : (p.OffloadAuth.Offset + GlbpOffloadAuth.MacOffset, 32);
        for (int i = 0; i < m.Length; i++)
        {
            byte[] t = (byte[])m.Clone();
            t[i] ^= 0x01;
            if (!GlbpPacket.TryDecode(t, out GlbpPacket tp).IsOk)
                continue; // the decoder already refuses it
            GlbpAuthStatus st = GlbpAuthenticator.Verify(tp, SourceIp, s);
            Assert.That(st, Is.Not.EqualTo(GlbpAuthStatus.Ok), $"flipped byte {i} (MAC at {macAt}+{macLength})");
        }
    }

    [Test]
    public void Key_ids_must_match()
    {
        var chain = new GlbpAuthSettings(GlbpAuthMode.Md5KeyChain, Key, 42);
        byte[] m = Signed(chain, (ref GlbpWriter w) => w.WriteAuthMd5KeyChain(42));
        var hmac = new GlbpAuthSettings(GlbpAuthMode.OffloadHmacSha256, Key, 7);
        byte[] h = Signed(hmac, (ref GlbpWriter w) => w.WriteOffloadAuth(7, 1));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Check(m, SourceIp, chain with { KeyId = 43 }), Is.EqualTo(GlbpAuthStatus.KeyIdMismatch));
            Assert.That(Check(h, SourceIp, hmac with { KeyId = 8 }), Is.EqualTo(GlbpAuthStatus.KeyIdMismatch));
        }
    }

    [Test]
    public void Schemes_must_match()
    {
        byte[] plain = Build(NoAuth);
        byte[] none = Build((ref GlbpWriter w) => w.WriteAuthNone());
        byte[] text = Build((ref GlbpWriter w) => w.WriteAuthText(Key));
        byte[] md5 = Signed(new(GlbpAuthMode.Md5KeyString, Key), (ref GlbpWriter w) => w.WriteAuthMd5KeyString());
        var chain = new GlbpAuthSettings(GlbpAuthMode.Md5KeyChain, Key, 0);
        var hmac = new GlbpAuthSettings(GlbpAuthMode.OffloadHmacSha256, Key);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Check(plain, SourceIp, GlbpAuthSettings.Disabled), Is.EqualTo(GlbpAuthStatus.Ok));
            Assert.That(Check(none, SourceIp, GlbpAuthSettings.Disabled), Is.EqualTo(GlbpAuthStatus.Ok));
            Assert.That(Check(plain, SourceIp, new(GlbpAuthMode.PlainText, Key)), Is.EqualTo(GlbpAuthStatus.ModeMismatch));
            Assert.That(Check(text, SourceIp, new(GlbpAuthMode.Md5KeyString, Key)), Is.EqualTo(GlbpAuthStatus.ModeMismatch));
            Assert.That(Check(md5, SourceIp, chain), Is.EqualTo(GlbpAuthStatus.ModeMismatch));
            Assert.That(Check(md5, SourceIp, hmac), Is.EqualTo(GlbpAuthStatus.ModeMismatch));
            Assert.That(Check(plain, SourceIp, hmac), Is.EqualTo(GlbpAuthStatus.ModeMismatch));
        }
    }

    [Test]
    public void Offload_hmac_is_hmac_sha256_over_source_and_message_with_zero_mac()
    {
        byte[] m = Signed(new(GlbpAuthMode.OffloadHmacSha256, Key, 7), (ref GlbpWriter w) => w.WriteOffloadAuth(7, 99));
        byte[] zeroed = (byte[])m.Clone();
        Array.Clear(zeroed, 12 + 10, 32);
        byte[] input = [10, 20, 20, 2, .. zeroed];
        byte[] expected = HMACSHA256.HashData(Key, input);
        Assert.That(m[22..54], Is.EqualTo(expected));
    }

    [Test]
    public void Signing_a_message_without_the_right_tlv_throws()
    {
        byte[] m = Build(NoAuth);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => GlbpAuthenticator.SignMd5(m, SourceIp, Key), Throws.InvalidOperationException);
            Assert.That(() => GlbpAuthenticator.SignOffload(m, SourceIp, Key), Throws.InvalidOperationException);
            Assert.That(() => GlbpAuthenticator.SignMd5(m[..5], SourceIp, Key), Throws.ArgumentException);
        }
    }

    [Test]
    public void Decoding_enumerating_signing_and_verifying_allocate_nothing()
    {
        byte[] m = Build((ref GlbpWriter w) => w.WriteAuthMd5KeyChain(42), forwarders: 4);
        byte[] h = Build((ref GlbpWriter w) => w.WriteOffloadAuth(7, 1), forwarders: 4);
        var md5 = new GlbpAuthSettings(GlbpAuthMode.Md5KeyChain, Key, 42);
        var hmac = new GlbpAuthSettings(GlbpAuthMode.OffloadHmacSha256, Key, 7);
        byte[] frame = GlbpFrame.Build(OwnerMac, SourceIp, m);
        var buffer = new byte[200];

        long Run()
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var w = new GlbpWriter(buffer, Header);
            w.WriteAuthMd5KeyChain(42);
            w.WriteHello(Hello);
            w.WriteForwarder(Forwarder(1));
            GlbpAuthenticator.SignMd5(buffer.AsSpan(0, w.Length), SourceIp, Key);
            GlbpAuthenticator.SignMd5(m, SourceIp, Key);
            GlbpAuthenticator.SignOffload(h, SourceIp, Key);
            GlbpFrame.TryGetMessage(frame, out uint src, out ReadOnlySpan<byte> payload);
            GlbpPacket.TryDecode(payload, out GlbpPacket p);
            int weights = 0;
            foreach (GlbpForwarder f in p.Forwarders)
                weights += f.Weight;
            GlbpAuthenticator.Verify(p, src, md5);
            GlbpPacket.TryDecode(h, out GlbpPacket q);
            GlbpAuthenticator.Verify(q, SourceIp, hmac);
            return GC.GetAllocatedBytesForCurrentThread() - before + (weights == 400 ? 0 : 1);
        }

        Run(); // first calls JIT and initialise the crypto providers
        Assert.That(Run(), Is.Zero);
    }
}
