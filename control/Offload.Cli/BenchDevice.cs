using System.CommandLine;
using System.Text.Json.Nodes;
using Offload.Benchmarks.Device;
using Spectre.Console;

namespace Offload.Cli;

/// <summary>`offload bench device [--json]`: register accesses, flow inserts and miss-path frames per second per transport.</summary>
internal static class BenchDevice
{
    public static Command Command(Option<bool> json)
    {
        var quick = new Option<bool>("--quick") { Description = "a tenth of the work per figure (seconds; noisier)" };
        var cmd = new Command("device", "register operations/s, flow inserts/s and miss-path frames/s through each transport that runs here (model, tcp, usb through the software FTDI), batched and not; flash program+verify of a 1 MiB image") { json, quick };
        cmd.SetAction(r => Cli.Guard(() => Run(r.GetValue(json), r.GetValue(quick), Console.Out)));
        return cmd;
    }

    public static int Run(bool asJson, bool quick, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var result = DeviceBench.Run(quick, msg => { if (!asJson) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(msg)}…[/]"); });
        if (asJson)
        {
            output.WriteLine(Json(result).ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().AddColumns("transport", "batched", "register ops/s", "flow inserts/s", "miss frames/s");
        foreach (var t in result.Transports)
        {
            table.AddRow(Markup.Escape(t.Uri), t.Batched ? "yes" : "no", Cli.Human(t.CsrOpsPerSecond), Cli.Human(t.FlowInsertsPerSecond),
                Cli.Human(t.MissFramesPerSecond));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(result.Note)}[/]");
        if (result.Flash is { } f)
        {
            AnsiConsole.MarkupLine($"flash: {f.Bytes} bytes programmed and verified in {f.ProgramVerifyCycles:N0} model cycles = {f.SecondsAtSpiClock:0.00} s at a 100 MHz core (SCK 25 MHz), " +
                $"plus about {f.DatasheetBusySeconds:0.0} s of data-sheet program and erase time on a board; verified: {(f.Verified ? "yes" : "NO")}");
        }
        return 0;
    }

    public static JsonObject Json(DeviceBenchResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var rows = new JsonArray();
        foreach (var t in r.Transports)
        {
            rows.Add(new JsonObject
            {
                ["uri"] = t.Uri,
                ["batched"] = t.Batched,
                ["csr_ops_per_second"] = Math.Round(t.CsrOpsPerSecond),
                ["flow_inserts_per_second"] = Math.Round(t.FlowInsertsPerSecond),
                ["miss_frames_per_second"] = Math.Round(t.MissFramesPerSecond),
            });
        }
        return new JsonObject
        {
            ["transports"] = rows,
            ["note"] = r.Note,
            ["flash"] = r.Flash is not { } f ? null : new JsonObject
            {
                ["bytes"] = f.Bytes,
                ["program_verify_cycles"] = f.ProgramVerifyCycles,
                ["seconds_at_spi_clock"] = Math.Round(f.SecondsAtSpiClock, 3),
                ["datasheet_busy_seconds"] = Math.Round(f.DatasheetBusySeconds, 2),
                ["verified"] = f.Verified,
            },
            ["runs_per_figure"] = 3,
        };
    }
}
