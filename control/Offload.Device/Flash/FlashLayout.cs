using System.Buffers.Binary;

namespace Offload.Device.Flash;

/// <summary>The image slots of the layout.</summary>
public enum FlashSlot
{
    Golden,
    A,
    B,
}

/// <summary>
/// Where things live in the configuration flash (4 MiB and up; docs/dataplane.md, "Images and the flash layout"):
/// <list type="bullet">
/// <item>0x000000: the iCE40 warm-boot table (icemulti's layout: five 32-byte entries; power-on and warm boot 0 and 3
/// load the golden image, warm boot 1 slot A, warm boot 2 slot B). Written once, at the factory.</item>
/// <item>0x010000: the golden image (up to 960 KiB), never written by an update. The table and golden lie in the bottom
/// 1 MiB, which the flash's block-protect bits cover (TB = 1, BP = 101 on a 4 MiB part).</item>
/// <item>0x100000 and 0x101000: two boot-record sectors. The valid record with the highest generation names the slot
/// the golden image warm-boots into; an update writes its record into the other sector, so a record cut short by a
/// power loss leaves the previous one in force.</item>
/// <item>0x110000: slot A; 0x280000: slot B (1472 KiB each).</item>
/// </list>
/// Each slot holds an image as <see cref="FlashImage"/> writes it (header, then bitstream), so the bitstream of a slot
/// starts 64 bytes into it, which is the address the warm-boot table gives.
/// </summary>
public static class FlashLayout
{
    public const uint TableAddress = 0x000000;
    public const uint GoldenAddress = 0x010000;
    public const uint RecordAddress0 = 0x100000;
    public const uint RecordAddress1 = 0x101000;
    public const uint SlotAAddress = 0x110000;
    public const uint SlotBAddress = 0x280000;
    public const int GoldenCapacity = 0x0F0000;
    public const int SlotCapacity = 0x170000;

    /// <summary>Bytes the layout needs from the flash.</summary>
    public const long RequiredFlashBytes = SlotBAddress + SlotCapacity;

    /// <summary>Status-register bits that protect the bottom 1 MiB (table and golden image) of a 4 MiB part: TB, BP = 101.</summary>
    public const byte GoldenProtection = 0x20 | (5 << 2);

    public const int TableEntryLength = 32;
    public const int TableEntries = 5;
    public const int RecordLength = 16;
    public const uint RecordMagic = 0x4F464252; // "OFBR"

    public static uint Address(FlashSlot slot) => slot switch
    {
        FlashSlot.Golden => GoldenAddress,
        FlashSlot.A => SlotAAddress,
        _ => SlotBAddress,
    };

    public static int Capacity(FlashSlot slot) => slot == FlashSlot.Golden ? GoldenCapacity : SlotCapacity;

    /// <summary>
    /// The warm-boot table as icemulti lays it out: entry 0 (power-on) and 1..4 (SB_WARMBOOT images 0..3), each the
    /// preamble 7E AA 99 7E, boot mode 92 00 00, boot address 44 03 + 24-bit address, bank offset 82 00 00, reboot
    /// 01 08, zeros to 32 bytes. Images: 0 golden, 1 slot A, 2 slot B, 3 golden; power-on loads the golden image.
    /// </summary>
    public static byte[] WarmBootTable()
    {
        var t = new byte[TableEntries * TableEntryLength];
        uint golden = GoldenAddress + FlashImage.HeaderLength;
        uint[] targets = [golden, golden, SlotAAddress + FlashImage.HeaderLength, SlotBAddress + FlashImage.HeaderLength, golden];
        for (int i = 0; i < TableEntries; i++)
        {
            var e = t.AsSpan(i * TableEntryLength, TableEntryLength);
            uint a = targets[i];
            ReadOnlySpan<byte> entry = [0x7E, 0xAA, 0x99, 0x7E, 0x92, 0x00, 0x00, 0x44, 0x03, (byte)(a >> 16), (byte)(a >> 8), (byte)a, 0x82, 0x00, 0x00, 0x01, 0x08];
            entry.CopyTo(e);
        }
        return t;
    }

    /// <summary>The image address a warm-boot table entry names, or null when the entry is not one.</summary>
    public static uint? TableTarget(ReadOnlySpan<byte> table, int entry)
    {
        if (table.Length < (entry + 1) * TableEntryLength)
            return null;
        var e = table.Slice(entry * TableEntryLength, TableEntryLength);
        if (!e[..4].SequenceEqual((ReadOnlySpan<byte>)[0x7E, 0xAA, 0x99, 0x7E]) || e[4] != 0x92 || e[7] != 0x44 || e[8] != 0x03
            || e[12] != 0x82 || e[15] != 0x01 || e[16] != 0x08)
            return null;
        return ((uint)e[9] << 16) | ((uint)e[10] << 8) | e[11];
    }

