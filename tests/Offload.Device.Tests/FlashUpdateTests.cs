using Offload.Device.Flash;

namespace Offload.Device.Tests;

/// <summary>Image format, warm-boot table and boot records, without a device.</summary>
public class FlashImageTests
{
    internal static FlashImage Bitstream(string board, string build, int length, int seed)
    {
        var p = new byte[length];
        new Random(seed).NextBytes(p);
        // an iCE40 bitstream: a comment block (FF 00 ... 00 FF), then the sync word
        ReadOnlySpan<byte> start = [0xFF, 0x00, (byte)'t', (byte)'e', (byte)'s', (byte)'t', 0x00, 0xFF, 0x7E, 0xAA, 0x99, 0x7E];
        start.CopyTo(p);
        return new FlashImage(board, build, p);
    }

    [Test]
    public void An_image_round_trips_and_every_damage_is_named()
    {
        var img = Bitstream("hx8k-edge", "abc123 2026-12-03", 1000, 1);
        var bytes = img.ToBytes();
        var back = FlashImage.Parse(bytes, "x.img");
        Assert.That((back.Board, back.BuildInfo, back.Payload), Is.EqualTo((img.Board, img.BuildInfo, img.Payload)));

        var badMagic = (byte[])bytes.Clone();
        badMagic[0] = 0;
        Assert.That(Assert.Throws<ImageException>(() => FlashImage.Parse(badMagic, "x.img"))!.Message, Does.StartWith("x.img: not an Offload image"));
        var badPayload = (byte[])bytes.Clone();
        badPayload[^1] ^= 1;
        Assert.That(Assert.Throws<ImageException>(() => FlashImage.Parse(badPayload, "x.img"))!.Message, Is.EqualTo("x.img: the payload's CRC-32 does not match the header (corrupt or truncated image)"));
        Assert.That(Assert.Throws<ImageException>(() => FlashImage.Parse(bytes.AsSpan(0, 900), "x.img"))!.Message, Is.EqualTo("x.img: the header says 1000 payload bytes, the file holds 836"));
        var badHeader = (byte[])bytes.Clone();
        badHeader[9] ^= 1;
        Assert.That(Assert.Throws<ImageException>(() => FlashImage.Parse(badHeader, "x.img"))!.Message, Is.EqualTo("x.img: the header's CRC-32 does not match (corrupt header)"));
    }

    [Test]
    public void Crc32_is_the_ieee_one()
    {
        Assert.That(Crc32.Compute("123456789"u8), Is.EqualTo(0xCBF43926));
    }

    [Test]
    public void The_warm_boot_table_has_icemultis_layout()
    {
        var t = FlashLayout.WarmBootTable();
        Assert.That(t.Length, Is.EqualTo(160));
        Assert.That(t.AsSpan(0, 17).ToArray(), Is.EqualTo(new byte[] { 0x7E, 0xAA, 0x99, 0x7E, 0x92, 0x00, 0x00, 0x44, 0x03, 0x01, 0x00, 0x40, 0x82, 0x00, 0x00, 0x01, 0x08 }));
        Assert.That(t.AsSpan(17, 15).ToArray(), Is.All.Zero);
        Assert.That(Enumerable.Range(0, 5).Select(i => FlashLayout.TableTarget(t, i)),
            Is.EqualTo(new uint?[] { 0x010040, 0x010040, 0x110040, 0x280040, 0x010040 }));
    }

    [Test]
    public void The_newest_valid_record_wins_and_a_damaged_one_is_passed_over()
    {
        var a = FlashLayout.Record(7, FlashSlot.A);
        var b = FlashLayout.Record(8, FlashSlot.B);
        Assert.That(FlashLayout.Newest(a, b), Is.EqualTo(((uint)8, FlashSlot.B, FlashLayout.RecordAddress1)));
        b[5] ^= 1;
        Assert.That(FlashLayout.Newest(a, b), Is.EqualTo(((uint)7, FlashSlot.A, FlashLayout.RecordAddress0)));
        Assert.That(FlashLayout.Newest(new byte[16], new byte[16]), Is.Null);
    }
}

/// <summary>Updates through the SPI-flash controller into the model's flash, interrupted and not.</summary>
[Category("Model")]
public class FlashUpdateModelTests
{
    private const string Board = "hx8k-edge";

    private ModelDevice _model = null!;
    private Action _wait = null!;
    private SpiFlash _flash = null!;

    [SetUp]
    public void SetUp()
    {
        _model = ModelDevice.Create(64);
        _wait = () => _model.Run(256);
        _flash = new SpiFlash(_model, () => _wait());
        _model.Model.FlashLoad(0, FlashLayout.Factory(FlashImageTests.Bitstream(Board, "golden", 3000, 100)));
    }

    [TearDown]
    public void TearDown() => _model.Dispose();

    private (FlashSlot Slot, string Board, string BuildInfo, string Reason) Boot() =>
        BootSelector.Select((a, d) => _model.Model.FlashRead(a, d));

