using System.CommandLine;
using Offload.Device;
using Offload.Device.Flash;
using Offload.Device.Transports;

namespace Offload.Cli;

/// <summary>
/// <c>offload flash --device URI --image FILE [--slot a|b] [--verify-only]</c>: writes an image into the inactive (or the
/// named) slot of a board's configuration flash through its SPI-flash controller, on any transport, and makes it the
/// one the golden image boots; or only compares a slot with the image. Everything about the image is checked before the
/// device is opened or anything erased (docs/dataplane.md, "Images and the flash layout").
/// </summary>
internal static class FlashCommand
{
    public static Command Create()
    {
        var device = new Option<string>("--device") { Description = $"the board: {DeviceUri.Known}", Required = true };
        var image = new Option<string>("--image") { Description = "the image file: a 64-byte Offload header, then the bitstream (docs/dataplane.md)", Required = true };
        var slot = new Option<string?>("--slot") { Description = "a or b (default: the one the board does not boot; with --verify-only, the one it boots)" };
        var verifyOnly = new Option<bool>("--verify-only") { Description = "compare the slot with the image, write nothing" };
        var command = new Command("flash", "put an image into a board's configuration flash (A/B slots, golden image kept)") { device, image, slot, verifyOnly };
        command.SetAction(r => Run(r.GetValue(device)!, r.GetValue(image)!, r.GetValue(slot), r.GetValue(verifyOnly), Console.Out, Console.Error,
            !Console.IsOutputRedirected));
        return command;
    }

    public static int Run(string deviceText, string imagePath, string? slotText, bool verifyOnly, TextWriter output, TextWriter error, bool bar = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        DeviceUri uri;
        try
        {
            uri = DeviceUri.Parse(deviceText);
        }
        catch (FormatException e)
        {
            return Fail(error, $"--device: {e.Message}");
        }
        FlashSlot? slot = slotText?.Trim().ToLowerInvariant() switch
        {
            null => null,
            "a" => FlashSlot.A,
            "b" => FlashSlot.B,
            _ => (FlashSlot?)(FlashSlot)(-1),
        };
        if (slot == (FlashSlot)(-1))
            return Fail(error, $"--slot '{slotText}': give a or b (the golden image is never written by an update)");
        FlashImage image;
        try
        {
            image = FlashImage.Load(imagePath);
        }
        catch (ImageException e)
        {
            return Fail(error, e.Message);
        }
        return Cli.Guard(() =>
        {
            using var dev = DeviceOpener.Open(uri);
            return Run(dev, image, imagePath, slot, verifyOnly, output, error, bar);
        });
    }

    /// <summary>The command on an open device (tests pass a model whose flash holds a factory layout).</summary>
    public static int Run(IDevice device, FlashImage image, string imagePath, FlashSlot? slot, bool verifyOnly, TextWriter output, TextWriter error, bool bar = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        // the in-process model's clock runs only when told: between status polls it runs as a board's would
        Action? wait = device is ModelDevice m ? () => m.Run(256) : null;
        var updater = new FlashUpdater(new SpiFlash(device, wait));
        var progress = new ProgressLine(output, bar);
        updater.Progress = progress.Report;
        try
        {
            if (verifyOnly)
            {
                var s = slot ?? updater.Active();
                bool same = updater.Verify(image, s);
                progress.End();
                output.WriteLine($"offload: slot {Name(s)} {(same ? "matches" : "differs from")} {imagePath}");
                return same ? 0 : 1;
            }
            var r = updater.Update(image, slot, imagePath);
            progress.End();
            output.WriteLine($"offload: {imagePath} ({r.Bytes} bytes, board '{image.Board}', build '{image.BuildInfo}') written to slot {Name(r.Slot)} and verified; boot record {r.Generation} makes it the image the board boots");
            return 0;
        }
        catch (ImageException e)
        {
            progress.End();
            return Fail(error, e.Message);
        }
    }

    private static string Name(FlashSlot s) => s.ToString().ToLowerInvariant();

    private static int Fail(TextWriter error, string message)
    {
        error.WriteLine($"offload: {message}");
        return 2;
    }

    /// <summary>A progress bar on a terminal (redrawn in place), one line per phase otherwise.</summary>
    private sealed class ProgressLine(TextWriter output, bool bar)
    {
        private FlashPhase? _phase;
        private int _shown = -1;

        public void Report(FlashPhase phase, long done, long total)
        {
            int pct = total <= 0 ? 100 : (int)(100 * done / total);
            if (phase == _phase && (pct / 2) == (_shown / 2))
                return;
            if (phase != _phase && !bar && phase is not FlashPhase.Done)
                output.WriteLine($"offload: {Describe(phase)}");
            _phase = phase;
            _shown = pct;
            if (bar)
                output.Write($"\r[{new string('#', pct / 5),-20}] {Describe(phase),-22} {pct,3}%");
        }

        public void End()
        {
            if (bar && _phase is not null)
                output.WriteLine();
        }

        private static string Describe(FlashPhase p) => p switch
        {
            FlashPhase.Check => "checking",
            FlashPhase.Erase => "erasing the slot",
            FlashPhase.Program => "programming",
            FlashPhase.Verify => "verifying",
            FlashPhase.RecordErase => "erasing the boot record",
            FlashPhase.RecordProgram => "writing the boot record",
            _ => "done",
        };
    }
}
