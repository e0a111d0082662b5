using System.Buffers.Binary;
using System.Text;
using Offload.Protocol.Sync;

namespace Offload.Protocol.Tests;

public class SyncCodecTests
{
    private static readonly byte[] Key = Encoding.ASCII.GetBytes("group-key-for-sync");
    private const uint Sender = 0xC0000201;

    private static SyncFlow NatFlow(int i) => new(
        new SyncFlowKey(0, 0x0A000064u + (uint)i, 0xC000020A, 6, (ushort)(40000 + i), 80),
        0x0007_B400_0101, SyncFlowFlags.TtlDecrement | SyncFlowFlags.HasReverse, 1, 0xC6336401, 8080,
        0x0200_0000_0101, 1,
        new SyncFlowKey(1, 0xC6336401, 0x0A000064u + (uint)i, 6, 8080, (ushort)(40000 + i)), 0xC000020A, 80,
        0x0200_0000_1000UL + (ulong)i, 0);

    private static SyncFlow DsrFlow(int i) => new(
        new SyncFlowKey(0, 0x0A000064u + (uint)i, 0xC0000214, 17, (ushort)(40000 + i), 53), 0, SyncFlowFlags.SynOnly, 0, 0, 0,
        0x0200_0000_0104, 1);

    private static byte[] Batch(ulong seq, params (SyncFlow Flow, string Id)[] flows)
    {
        var buffer = new byte[SyncWire.MaxMessage];
        var w = new SyncMessageWriter(buffer);
        w.Begin(SyncMessageType.FlowBatch, Sender, 77, seq);
        foreach (var (f, id) in flows)
            Assert.That(w.TryAddFlow(f, id), Is.True);
        return buffer[..w.Finish(Key)];
    }

    private static byte[] Control(SyncMessageType type, ulong seq)
    {
        var buffer = new byte[SyncWire.HeaderLength + SyncWire.TagLength];
        var w = new SyncMessageWriter(buffer);
        w.Begin(type, Sender, 77, seq);
        return buffer[..w.Finish(Key)];
    }

    /// <summary>Re-signs a message after a test changed its bytes, so the check under test is not the tag.</summary>
    private static byte[] Resign(byte[] m, byte[]? key = null)
    {
        int signed = m.Length - SyncWire.TagLength;
        Span<byte> full = stackalloc byte[32];
        System.Security.Cryptography.HMACSHA256.HashData(key ?? Key, m.AsSpan(0, signed), full);
        full[..SyncWire.TagLength].CopyTo(m.AsSpan(signed));
        return m;
    }

    [Test]
    public void A_batch_round_trips_every_field()
    {
        var nat = NatFlow(1);
        var dsr = DsrFlow(2);
        byte[] m = Batch(9, (nat, "b1"), (dsr, "bäckend-ü"));

        Assert.That(SyncMessage.TryDecode(m, Key, out var h), Is.EqualTo(SyncError.None));
        Assert.That(h, Is.EqualTo(new SyncHeader(SyncMessageType.FlowBatch, Sender, 77, 9, 2)));
        var r = new SyncRecordReader(m, h);
        Assert.That(r.TryReadFlow(out var f1, out var id1), Is.True);
        Assert.That(f1, Is.EqualTo(nat));
        Assert.That(Encoding.UTF8.GetString(id1), Is.EqualTo("b1"));
        Assert.That(r.TryReadFlow(out var f2, out var id2), Is.True);
        Assert.That(f2, Is.EqualTo(dsr));
        Assert.That(Encoding.UTF8.GetString(id2), Is.EqualTo("bäckend-ü"));
        Assert.That(r.TryReadFlow(out _, out _), Is.False);
        Assert.That(r.TryReadWithdraw(out _), Is.False, "a batch has no withdraw records");
    }

