using System.Runtime.InteropServices;
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

    /// <summary>
    /// Runs <paramref name="body"/> with a token cancelled by Ctrl-C or SIGTERM. Invoke() runs actions synchronously,
    /// without the parser's own Ctrl-C handling: long-running commands stop cleanly here, print their summary and
    /// exit 0 instead of being killed.
    /// </summary>
    public static int UntilStopped(CancellationToken ct, Func<CancellationToken, int> body)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = true;
            stop.Cancel();
        }
        Console.CancelKeyPress += OnCancel;
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        try
        {
            return body(stop.Token);
        }
        finally
        {
            Console.CancelKeyPress -= OnCancel;
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