    /// <summary>A boot record: magic "OFBR", generation, the slot (1 A, 2 B), CRC-32 of the first 12 bytes; big-endian.</summary>
    public static byte[] Record(uint generation, FlashSlot slot)
    {
        if (slot == FlashSlot.Golden)
            throw new ArgumentException("a boot record names slot A or B", nameof(slot));
        var r = new byte[RecordLength];
        BinaryPrimitives.WriteUInt32BigEndian(r, RecordMagic);
        BinaryPrimitives.WriteUInt32BigEndian(r.AsSpan(4), generation);
        BinaryPrimitives.WriteUInt32BigEndian(r.AsSpan(8), (uint)slot);
        BinaryPrimitives.WriteUInt32BigEndian(r.AsSpan(12), Crc32.Compute(r.AsSpan(0, 12)));
        return r;
    }

    /// <summary>A valid record's generation and slot, or null (erased, cut short, or not a record).</summary>
    public static (uint Generation, FlashSlot Slot)? ParseRecord(ReadOnlySpan<byte> r)
    {
        if (r.Length < RecordLength || BinaryPrimitives.ReadUInt32BigEndian(r) != RecordMagic
            || BinaryPrimitives.ReadUInt32BigEndian(r[12..]) != Crc32.Compute(r[..12]))
            return null;
        uint slot = BinaryPrimitives.ReadUInt32BigEndian(r[8..]);
        return slot is 1 or 2 ? (BinaryPrimitives.ReadUInt32BigEndian(r[4..]), (FlashSlot)slot) : null;
    }

    /// <summary>The newer of two records (either may be absent), and the sector address holding it.</summary>
    public static (uint Generation, FlashSlot Slot, uint Address)? Newest(ReadOnlySpan<byte> record0, ReadOnlySpan<byte> record1)
    {
        var r0 = ParseRecord(record0);
        var r1 = ParseRecord(record1);
        if (r0 is null && r1 is null)
            return null;
        if (r1 is null || (r0 is { } a && a.Generation >= r1.Value.Generation))
            return (r0!.Value.Generation, r0.Value.Slot, RecordAddress0);
        return (r1.Value.Generation, r1.Value.Slot, RecordAddress1);
    }

    /// <summary>The bytes of a factory-fresh flash: table and golden image (what a programmer writes once).</summary>
    public static byte[] Factory(FlashImage golden)
    {
        ArgumentNullException.ThrowIfNull(golden);
        var bytes = golden.ToBytes();
        if (bytes.Length > GoldenCapacity)
            throw new ImageException($"golden image: {bytes.Length} bytes, the golden slot holds {GoldenCapacity}");
        var f = new byte[GoldenAddress + bytes.Length];
        Array.Fill(f, (byte)0xFF);
        WarmBootTable().CopyTo(f, (int)TableAddress);
        bytes.CopyTo(f, (int)GoldenAddress);
        return f;
    }
}

/// <summary>
/// What the board loads at power-on, decided from the flash alone: the configuration logic loads the warm-boot table's
/// power-on entry (the golden image); the golden image reads the newest boot record and warm-boots into its slot if
/// that slot's image checks (header, length, CRC-32), and otherwise stays. This is the decision the golden image's
/// logic makes on a board; here it runs over flash contents so co-simulated updates can be judged by it.
/// </summary>
public static class BootSelector
{
    /// <summary>Which image the board runs, and why.</summary>
    /// <param name="read">Reads flash bytes at an address.</param>
    /// <exception cref="ImageException">Nothing bootable: no table, or no good golden image.</exception>
    public static (FlashSlot Slot, string Board, string BuildInfo, string Reason) Select(Action<uint, Span<byte>> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        var table = new byte[FlashLayout.TableEntries * FlashLayout.TableEntryLength];
        read(FlashLayout.TableAddress, table);
        if (FlashLayout.TableTarget(table, 0) != FlashLayout.GoldenAddress + FlashImage.HeaderLength)
            throw new ImageException("flash: the warm-boot table's power-on entry does not name the golden image");
        var golden = Check(read, FlashSlot.Golden) ?? throw new ImageException("flash: the golden image does not check");
        var r0 = new byte[FlashLayout.RecordLength];
        var r1 = new byte[FlashLayout.RecordLength];
        read(FlashLayout.RecordAddress0, r0);
        read(FlashLayout.RecordAddress1, r1);
        if (FlashLayout.Newest(r0, r1) is not { } rec)
            return (FlashSlot.Golden, golden.Board, golden.BuildInfo, "no boot record");
        if (Check(read, rec.Slot) is { } img)
            return (rec.Slot, img.Board, img.BuildInfo, $"record {rec.Generation}");
        return (FlashSlot.Golden, golden.Board, golden.BuildInfo, $"record {rec.Generation} names slot {rec.Slot}, whose image does not check");
    }

    /// <summary>The image in a slot if it checks, else null.</summary>
    public static (string Board, string BuildInfo)? Check(Action<uint, Span<byte>> read, FlashSlot slot)
    {
        ArgumentNullException.ThrowIfNull(read);
        uint at = FlashLayout.Address(slot);
        var h = new byte[FlashImage.HeaderLength];
        read(at, h);
        try
        {
            var (board, build, length, crc) = FlashImage.ParseHeader(h, $"slot {slot}");
            if (length > FlashLayout.Capacity(slot) - FlashImage.HeaderLength)
                return null;
            var payload = new byte[length];
            read(at + FlashImage.HeaderLength, payload);
            return Crc32.Compute(payload) == crc ? (board, build) : null;
        }
        catch (ImageException)
        {
            return null;
        }
    }
}