    [Test]
    public void Withdraws_and_control_messages_round_trip()
    {
        var buffer = new byte[SyncWire.MaxMessage];
        var w = new SyncMessageWriter(buffer);
        w.Begin(SyncMessageType.Withdraw, Sender, 5, 1);
        Assert.That(w.TryAddWithdraw(NatFlow(1).Forward) && w.TryAddWithdraw(NatFlow(2).Forward), Is.True);
        byte[] m = buffer[..w.Finish(Key)];
        Assert.That(SyncMessage.TryDecode(m, Key, out var h), Is.EqualTo(SyncError.None));
        var r = new SyncRecordReader(m, h);
        Assert.That(r.TryReadWithdraw(out var k1), Is.True);
        Assert.That(r.TryReadWithdraw(out var k2), Is.True);
        Assert.That((k1, k2), Is.EqualTo((NatFlow(1).Forward, NatFlow(2).Forward)));
        Assert.That(r.TryReadWithdraw(out _), Is.False);

        foreach (var type in new[] { SyncMessageType.Ack, SyncMessageType.RequestAll })
        {
            Assert.That(SyncMessage.TryDecode(Control(type, 42), Key, out var c), Is.EqualTo(SyncError.None));
            Assert.That(c, Is.EqualTo(new SyncHeader(type, Sender, 77, 42, 0)));
        }
    }

    [Test]
    public void A_batch_fills_one_frame_and_refuses_the_record_that_would_not_fit()
    {
        var buffer = new byte[4096];
        var w = new SyncMessageWriter(buffer);
        w.Begin(SyncMessageType.FlowBatch, Sender, 1, 1);
        int n = 0;
        while (w.TryAddFlow(NatFlow(n), "backend-" + n))
            n++;
        int length = w.Finish(Key);
        Assert.That(length, Is.LessThanOrEqualTo(SyncWire.MaxMessage));
        Assert.That(length + SyncDatagram.Overhead - 14, Is.LessThanOrEqualTo(1500), "fits a 1500-byte IP MTU");
        int recordLength = SyncWire.FlowRecordLength(Encoding.UTF8.GetByteCount("backend-" + n), true);
        Assert.That(SyncWire.MaxMessage - length, Is.LessThan(recordLength), "the refused record really did not fit");
        Assert.That(SyncMessage.TryDecode(buffer.AsSpan(0, length), Key, out var h), Is.EqualTo(SyncError.None));
        Assert.That(h.Count, Is.EqualTo(n));
    }

