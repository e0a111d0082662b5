using System.Globalization;
using System.Text.RegularExpressions;
using Offload.Cli;
using Spectre.Console;

namespace Offload.Cli.Tests;

/// <summary>
/// `offload demo`'s second act (two gateways, one fails) as a user sees it: its last line's figures must be the ones
/// the run measured, for the number of hosts asked for, and the first act's verdict still comes before it.
/// </summary>
[NonParallelizable]
[Category("Model")]
public partial class DemoFailoverTests
{
    [GeneratedRegex(@"^Failover: (gw-[a-z]) took over vMAC ([0-9a-f:]{17}) in ([0-9.]+) s \(hold ([0-9.]+) s\); (\d+) of (\d+) established connections continued on their backends; (\d+) lost\.$", RegexOptions.Multiline)]
    private static partial Regex FinalLine();

    private static (IAnsiConsole Console, StringWriter Text) Capture()
    {
        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(text),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
        });
        // Wide enough that the last line never wraps, so it can be read back as one line.
        console.Profile.Width = 400;
        return (console, text);
    }

    [Test]
    public void The_second_acts_last_line_reports_what_the_run_measured()
    {
        const int hosts = 9;
        string? example = DemoFailover.FindExample();
        Assert.That(example, Is.Not.Null, "examples/gateway.json is found from the test's folder");
        var (console, text) = Capture();

        var summary = DemoFailover.Run(hosts, example, console);

        string output = text.ToString();
        var m = FinalLine().Match(output);
        Assert.That(m.Success, Is.True, $"no final line in:\n{output}");
        double took = double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        double hold = double.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture);
        Assert.Multiple(() =>
        {
            Assert.That(summary.Ok, Is.True, summary.Line);
            Assert.That(m.Value, Is.EqualTo(summary.Line));
            Assert.That(m.Groups[1].Value, Is.EqualTo("gw-b"), "the peer of the AVG that failed");
            Assert.That(m.Groups[2].Value, Is.EqualTo("00:07:b4:00:01:01"), "gw-a's vMAC: group 1, forwarder 1");
            Assert.That(hold, Is.EqualTo(3.0), "the example's hold time");
            Assert.That(took, Is.GreaterThan(0).And.LessThanOrEqualTo(hold + 1.0), "within hold + one hello (1 s in the example)");
            Assert.That(int.Parse(m.Groups[5].Value, CultureInfo.InvariantCulture), Is.EqualTo(hosts), "continued");
            Assert.That(int.Parse(m.Groups[6].Value, CultureInfo.InvariantCulture), Is.EqualTo(hosts), "one established connection per host");
            Assert.That(int.Parse(m.Groups[7].Value, CultureInfo.InvariantCulture), Is.Zero, "lost");
            Assert.That(summary.TakeoverAfter!.Value.TotalSeconds, Is.EqualTo(took).Within(0.001));
            Assert.That(output, Does.Contain($"{hosts} of {hosts} hosts answered; replies sent by gw-a's hardware ({hosts})"));
            Assert.That(output, Does.Contain("Goal: 0 connections lost."));
            Assert.That(output.IndexOf("gw-a fails", StringComparison.Ordinal), Is.LessThan(m.Index), "the line closes the act");
        });
    }

    [Test]
    public void Offload_demo_runs_both_acts_and_exits_zero_when_nothing_was_lost()
    {
        const int hosts = 5;
        var (console, text) = Capture();
        var saved = AnsiConsole.Console;
        AnsiConsole.Console = console;
        int rc;
        try
        {
            rc = Demo.Run(64, hosts, outDir: null);
        }
        finally
        {
            AnsiConsole.Console = saved;
        }
        string output = text.ToString();
        int first = output.IndexOf("Model and reference model agree on all", StringComparison.Ordinal);
        var m = FinalLine().Match(output);
        Assert.Multiple(() =>
        {
            Assert.That(rc, Is.Zero, output);
            Assert.That(first, Is.GreaterThanOrEqualTo(0), "the first act's verdict is unchanged");
            Assert.That(m.Success, Is.True, "the second act ran");
            Assert.That(m.Index, Is.GreaterThan(first), "after the first act");
            Assert.That(m.Groups[6].Value, Is.EqualTo(hosts.ToString(CultureInfo.InvariantCulture)), "--hosts reaches the second act");
            Assert.That(m.Groups[7].Value, Is.EqualTo("0"));
        });

        (console, text) = Capture();
        AnsiConsole.Console = console;
        try
        {
            rc = Demo.Run(64, hosts, outDir: null, failover: false);
        }
        finally
        {
            AnsiConsole.Console = saved;
        }
        Assert.That(rc, Is.Zero);
        Assert.That(FinalLine().IsMatch(text.ToString()), Is.False, "--no-failover skips the second act");
    }
}
