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

    /// <summary>
    /// The parser words a value of the wrong kind for programmers ("as expected type 'System.Nullable`1[System.Int32]'");
    /// whoever typed it needs the option, the value and what it takes.
    /// </summary>
    public static string PlainParseError(string message)
    {
        var m = System.Text.RegularExpressions.Regex.Match(message, @"^Cannot parse argument '(?<value>.*)' for option '(?<option>[^']*)' as expected type '(?<type>[^']*)'\.?$");
        if (!m.Success)
            return message;
        string type = m.Groups["type"].Value;
        string kind = type.Contains("Int32", StringComparison.Ordinal) ? $"a whole number up to {int.MaxValue}"
            : type.Contains("Int64", StringComparison.Ordinal) ? $"a whole number up to {long.MaxValue}"
            : type.Contains("Double", StringComparison.Ordinal) ? "a number"
            : type.Contains("Boolean", StringComparison.Ordinal) ? "true or false"
            : "a value of another kind";
        return $"{m.Groups["option"].Value} '{m.Groups["value"].Value}': give {kind}";
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
