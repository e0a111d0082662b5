using System.CommandLine;
using System.Text.Json;
using Offload.Device.Transports;
using Spectre.Console;

namespace Offload.Cli;

/// <summary><c>offload devices</c>: the PCI functions and USB bridges on this host that Offload can drive, from /sys.</summary>
internal static class DevicesCommand
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Command Create(Option<bool> json)
    {
        var all = new Option<bool>("--all") { Description = "also list PCI functions and USB devices that match no known board or bridge" };
        var command = new Command("devices", "list the boards (PCIe) and USB bridges on this host that offload can drive, with the --device URI of each") { json, all };
        command.SetAction(r => Cli.Guard(() => Run(DeviceDiscovery.Find(all: r.GetValue(all)), r.GetValue(json), Console.Out)));
        return command;
    }

    public static int Run(IReadOnlyList<FoundDevice> devices, bool json, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(devices);
        ArgumentNullException.ThrowIfNull(output);
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(new { devices }, JsonOptions));
            return 0;
        }
        if (devices.Count == 0)
        {
            output.WriteLine("offload: no board or USB bridge that offload drives on this host (`--all` lists every PCI function and USB device); the in-process model is always there: --device model:");
            return 0;
        }
        var table = new Table().AddColumns("device", "ids", "what", "access", "detail");
        foreach (var d in devices)
            table.AddRow(Markup.Escape(d.Uri), d.Ids, Markup.Escape(d.Name), Markup.Escape(d.Access), Markup.Escape(d.Detail));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        console.Write(table);
        return 0;
    }
}
