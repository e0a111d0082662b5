using System.Buffers.Binary;
using Offload.Protocol.Pcap;

namespace Offload.Unit.Tests;

public class PcapTests
{
    private static readonly byte[] FrameA = Enumerable.Range(0, 60).Select(i => (byte)i).ToArray();
    private static readonly byte[] FrameB = Enumerable.Range(0, 1514).Select(i => (byte)(i * 7)).ToArray();

    [TestCase(false)]
    [TestCase(true)]
    public void Classic_pcap_round_trips(bool nano)
    {
        using var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, nano, leaveOpen: true))
        {
            w.Write(FrameA, 1_700_000_000_123_456_789);
            w.Write(FrameB, 1_700_000_001_000_000_001);
            w.Write([], 5);
        }
        ms.Position = 0;
        using var r = new PcapReader(ms);
        var packets = r.ReadAll();
        Assert.Multiple(() =>
        {
            Assert.That(r.Format, Is.EqualTo(CaptureFormat.Pcap));
            Assert.That(r.IsNanosecond, Is.EqualTo(nano));
            Assert.That(r.LinkType, Is.EqualTo(LinkType.Ethernet));
            Assert.That(packets, Has.Count.EqualTo(3));
            Assert.That(packets[0].Data.ToArray(), Is.EqualTo(FrameA));
            Assert.That(packets[1].Data.ToArray(), Is.EqualTo(FrameB));
            Assert.That(packets[2].Data.Length, Is.Zero);
            Assert.That(packets[0].TimestampNanoseconds, Is.EqualTo(nano ? 1_700_000_000_123_456_789 : 1_700_000_000_123_456_000));
            Assert.That(packets[1].OriginalLength, Is.EqualTo(1514));
        });
    }

    [Test]
    public void Writer_cuts_to_snap_length_and_keeps_original_length()
    {
        using var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, snapLength: 100, leaveOpen: true))
            w.Write(FrameB, 0);
        ms.Position = 0;
        var p = new PcapReader(ms).ReadAll().Single();
        Assert.That(p.Data.Length, Is.EqualTo(100));
        Assert.That(p.OriginalLength, Is.EqualTo(1514));
    }

    [Test]
    public void Big_endian_classic_pcap_is_read()
    {
        var b = new Bytes(bigEndian: true);
        b.U32(0xA1B23C4D).U16(2).U16(4).U32(0).U32(0).U32(65535).U32(1);
        b.U32(10).U32(999_999_999).U32(60).U32(64).Raw(FrameA);
        using var r = new PcapReader(new MemoryStream(b.ToArray()));
        var p = r.ReadAll().Single();
        Assert.Multiple(() =>
        {
            Assert.That(r.IsBigEndian, Is.True);
            Assert.That(r.IsNanosecond, Is.True);
            Assert.That(p.TimestampNanoseconds, Is.EqualTo(10_999_999_999));
            Assert.That(p.OriginalLength, Is.EqualTo(64));
            Assert.That(p.Data.ToArray(), Is.EqualTo(FrameA));
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Pcapng_blocks_of_every_kind_are_read_and_unknown_ones_skipped(bool bigEndian)
    {
        var b = new Bytes(bigEndian);
        Shb(b);
        Block(b, 4, body => body.U16(1).U16(8).Raw([10, 0, 0, 1, 0, 0, 0, 0]).U16(0).U16(0)); // name resolution: skipped
        // interface 0: Ethernet, microseconds (default), snaplen 100
        Block(b, 1, body => body.U16(1).U16(0).U32(100));
        // interface 1: Ethernet, nanoseconds, with an offset of 10 s, then a comment option
        Block(b, 1, body => body.U16(1).U16(0).U32(0).U16(9).U16(1).Raw([9, 0, 0, 0]).U16(14).U16(8).U64(10).U16(1).U16(3).Raw("hi!"u8).Raw([0]).U16(0).U16(0));
        Epb(b, 1, 1_000_000_123, FrameA, 60);
        Block(b, 0x0BAD_0BAD, body => body.U32(7)); // unknown: skipped
        Block(b, 3, body => body.U32(1514).Raw(FrameB.AsSpan(0, 100)));       // simple: cut to snaplen 100
        Block(b, 2, body => body.U16(0).U16(0).U32(0).U32(2_000_000).U32(60).U32(60).Raw(FrameA)); // obsolete PB
        Epb(b, 0, 3_000_000, FrameB, 1514, withOption: true);
        // A new section resets interfaces; this one in the other byte order.
        var b2 = new Bytes(!bigEndian);
        Shb(b2);
        Block(b2, 1, body => body.U16(1).U16(0).U32(0).U16(9).U16(1).Raw([0x81, 0, 0, 0]).U16(0).U16(0)); // 2^-1 s
        Epb(b2, 0, 3, FrameA, 60);

        using var r = new PcapReader(new MemoryStream([.. b.ToArray(), .. b2.ToArray()]));
        var packets = r.ReadAll();
        Assert.Multiple(() =>
        {
            Assert.That(r.Format, Is.EqualTo(CaptureFormat.PcapNg));
            Assert.That(packets, Has.Count.EqualTo(5));
            Assert.That(packets[0].InterfaceId, Is.EqualTo(1));
            Assert.That(packets[0].TimestampNanoseconds, Is.EqualTo(1_000_000_123 + 10_000_000_000));
            Assert.That(packets[0].Data.ToArray(), Is.EqualTo(FrameA));
            Assert.That(packets[1].OriginalLength, Is.EqualTo(1514));
            Assert.That(packets[1].Data.ToArray(), Is.EqualTo(FrameB.AsSpan(0, 100).ToArray()));
            Assert.That(packets[2].TimestampNanoseconds, Is.EqualTo(2_000_000_000));
            Assert.That(packets[3].TimestampNanoseconds, Is.EqualTo(3_000_000_000));
            Assert.That(packets[3].Data.ToArray(), Is.EqualTo(FrameB));
            Assert.That(packets[4].TimestampNanoseconds, Is.EqualTo(1_500_000_000));
            Assert.That(packets[4].LinkType, Is.EqualTo(LinkType.Ethernet));
        });
    }

    [Test]
    public void Packet_data_is_reused_between_reads_until_copied()
    {
        using var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, leaveOpen: true))
        {
            w.Write(FrameA, 0);
            w.Write(FrameA.Reverse().ToArray(), 0);
        }
        ms.Position = 0;
        using var r = new PcapReader(ms);
        Assert.That(r.TryRead(out var first), Is.True);
        byte[] copy = first.ToArray();
        Assert.That(r.TryRead(out _), Is.True);
        Assert.That(copy, Is.EqualTo(FrameA));
        Assert.That(r.TryRead(out _), Is.False);
    }

    // Malformed files: each must fail with a PcapFormatException that names the problem and its offset.
    private static IEnumerable<TestCaseData> Malformed()
    {
        byte[] header = new Bytes(false).U32(0xA1B2C3D4).U16(2).U16(4).U32(0).U32(0).U32(65535).U32(1).ToArray();
        yield return new TestCaseData(Array.Empty<byte>(), "empty", 0L).SetName("empty file");
        yield return new TestCaseData(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, "unknown magic", 0L).SetName("bad magic");
        yield return new TestCaseData(header[..10], "truncated pcap file header", 0L).SetName("short pcap header");
        yield return new TestCaseData(new Bytes(false).U32(0xA1B2C3D4).U16(3).U16(0).U32(0).U32(0).U32(0).U32(1).ToArray(), "version 3.0", 4L)
            .SetName("pcap version");
        yield return new TestCaseData(new Bytes(false).Raw(header).U32(0).U32(0).U32(0x7000_0000).U32(60).ToArray(), "captured bytes", 24L)
            .SetName("huge record");
        yield return new TestCaseData(new Bytes(false).Raw(header).U32(0).U32(1_000_000).U32(0).U32(0).ToArray(), "fraction", 24L)
            .SetName("microseconds overflow");

        var ng = new Bytes(false);
        Shb(ng);
        byte[] shb = ng.ToArray();
        yield return new TestCaseData(shb[..20], "truncated pcapng block", 0L).SetName("short SHB");
        var badBom = (byte[])shb.Clone();
        badBom[8] = 0x99;
        yield return new TestCaseData(badBom, "byte-order magic", 8L).SetName("bad byte-order magic");
        yield return new TestCaseData(new Bytes(false).Raw(shb).U32(1).U32(18).U32(0).U32(0).U32(0).ToArray(), "multiple of 4", 28L)
            .SetName("block length not a multiple of 4");
        yield return new TestCaseData(new Bytes(false).Raw(shb).U32(1).U32(20).U32(1).U32(0).U32(24).ToArray(), "trailing length 24", 28L)
            .SetName("trailer mismatch");
        var noIdb = new Bytes(false).Raw(shb);
        Epb(noIdb, 0, 0, FrameA, 60);
        yield return new TestCaseData(noIdb.ToArray(), "interface 0, but the section describes 0", 28L).SetName("EPB without IDB");
        var bigCap = new Bytes(false).Raw(shb);
        Block(bigCap, 1, body => body.U16(1).U16(0).U32(0));
        Block(bigCap, 6, body => body.U32(0).U32(0).U32(0).U32(500).U32(500).Raw(FrameA));
        yield return new TestCaseData(bigCap.ToArray(), "claims 500 captured bytes", 48L).SetName("EPB capture past block");
        var badOption = new Bytes(false).Raw(shb);
        Block(badOption, 1, body => body.U16(1).U16(0).U32(0).U16(9).U16(40).U32(0));
        yield return new TestCaseData(badOption.ToArray(), "option 9 of 40 bytes runs past", 44L).SetName("option overrun");
        var hugeBlock = new Bytes(false).Raw(shb).U32(1).U32(0x7FFF_FFF0).U32(0);
        yield return new TestCaseData(hugeBlock.ToArray(), "exceeds", 28L).SetName("huge block");
    }

    [TestCaseSource(nameof(Malformed))]
    public void Malformed_file_is_rejected_with_reason_and_offset(byte[] file, string reason, long offset)
    {
        var e = Assert.Throws<PcapFormatException>(() =>
        {
            using var r = new PcapReader(new MemoryStream(file));
            r.ReadAll();
        });
        Assert.That(e!.Message, Does.Contain(reason));
        Assert.That(e.Offset, Is.EqualTo(offset), e.Message);
        Assert.That(e.Message, Does.Contain($"offset {offset}"));
    }

    // A capture cut off in its last record (a full disk, a killed tcpdump): tcpdump and tshark read what is whole and warn.
    private static IEnumerable<TestCaseData> CutOff()
    {
        byte[] header = new Bytes(false).U32(0xA1B2C3D4).U16(2).U16(4).U32(0).U32(0).U32(65535).U32(1).ToArray();
        byte[] one = new Bytes(false).Raw(header).U32(1).U32(0).U32((uint)FrameA.Length).U32((uint)FrameA.Length).Raw(FrameA).ToArray();
        long end = one.Length;
        yield return new TestCaseData((byte[])[.. one, 1, 2, 3], "truncated pcap record header", end).SetName("cut in a record header");
        yield return new TestCaseData(new Bytes(false).Raw(one).U32(0).U32(0).U32(60).U32(60).Raw(FrameA.AsSpan(0, 30)).ToArray(),
            "header says 60 bytes, file has 30", end).SetName("cut in record data");

        var ng = new Bytes(false);
        Shb(ng);
        Block(ng, 1, body => body.U16(1).U16(0).U32(0));
        Epb(ng, 0, 0, FrameA, (uint)FrameA.Length);
        byte[] whole = ng.ToArray();
        yield return new TestCaseData(new Bytes(false).Raw(whole).U32(6).U32(100).U32(0).ToArray(), "truncated pcapng block", (long)whole.Length)
            .SetName("cut in a block");
        yield return new TestCaseData(new Bytes(false).Raw(whole).Raw([6, 0, 0]).ToArray(), "truncated pcapng block header", (long)whole.Length)
            .SetName("cut in a block header");
    }

    [TestCaseSource(nameof(CutOff))]
    public void A_capture_cut_off_in_its_last_record_yields_the_complete_ones_and_a_warning(byte[] file, string reason, long offset)
    {
        using var r = new PcapReader(new MemoryStream(file), name: "cut.pcap");
        var packets = r.ReadAll();
        Assert.That(packets.Single().Data.ToArray(), Is.EqualTo(FrameA));
        Assert.That(r.Warning, Does.StartWith("cut.pcap: ").And.Contain(reason).And.Contain($"offset {offset}"));
        Assert.That(r.TryRead(out _), Is.False, "the end stays the end");
    }

    [Test]
    public void Errors_name_the_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"offload-bad-{Guid.NewGuid():N}.pcap");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8]);
        try
        {
            var e = Assert.Throws<PcapFormatException>(() => PcapReader.ReadAll(path))!;
            Assert.That(e.Message, Does.StartWith($"{path}: ").And.Contain("unknown magic"));
            Assert.That(e.Offset, Is.Zero);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void A_complete_capture_has_no_warning()
    {
        using var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, leaveOpen: true))
            w.Write(FrameA, 0);
        ms.Position = 0;
        using var r = new PcapReader(ms);
        Assert.That(r.ReadAll(), Has.Count.EqualTo(1));
        Assert.That(r.Warning, Is.Null);
    }

    private static void Shb(Bytes b) =>
        Block(b, 0x0A0D0D0A, body => body.U32(0x1A2B3C4D).U16(1).U16(0).U64(ulong.MaxValue));

    private static void Epb(Bytes b, uint iface, ulong ticks, byte[] data, uint original, bool withOption = false) =>
        Block(b, 6, body =>
        {
            body.U32(iface).U32((uint)(ticks >> 32)).U32((uint)ticks).U32((uint)data.Length).U32(original).Raw(data).Pad();
            if (withOption)
                body.U16(1).U16(2).Raw([0x41, 0x42, 0, 0]).U16(0).U16(0);
        });

    private static void Block(Bytes b, uint type, Action<Bytes> body)
    {
        var inner = new Bytes(b.BigEndian);
        body(inner);
        inner.Pad();
        uint total = (uint)inner.Length + 12;
        b.U32(type).U32(total).Raw(inner.ToArray()).U32(total);
    }

    /// <summary>Builds capture files by hand in either byte order.</summary>
    private sealed class Bytes(bool bigEndian)
    {
        private readonly List<byte> _bytes = [];

        public bool BigEndian => bigEndian;

        public int Length => _bytes.Count;

        public Bytes U16(ushort v)
        {
            Span<byte> s = stackalloc byte[2];
            if (bigEndian)
                BinaryPrimitives.WriteUInt16BigEndian(s, v);
            else
                BinaryPrimitives.WriteUInt16LittleEndian(s, v);
            return Raw(s);
        }

        public Bytes U32(uint v)
        {
            Span<byte> s = stackalloc byte[4];
            if (bigEndian)
                BinaryPrimitives.WriteUInt32BigEndian(s, v);
            else
                BinaryPrimitives.WriteUInt32LittleEndian(s, v);
            return Raw(s);
        }

        public Bytes U64(ulong v)
        {
            Span<byte> s = stackalloc byte[8];
            if (bigEndian)
                BinaryPrimitives.WriteUInt64BigEndian(s, v);
            else
                BinaryPrimitives.WriteUInt64LittleEndian(s, v);
            return Raw(s);
        }

        public Bytes Raw(ReadOnlySpan<byte> data)
        {
            foreach (byte x in data)
                _bytes.Add(x);
            return this;
        }

        public Bytes Pad()
        {
            while (_bytes.Count % 4 != 0)
                _bytes.Add(0);
            return this;
        }

        public byte[] ToArray() => [.. _bytes];
    }
}
