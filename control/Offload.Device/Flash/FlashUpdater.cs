namespace Offload.Device.Flash;

/// <summary>The steps of an update, in order, as progress reports them.</summary>
public enum FlashPhase
{
    Check,
    Erase,
    Program,
    Verify,
    RecordErase,
    RecordProgram,
    Done,
}

/// <summary>What an update did.</summary>
public sealed record FlashResult(FlashSlot Slot, int Bytes, bool Written, uint Generation);

/// <summary>
/// Puts an image into slot A or B of a board's configuration flash through its SPI-flash controller, so that an
/// interruption at any point leaves the board booting the last good slot or the golden image:
/// everything is checked before anything is erased (image header and CRC-32, the board name against the golden
/// image's, the size against the slot, the iCE40 sync word, the flash's JEDEC size, that the target is not the slot the
/// board runs); the golden image's range is write-protected by the flash's block-protect bits; the slot is erased,
/// programmed payload first and header last, and read back whole; only then is a boot record naming it written, into
/// the record sector that does not hold the one in force.
/// </summary>
public sealed class FlashUpdater(SpiFlash flash)
{
    private static readonly byte[] SyncWord = [0x7E, 0xAA, 0x99, 0x7E];

    private readonly SpiFlash _flash = flash ?? throw new ArgumentNullException(nameof(flash));

    /// <summary>Called at every step: the phase and bytes done of the phase's total.</summary>
    public Action<FlashPhase, long, long>? Progress { get; set; }

    /// <summary>Checks an image against the board and the flash; returns the slot an update would write.</summary>
    /// <exception cref="ImageException">The image does not belong on this board or in this slot.</exception>
    /// <exception cref="DeviceException">The flash is not one the layout fits.</exception>
    public FlashSlot Check(FlashImage image, FlashSlot? slot, string what)
    {
        ArgumentNullException.ThrowIfNull(image);
        Progress?.Invoke(FlashPhase.Check, 0, 1);
        var id = _flash.ReadJedecId();
        if (id.SizeBytes < FlashLayout.RequiredFlashBytes)
            throw new DeviceException(DeviceError.Mismatch, $"flash: JEDEC ID {id} ({id.SizeBytes} bytes); the layout needs {FlashLayout.RequiredFlashBytes}");
        var golden = BootSelector.Check(Read, FlashSlot.Golden)
            ?? throw new ImageException("flash: no good golden image at 0x010000; program the factory layout first (table and golden image)");
        if (image.Board != golden.Board)
            throw new ImageException($"{what}: built for board '{image.Board}', this board's golden image is for '{golden.Board}'");
        int bytes = FlashImage.HeaderLength + image.Payload.Length;
        if (bytes > FlashLayout.SlotCapacity)
            throw new ImageException($"{what}: {bytes} bytes with its header, a slot holds {FlashLayout.SlotCapacity}");
        if (image.Payload.AsSpan(0, Math.Min(256, image.Payload.Length)).IndexOf(SyncWord) < 0)
            throw new ImageException($"{what}: no iCE40 sync word (7E AA 99 7E) in the first 256 bytes of the bitstream");
        var active = Active();
        var target = slot ?? (active == FlashSlot.A ? FlashSlot.B : FlashSlot.A);
        if (target == FlashSlot.Golden)
            throw new ImageException($"{what}: the golden image is never written by an update");
        if (target == active)
            throw new ImageException($"{what}: slot {target.ToString().ToLowerInvariant()} is the one the board boots; write the other slot");
        return target;
    }

    /// <summary>The slot the newest boot record names, if its image checks; else golden.</summary>
    public FlashSlot Active() => BootSelector.Select(Read).Slot;

    /// <summary>Compares a slot with the image, byte for byte.</summary>
    public bool Verify(FlashImage image, FlashSlot slot)
    {
        ArgumentNullException.ThrowIfNull(image);
        var want = image.ToBytes();
        return Compare(want, FlashLayout.Address(slot));
    }

    /// <summary>Writes the image into the slot and then the boot record that makes it the one the board boots.</summary>
    public FlashResult Update(FlashImage image, FlashSlot? slot, string what)
    {
        var target = Check(image, slot, what);
        var bytes = image.ToBytes();
        uint at = FlashLayout.Address(target);

        if ((_flash.ReadStatus() & SpiFlash.StatusProtectMask) != FlashLayout.GoldenProtection)
            _flash.WriteProtection(FlashLayout.GoldenProtection);

        long blocks = (bytes.Length + SpiFlash.BlockSize - 1) / SpiFlash.BlockSize;
        for (long b = 0; b < blocks; b++)
        {
            Progress?.Invoke(FlashPhase.Erase, b, blocks);
            _flash.Erase(at + (uint)(b * SpiFlash.BlockSize), SpiFlash.BlockSize);
        }

        // payload first, header last: a slot whose header is there was programmed whole
        long pages = (bytes.Length + SpiFlash.PageSize - 1) / SpiFlash.PageSize;
        for (long p = 1; p <= pages; p++)
        {
            long page = p == pages ? 0 : p;
            int off = (int)(page * SpiFlash.PageSize);
            int n = Math.Min(SpiFlash.PageSize, bytes.Length - off);
            Progress?.Invoke(FlashPhase.Program, p - 1, pages);
            _flash.ProgramPage(at + (uint)off, bytes.AsSpan(off, n));
        }

        Progress?.Invoke(FlashPhase.Verify, 0, bytes.Length);
        if (!Compare(bytes, at))
            throw new DeviceException(DeviceError.Other, $"flash: slot {target} does not read back as written; the board still boots its previous image");

        var r0 = new byte[FlashLayout.RecordLength];
        var r1 = new byte[FlashLayout.RecordLength];
        _flash.Read(FlashLayout.RecordAddress0, r0);
        _flash.Read(FlashLayout.RecordAddress1, r1);
        var newest = FlashLayout.Newest(r0, r1);
        uint generation = (newest?.Generation ?? 0) + 1;
        uint recordAt = newest?.Address == FlashLayout.RecordAddress0 ? FlashLayout.RecordAddress1 : FlashLayout.RecordAddress0;
        Progress?.Invoke(FlashPhase.RecordErase, 0, 1);
        _flash.Erase(recordAt, SpiFlash.SectorSize);
        Progress?.Invoke(FlashPhase.RecordProgram, 0, 1);
        var record = FlashLayout.Record(generation, target);
        _flash.ProgramPage(recordAt, record);
        var back = new byte[FlashLayout.RecordLength];
        _flash.Read(recordAt, back);
        if (!back.AsSpan().SequenceEqual(record))
            throw new DeviceException(DeviceError.Other, $"flash: the boot record at 0x{recordAt:X6} does not read back; the board still boots its previous image");
        Progress?.Invoke(FlashPhase.Done, 1, 1);
        return new FlashResult(target, bytes.Length, true, generation);
    }

    private void Read(uint address, Span<byte> destination) => _flash.Read(address, destination);

    private bool Compare(ReadOnlySpan<byte> want, uint at)
    {
        var got = new byte[SpiFlash.PageSize * 16];
        for (int off = 0; off < want.Length; off += got.Length)
        {
            int n = Math.Min(got.Length, want.Length - off);
            _flash.Read(at + (uint)off, got.AsSpan(0, n));
            Progress?.Invoke(FlashPhase.Verify, off + n, want.Length);
            if (!got.AsSpan(0, n).SequenceEqual(want.Slice(off, n)))
                return false;
        }
        return true;
    }
}
