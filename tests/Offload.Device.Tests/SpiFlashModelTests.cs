using Offload.Device.Flash;

namespace Offload.Device.Tests;

/// <summary>The SPI-flash controller (ofl_spi_flash) driving the model's behavioural SPI NOR flash, through the CSR bus.</summary>
[Category("Model")]
public class SpiFlashModelTests
{
    private ModelDevice _model = null!;
    private SpiFlash _flash = null!;

    [SetUp]
    public void SetUp()
    {
        _model = ModelDevice.Create(64);
        // the model's clock runs only during accesses; between polls it runs as a board's would
        _flash = new SpiFlash(_model, () => _model.Run(256));
    }

    [TearDown]
    public void TearDown() => _model.Dispose();

    [Test]
    public void Jedec_id_and_status_come_back()
    {
        var id = _flash.ReadJedecId();
        Assert.That((id, id.SizeBytes), Is.EqualTo((new JedecId(0xEF, 0x40, 0x16), 4L << 20)));
        Assert.That(_flash.ReadStatus(), Is.Zero);
    }

    [Test]
    public void A_programmed_page_reads_back_and_an_erase_clears_it()
    {
        var page = new byte[SpiFlash.PageSize];
        new Random(5).NextBytes(page);
        _flash.Erase(0x10000, SpiFlash.SectorSize);
        _flash.ProgramPage(0x10100, page);
        var back = new byte[SpiFlash.PageSize + 8];
        _flash.Read(0x100FC, back);
        Assert.That(back[..4], Is.All.EqualTo(0xFF));
        Assert.That(back.AsSpan(4, SpiFlash.PageSize).ToArray(), Is.EqualTo(page));
        var raw = new byte[SpiFlash.PageSize];
        _model.Model.FlashRead(0x10100, raw);
        Assert.That(raw, Is.EqualTo(page), "the flash itself holds it");
        _flash.Erase(0x10000, SpiFlash.SectorSize);
        _flash.Read(0x10100, raw);
        Assert.That(raw, Is.All.EqualTo(0xFF));
        Assert.That(_flash.Polls, Is.GreaterThan(3), "program and erase were waited out by polling BUSY");
    }

    [Test]
    public void A_half_page_program_and_a_64k_block_erase()
    {
        _flash.ProgramPage(0x20080, [1, 2, 3]);
        var b = new byte[4];
        _flash.Read(0x20080, b);
        Assert.That(b, Is.EqualTo(new byte[] { 1, 2, 3, 0xFF }));
        _flash.Erase(0x20000, SpiFlash.BlockSize);
        _flash.Read(0x20080, b);
        Assert.That(b, Is.All.EqualTo(0xFF));
    }

    [Test]
    public void Block_protect_bits_keep_the_bottom_mebibyte_from_erase_and_program()
    {
        _model.Model.FlashLoad(0x1000, [0x5A, 0x5A]);
        const byte bottom1MiB = 0x20 | (5 << 2); // TB = 1, BP = 101: the lower 1 MiB of a 4 MiB part
        _flash.WriteProtection(bottom1MiB);
        Assert.That(_flash.ReadStatus() & SpiFlash.StatusProtectMask, Is.EqualTo(bottom1MiB));
        _flash.Erase(0x1000, SpiFlash.SectorSize);
        _flash.ProgramPage(0x1000, [0]);
        _flash.ProgramPage(0x100000, [0x42]);
        var b = new byte[2];
        _flash.Read(0x1000, b);
        Assert.That(b, Is.EqualTo(new byte[] { 0x5A, 0x5A }), "protected: neither erased nor programmed");
        _flash.Read(0x100000, b.AsSpan(0, 1));
        Assert.That(b[0], Is.EqualTo(0x42), "above the protected range");
        Assert.That(_model.Model.FlashCounts().Refused, Is.EqualTo(2));
        _flash.WriteProtection(0);
        _flash.Erase(0x1000, SpiFlash.SectorSize);
        _flash.Read(0x1000, b);
        Assert.That(b, Is.All.EqualTo(0xFF));
    }
}
