using System.Diagnostics;

namespace Offload.Cli.Tests;

/// <summary>Arguments the parser refuses: one line naming each problem on stderr, exit 2, no help dump.</summary>
public class ArgumentErrorTests
{
    private static (int Rc, string Out, string Err) Offload(params string[] args)
    {
        string dll = Path.Combine(TestContext.CurrentContext.TestDirectory, "offload.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, err);
    }

    [TestCase(new[] { "bogus" }, "'bogus'")]
    [TestCase(new[] { "demo", "--hosts", "500" }, "--hosts 500: give 1 to 120")]
    [TestCase(new[] { "demo", "--width", "12" }, "--width 12")]
    [TestCase(new[] { "sim" }, "--pcap")]
    [TestCase(new[] { "lab", "up", "--hosts", "0" }, "--hosts 0: give 1 to 64")]
    [TestCase(new[] { "lab", "demo", "--gateways", "9" }, "--gateways 9: give 2 to 8")]
    [TestCase(new[] { "lab", "up", "--hello-ms", "200", "--hold-ms", "100" }, "--hold-ms 100: give more than --hello-ms (200)")]
    [TestCase(new[] { "lab", "up", "--hello-ms", "9" }, "--hello-ms 9: give 10 to 60000")]
    [TestCase(new[] { "bench", "lab", "--timers", "10/30,5/20" }, "--timers '5/20': give a hello of 10 to 60000 ms")]
    [TestCase(new[] { "bench", "lab", "--timers", "fast" }, "--timers 'fast': give HELLO/HOLD in ms")]
    [TestCase(new[] { "bench", "wire", "--frames", "5" }, "--frames 5: give 1000 to 10000000")]
    [TestCase(new[] { "bench", "wire", "--size", "9000" }, "--size 9000: give 60 to 1514")]
    public void Refused_arguments_exit_2_with_the_problem_named(string[] args, string named)
    {
        var (rc, stdout, err) = Offload(args);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(err, Does.Contain(named));
            Assert.That(err.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.All.StartWith("offload: "));
            Assert.That(stdout, Does.Not.Contain("Usage:"), "no help dump for a mistake");
        }
    }

    [TestCase(new[] { "glbp", "watch", "--interface", "lo", "--seconds", "99999999999" }, "--seconds '99999999999': give a whole number")]
    [TestCase(new[] { "run", "--config", "x.json", "--seconds", "soon" }, "--seconds 'soon': give a number")]
    [TestCase(new[] { "agent", "--weight", "heavy" }, "--weight 'heavy': give a whole number")]
    public void A_value_of_the_wrong_kind_is_named_without_dotnet_types(string[] args, string named)
    {
        var (rc, _, err) = Offload(args);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(err, Does.Contain(named));
            Assert.That(err, Does.Not.Contain("System."));
        }
    }

    [Test]
    public void Help_is_still_help()
    {
        var (rc, stdout, _) = Offload("--help");
        Assert.That(rc, Is.Zero);
        Assert.That(stdout, Does.Contain("Usage:"));
    }
}