    [Test]
    public void A_wrong_key_or_any_flipped_bit_fails_the_tag()
    {
        byte[] m = Batch(3, (NatFlow(1), "b1"));
        Assert.That(SyncMessage.TryDecode(m, Encoding.ASCII.GetBytes("another-key"), out _), Is.EqualTo(SyncError.BadTag));
        // Every bit after the length field (magic, version and length are checked before the tag).
        for (int bit = 32 * 8; bit < m.Length * 8; bit++)
        {
            byte[] c = (byte[])m.Clone();
            c[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.That(SyncMessage.TryDecode(c, Key, out _), Is.EqualTo(SyncError.BadTag), $"bit {bit}");
        }
        for (int bit = 8 * 8; bit < 28 * 8; bit++)
        {
            byte[] c = (byte[])m.Clone();
            c[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.That(SyncMessage.TryDecode(c, Key, out _), Is.EqualTo(SyncError.BadTag), $"header bit {bit}");
        }
    }

    public static IEnumerable<TestCaseData> Malformed()
    {
        byte[] good = Batch(3, (NatFlow(1), "b1"));
        byte[] ack = Control(SyncMessageType.Ack, 1);
        yield return Case(SyncError.TooShort, good[..47], resign: false);
        yield return Case(SyncError.TooLong, new byte[SyncWire.MaxMessage + 1], resign: false);
        yield return Case(SyncError.BadMagic, With(good, 0, 0x50), resign: false);
        yield return Case(SyncError.UnsupportedVersion, With(good, 4, 2), resign: false);
        yield return Case(SyncError.LengthMismatch, [.. good, 0], resign: false);
        yield return Case(SyncError.LengthMismatch, WithLength(good[..^1]), resign: false, fixLength: false);
        yield return Case(SyncError.UnknownType, With(ack, 5, 9));
        yield return Case(SyncError.UnknownType, With(ack, 5, 0));
        yield return Case(SyncError.ReservedNotZero, With(ack, 31, 1));
        yield return Case(SyncError.BadRecordCount, With(ack, 7, 1));
        yield return Case(SyncError.BadRecordCount, With(good, 7, 0));
        yield return Case(SyncError.TruncatedRecord, With(good, 7, 2));
        yield return Case(SyncError.TrailingBytes, Insert(good, good.Length - 16, new byte[3]));
        yield return Case(SyncError.BadRecordFlags, With(good, 32, 0x13));
        yield return Case(SyncError.BadKey, With(good, 33, 2));
        yield return Case(SyncError.BadNatMode, With(good, 32 + 21, 3));
        yield return Case(SyncError.BadPort, With(good, 32 + 34, 2));
        yield return Case(SyncError.BadBackendId, With(good, 32 + 35, 65));
        yield return Case(SyncError.BadBackendId, With(good, 32 + 36, 0xFF));
        yield return Case(SyncError.TruncatedRecord, With(good, 32 + 35, 60));
        int rev = 32 + SyncWire.FlowFixedLength + 2;
        yield return Case(SyncError.BadKey, With(good, rev, 7));
        yield return Case(SyncError.BadNatMode, With(good, rev + 14, 1));
        yield return Case(SyncError.BadPort, With(good, rev + 27, 9));
    }

    private static byte[] With(byte[] m, int at, byte value)
    {
        byte[] c = (byte[])m.Clone();
        c[at] = value;
        return c;
    }

    private static byte[] Insert(byte[] m, int at, byte[] bytes) => [.. m[..at], .. bytes, .. m[at..]];

    private static byte[] WithLength(byte[] m)
    {
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(28), (ushort)(m.Length + 1));
        return m;
    }

    private static TestCaseData Case(SyncError error, byte[] input, bool resign = true, bool fixLength = true)
    {
        if (resign && input.Length >= 48 && input.Length <= SyncWire.MaxMessage)
        {
            if (fixLength)
                BinaryPrimitives.WriteUInt16BigEndian(input.AsSpan(28), (ushort)input.Length);
            Resign(input);
        }
        return new TestCaseData(input, error).SetArgDisplayNames($"{error}/{input.Length}B");
    }

    [TestCaseSource(nameof(Malformed))]
    public void Malformed_messages_are_rejected_with_their_reason(byte[] input, SyncError error)
    {
        Assert.That(SyncMessage.TryDecode(input, Key, out var h), Is.EqualTo(error));
        Assert.That(h, Is.EqualTo(default(SyncHeader)), "nothing is reported from a rejected message");
    }

    [Test]
    public void An_empty_key_is_refused_not_used()
    {
        Assert.That(SyncMessage.TryDecode(Batch(1, (NatFlow(1), "b")), default, out _), Is.EqualTo(SyncError.NoKey));
        var buffer = new byte[64];
        Assert.That(() =>
        {
            var w = new SyncMessageWriter(buffer);
            w.Begin(SyncMessageType.Ack, 1, 1, 1);
            w.Finish(default);
        }, Throws.ArgumentException.With.Message.Contains("key is empty"));
    }

    [Test]
    public void The_writer_refuses_what_the_decoder_would_reject()
    {
        var buffer = new byte[SyncWire.MaxMessage];
        Assert.That(() =>
        {
            var w = new SyncMessageWriter(buffer);
            w.Begin(SyncMessageType.FlowBatch, 1, 1, 1);
            w.TryAddFlow(NatFlow(1), new string('x', 65));
        }, Throws.ArgumentException.With.Message.Contains("at most 64"));
        Assert.That(() =>
        {
            var w = new SyncMessageWriter(buffer);
            w.Begin(SyncMessageType.FlowBatch, 1, 1, 1);
            w.TryAddFlow(NatFlow(1) with { BackendPort = 2 }, "b");
        }, Throws.ArgumentException.With.Message.Contains("out of range"));
        Assert.That(() =>
        {
            var w = new SyncMessageWriter(buffer);
            w.Begin(SyncMessageType.Ack, 1, 1, 1);
            w.TryAddFlow(NatFlow(1), "b");
        }, Throws.InvalidOperationException);
    }

    [Test]
    public void Random_bytes_and_random_corruptions_never_throw_and_never_pass()
    {
        var rng = new Random(20261125);
        byte[] good = Batch(3, (NatFlow(1), "b1"), (DsrFlow(2), "b2"));
        int forgedAccepted = 0;
        for (int i = 0; i < 20000; i++)
        {
            byte[] input;
            if (i % 2 == 0)
            {
                input = new byte[rng.Next(0, 1600)];
                rng.NextBytes(input);
                if (i % 4 == 0 && input.Length >= 32)
                {
                    // Past the cheap checks, so the tag and record code see random input too.
                    BinaryPrimitives.WriteUInt32BigEndian(input, SyncWire.Magic);
                    input[4] = SyncWire.Version;
                    BinaryPrimitives.WriteUInt16BigEndian(input.AsSpan(28), (ushort)input.Length);
                    if (i % 8 == 0 && input.Length >= 48 && input.Length <= SyncWire.MaxMessage)
                        Resign(input);
                }
            }
            else
            {
                input = (byte[])good.Clone();
                for (int k = rng.Next(1, 4); k > 0; k--)
                    input[rng.Next(input.Length)] ^= (byte)rng.Next(1, 256);
            }
            SyncError e = SyncError.None;
            Assert.DoesNotThrow(() =>
            {
                e = SyncMessage.TryDecode(input, Key, out var h);
                if (e == SyncError.None)
                {
                    var r = new SyncRecordReader(input, h);
                    int n = 0;
                    while (r.TryReadFlow(out _, out _) || r.TryReadWithdraw(out _))
                        n++;
                    Assert.That(n, Is.EqualTo(h.Count), "a decoded message yields exactly its records");
                }
            });
            if (e == SyncError.None && i % 2 == 1)
                forgedAccepted++;
        }
        Assert.That(forgedAccepted, Is.Zero, "no corruption of a signed message passes");
    }

    [Test]
    public void A_datagram_round_trips_through_an_ethernet_frame()
    {
        byte[] m = Batch(1, (NatFlow(1), "b1"));
        var frame = new byte[SyncDatagram.Overhead + m.Length];
        int n = SyncDatagram.Build(frame, 0x020F00000001, 0x020F00000002, 0xC0000202, 0xC0000201, 3223, m);
        Assert.That(SyncDatagram.TryParse(frame.AsSpan(0, n), 3223, out var info), Is.EqualTo(SyncFrameError.None));
        Assert.That(info.SourceIp, Is.EqualTo(0xC0000202u));
        Assert.That(info.SourceMac, Is.EqualTo(0x020F00000002UL));
        Assert.That(frame.AsSpan(info.PayloadOffset, info.PayloadLength).ToArray(), Is.EqualTo(m));
        Assert.That(SyncDatagram.TryParse(frame.AsSpan(0, n), 3224, out _), Is.EqualTo(SyncFrameError.WrongPort));
        Assert.That(SyncDatagram.TryParse(frame.AsSpan(0, 30), 3223, out _), Is.EqualTo(SyncFrameError.TooShort));
        byte[] tcp = FrameBuilder.BuildTcp(new EthernetHeader(1, 2), new Ipv4Header(1, 2, IpProtocol.Tcp), new TcpHeader(3223, 3223), []);
        Assert.That(SyncDatagram.TryParse(tcp, 3223, out _), Is.EqualTo(SyncFrameError.NotUdp));
        byte[] cut = frame[..(n - 1)];
        Assert.That(SyncDatagram.TryParse(cut, 3223, out _), Is.EqualTo(SyncFrameError.BadLength));
    }
}
