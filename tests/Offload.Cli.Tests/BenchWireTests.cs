using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Offload.Cli.Tests;

/// <summary>
/// <c>offload bench wire</c> as a user runs it (root): it makes its namespace and veth pair, reads the same numbered frames
/// with each method, and removes the namespace. What is checked is what the figures rest on: every reader took what the
/// sender wrote, in order and whole, or the kernel counted what it dropped; never a figure's size.
/// </summary>
[Category("System")]
public class BenchWireTests
{
    [Test]
    public void Each_reading_method_takes_the_numbered_frames_in_order_and_the_namespace_is_removed()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])[Path.Combine(TestContext.CurrentContext.TestDirectory, "offload.dll"), "bench", "wire", "--json", "--frames", "2000", "--rounds", "1"])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var error = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.That(p.WaitForExit(120_000), Is.True, "bench wire ended");
        Assert.That(p.ExitCode, Is.Zero, error.Result);
        var methods = JsonNode.Parse(output)!["methods"]!.AsArray();
        Assert.That(methods.Select(m => (string)m!["method"]!), Is.EqualTo(new[] { "plain", "recvmmsg", "tpacket-v3" }));
        foreach (var m in methods)
        {
            long received = (long)m!["received"]!;
            Assert.That((long)m["out_of_order"]!, Is.Zero, $"{m["method"]}: frames in order, of the length sent");
            Assert.That(received, Is.GreaterThan(0), $"{m["method"]} read frames");
            Assert.That(received + (long)m["kernel_drops"]!, Is.LessThanOrEqualTo(2000), $"{m["method"]}: nothing counted twice");
            Assert.That((double)m["paced_latency_us"]!["p50"]!, Is.GreaterThan(0), $"{m["method"]}: the paced frames came");
        }
        // A 8 MiB ring holds 2,000 small frames many times over: it must not lose one.
        Assert.That((long)methods[2]!["received"]!, Is.EqualTo(2000));
        var namespaces = Process.Start(new ProcessStartInfo("ip", "netns list") { RedirectStandardOutput = true })!;
        string list = namespaces.StandardOutput.ReadToEnd();
        namespaces.WaitForExit();
        Assert.That(list, Does.Not.Contain($"offload-wire-{p.Id}"), "the bench removed its namespace");
    }
}
