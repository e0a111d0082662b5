using Offload.Device;
using Offload.HwModel;
using Offload.Protocol.Pcap;
using Spectre.Console;

namespace Offload.Cli;

internal static class Cli
{
    /// <summary>Turns the errors a user can cause into one clear line and exit code 2 instead of a stack trace.</summary>
    public static int Guard(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is ConfigException or PcapFormatException or IOException or UnauthorizedAccessException or HwModelException or DeviceException or FlowTableFullException)
        {
            Console.Error.WriteLine($"offload: {e.Message}");
            return 2;
        }
    }

    public static string Human(double v) => v switch
    {
        >= 1e9 => $"{v / 1e9:0.00} G",
        >= 1e6 => $"{v / 1e6:0.00} M",
        >= 1e3 => $"{v / 1e3:0.0} k",
        _ => $"{v:0.##}",
    };

    public static void Rule(string title) => AnsiConsole.Write(new Rule($"[bold]{Markup.Escape(title)}[/]").LeftJustified());
}