    [Test]
    public void Updates_alternate_slots_and_the_board_boots_the_newest()
    {
        var u = new FlashUpdater(_flash);
        Assert.That(Boot().Slot, Is.EqualTo(FlashSlot.Golden));
        var r = u.Update(FlashImageTests.Bitstream(Board, "one", 70_000, 1), null, "one.img");
        Assert.That((r.Slot, r.Generation, Boot().BuildInfo), Is.EqualTo((FlashSlot.A, 1u, "one")));
        r = u.Update(FlashImageTests.Bitstream(Board, "two", 5000, 2), null, "two.img");
        Assert.That((r.Slot, r.Generation, Boot().BuildInfo), Is.EqualTo((FlashSlot.B, 2u, "two")));
        Assert.That(u.Verify(FlashImageTests.Bitstream(Board, "two", 5000, 2), FlashSlot.B), Is.True);
        Assert.That(u.Verify(FlashImageTests.Bitstream(Board, "two", 5000, 3), FlashSlot.B), Is.False);
        Assert.That(_flash.ReadStatus() & SpiFlash.StatusProtectMask, Is.EqualTo(FlashLayout.GoldenProtection), "the golden image is write-protected");
    }

    [Test]
    public void Bad_images_are_refused_before_anything_is_erased()
    {
        var u = new FlashUpdater(_flash);
        u.Update(FlashImageTests.Bitstream(Board, "one", 1000, 1), FlashSlot.A, "one.img");
        var before = _model.Model.FlashCounts();
        var noSync = new FlashImage(Board, "x", new byte[1000]);
        string[] messages =
        [
            Assert.Throws<ImageException>(() => u.Update(FlashImageTests.Bitstream("other-board", "x", 1000, 1), null, "a.img"))!.Message,
            Assert.Throws<ImageException>(() => u.Update(FlashImageTests.Bitstream(Board, "x", FlashLayout.SlotCapacity, 1), null, "b.img"))!.Message,
            Assert.Throws<ImageException>(() => u.Update(noSync, null, "c.img"))!.Message,
            Assert.Throws<ImageException>(() => u.Update(FlashImageTests.Bitstream(Board, "x", 1000, 1), FlashSlot.A, "d.img"))!.Message,
        ];
        Assert.That(messages, Is.EqualTo(new[]
        {
            "a.img: built for board 'other-board', this board's golden image is for 'hx8k-edge'",
            $"b.img: {FlashLayout.SlotCapacity + 64} bytes with its header, a slot holds {FlashLayout.SlotCapacity}",
            "c.img: no iCE40 sync word (7E AA 99 7E) in the first 256 bytes of the bitstream",
            "d.img: slot a is the one the board boots; write the other slot",
        }));
        Assert.That(_model.Model.FlashCounts(), Is.EqualTo(before), "no erase, no program");
        Assert.That(Boot().BuildInfo, Is.EqualTo("one"));
    }

    [Test]
    public void Power_cut_at_every_phase_leaves_a_good_image_booting()
    {
        var old = FlashImageTests.Bitstream(Board, "old", 9000, 1);
        var next = FlashImageTests.Bitstream(Board, "new", 9000, 2);
        new FlashUpdater(_flash).Update(old, FlashSlot.A, "old.img");
        byte[] start = new byte[_model.Model.FlashSize];
        _model.Model.FlashRead(0, start);

        // a full update once, noting the phase at each of its flash waits; then a cut at the first, middle and last wait
        // of every phase (mid-erase, mid-program, verify, the record's erase and program)
        var phaseAt = new List<FlashPhase>();
        var current = FlashPhase.Check;
        _wait = () => { phaseAt.Add(current); _model.Run(256); };
        new FlashUpdater(_flash) { Progress = (p, _, _) => current = p }.Update(next, FlashSlot.B, "new.img");
        int total = phaseAt.Count;
        var seen = new HashSet<FlashPhase>();
        var cuts = phaseAt.Select((p, i) => (p, i: i + 1)).GroupBy(x => x.p)
            .SelectMany(g => new[] { g.First().i, g.ElementAt(g.Count() / 2).i, g.Last().i }).Distinct().Order();
        foreach (int cut in cuts)
        {
            _model.Model.FlashLoad(0, start);
            int n = 0;
            var phase = FlashPhase.Check;
            _wait = () =>
            {
                if (++n == cut)
                {
                    _model.Model.FlashPowerCut();
                    throw new OperationCanceledException("power cut");
                }
                _model.Run(256);
            };
            var u = new FlashUpdater(_flash) { Progress = (p, _, _) => phase = p };
            Assert.Throws<OperationCanceledException>(() => u.Update(next, FlashSlot.B, "new.img"), $"cut {cut}");
            _model.Model.Reset();
            seen.Add(phase);
            var boot = Boot();
            // Select only ever returns an image that checks; before its record is programmed the new one must not be it
            Assert.That(boot.BuildInfo, phase < FlashPhase.RecordProgram ? Is.EqualTo("old") : Is.AnyOf("old", "new"), $"cut {cut} of {total} in {phase}: {boot.Reason}");
        }
        Assert.That(seen, Is.SupersetOf(new[] { FlashPhase.Erase, FlashPhase.Program, FlashPhase.RecordErase, FlashPhase.RecordProgram }));
        // and the same update, left alone, takes
        _model.Model.FlashLoad(0, start);
        _wait = () => _model.Run(256);
        new FlashUpdater(_flash).Update(next, FlashSlot.B, "new.img");
        Assert.That(Boot().BuildInfo, Is.EqualTo("new"));
    }
}
