using Offload.Device;
using Offload.Device.Flash;

namespace Offload.Cli.Tests;

/// <summary><c>offload flash</c>: bad input is one line and exit 2, before any device is opened.</summary>
public class FlashCommandInputTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("offload-flash-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void A_bad_image_is_refused_by_name_before_the_device_is_opened()
    {
        string path = Path.Combine(_dir, "bad.img");
        File.WriteAllBytes(path, new byte[100]);
        var err = new StringWriter();
        // VID 0000 belongs to no device: had the device been opened first, the message would say so
        int rc = FlashCommand.Run("usb:0000:0001", path, null, false, TextWriter.Null, err);
        Assert.That((rc, err.ToString().Trim()), Is.EqualTo((2, $"offload: {path}: not an Offload image (magic 0x00000000, expected 0x4F46494D \"OFIM\")")));
    }

    [Test]
    public void A_missing_file_a_bad_slot_and_a_bad_uri_are_each_one_line()
    {
        string path = Path.Combine(_dir, "none.img");
        var err = new StringWriter();
        Assert.That(FlashCommand.Run("model:", path, null, false, TextWriter.Null, err), Is.EqualTo(2));
        Assert.That(err.ToString().Trim(), Does.StartWith($"offload: {path}: Could not find file"));
        err = new StringWriter();
        Assert.That(FlashCommand.Run("model:", path, "golden", false, TextWriter.Null, err), Is.EqualTo(2));
        Assert.That(err.ToString().Trim(), Is.EqualTo("offload: --slot 'golden': give a or b (the golden image is never written by an update)"));
        err = new StringWriter();
        Assert.That(FlashCommand.Run("usb:12", path, null, false, TextWriter.Null, err), Is.EqualTo(2));
        Assert.That(err.ToString().Trim(), Does.StartWith("offload: --device: device 'usb:12': give usb:VID:PID"));
    }
}

/// <summary><c>offload flash</c> on the model, whose flash holds a factory layout.</summary>
[Category("Model")]
public class FlashCommandModelTests
{
    private static FlashImage Image(string build, int seed)
    {
        var p = new byte[4000];
        new Random(seed).NextBytes(p);
        ((ReadOnlySpan<byte>)[0xFF, 0x00, 0x00, 0xFF, 0x7E, 0xAA, 0x99, 0x7E]).CopyTo(p);
        return new FlashImage("hx8k-edge", build, p);
    }

    [Test]
    public void Flash_then_verify_only()
    {
        using var model = ModelDevice.Create(64);
        model.Model.FlashLoad(0, FlashLayout.Factory(Image("golden", 1)));
        var out1 = new StringWriter();
        var err = new StringWriter();
        Assert.That(FlashCommand.Run(model, Image("v2", 2), "v2.img", null, false, out1, err), Is.Zero, err.ToString());
        Assert.That(out1.ToString(), Does.Contain("offload: programming").And.Contain("written to slot a and verified; boot record 1"));
        var out2 = new StringWriter();
        Assert.That(FlashCommand.Run(model, Image("v2", 2), "v2.img", null, true, out2, err), Is.Zero);
        Assert.That(out2.ToString(), Does.EndWith("offload: slot a matches v2.img" + Environment.NewLine));
        var out3 = new StringWriter();
        Assert.That(FlashCommand.Run(model, Image("v3", 3), "v3.img", FlashSlot.A, true, out3, err), Is.EqualTo(1));
        Assert.That(out3.ToString(), Does.EndWith("offload: slot a differs from v3.img" + Environment.NewLine));
    }
}
