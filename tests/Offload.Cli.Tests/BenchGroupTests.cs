using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Offload.Cli.Tests;

/// <summary>`offload bench group --json --quick` as a user runs it: the real executable, its JSON checked.</summary>
public class BenchGroupTests
{
    [Test]
    public void Bench_group_prints_failover_distribution_and_scale_figures_as_JSON()
    {
        var (code, stdout, stderr) = Offload("bench", "group", "--json", "--quick", "--seed", "3");
        Assert.That(code, Is.Zero, stderr);
        JsonNode doc = JsonNode.Parse(stdout)!;

        var failover = doc["failover"]!.AsArray();
        Assert.That(failover.Select(f => ((int)f!["hello_ms"]!, (int)f["hold_ms"]!)), Is.EqualTo(new[] { (50, 150), (1000, 3000), (3000, 10000) }));
        foreach (var f in failover)
        {
            double hello = (double)f!["hello_ms"]!, hold = (double)f["hold_ms"]!;
            foreach (string key in new[] { "forwarder_takeover_ms", "avg_takeover_ms" })
            {
                double ms = (double)f[key]!;
                // Peers expire a crashed member one hold after its last hello, sent at most one hello before the crash.
                Assert.That(ms, Is.GreaterThan(hold - hello).And.LessThanOrEqualTo(hold + hello), $"{key} at {hello}/{hold}");
            }
            Assert.That((bool)f["goal_met"]!, Is.True);
            Assert.That((int)f["invariant_violations"]!, Is.Zero);
        }
        Assert.That((double)failover[0]!["forwarder_takeover_ms"]!, Is.LessThan(200), "50/150 ms: under 200 ms");

        var arp = doc["arp_distribution"]!.AsArray();
        Assert.That(arp.Select(a => (string)a!["mode"]!).Distinct(), Is.EquivalentTo(new[] { "round-robin", "weighted", "host-dependent", "load-based" }));
        Assert.That(arp.Select(a => (int)a!["forwarders"]!).Distinct(), Is.EquivalentTo(new[] { 4, 8 }));
        foreach (var a in arp)
        {
            int hosts = (int)a!["hosts"]!, k = (int)a["forwarders"]!;
            int max = (int)a["max_per_forwarder"]!, min = (int)a["min_per_forwarder"]!;
            var per = a["per_forwarder"]!.AsArray().Select(x => (int)x!).ToList();
            Assert.That(per, Has.Count.EqualTo(k));
            Assert.That(per.Sum(), Is.EqualTo(hosts), "every host got a vMAC");
            Assert.That((per.Max(), per.Min()), Is.EqualTo((max, min)));
            Assert.That(min, Is.GreaterThan(0), "every forwarder gets hosts");
            string mode = (string)a["mode"]!;
            if (mode == "round-robin")
                Assert.That(max - min, Is.LessThanOrEqualTo(1), "round-robin is as even as the host count allows");
            if (mode == "host-dependent")
                Assert.That((double)a["unchanged_after_avg_failover"]!, Is.EqualTo(1.0));
            else
                Assert.That((double)a["max_deviation_hosts"]!, Is.LessThanOrEqualTo((hosts / 256.0) + 1), $"{mode} within one slot of ideal");
            if (mode is "weighted" or "load-based")
                Assert.That(max, Is.GreaterThan(min * 2), $"{mode}: unequal weights give unequal shares");
        }

        var scale = doc["scale"]!;
        Assert.That((int)scale["members_per_group"]!, Is.EqualTo(8));
        Assert.That((int)scale["groups_with_one_active"]!, Is.EqualTo((int)scale["groups"]!));
        Assert.That((long)scale["hellos_processed"]!, Is.GreaterThan(0));
        Assert.That((double)scale["cpu_us_per_hello"]!, Is.GreaterThan(0));
        Assert.That((double)scale["managed_bytes_per_group"]!, Is.GreaterThan(0));
        Assert.That((bool)doc["goals_met"]!["failover"]!, Is.True);
        Assert.That((bool)doc["goals_met"]!["arp_distribution"]!, Is.True);
    }

    [Test]
    public void The_virtual_time_figures_are_the_same_for_the_same_seed()
    {
        static JsonNode Figures(string seed)
        {
            var (code, stdout, stderr) = Offload("bench", "group", "--json", "--quick", "--seed", seed);
            Assert.That(code, Is.Zero, stderr);
            var doc = JsonNode.Parse(stdout)!.AsObject();
            return new JsonArray(doc["failover"]!.DeepClone(), doc["arp_distribution"]!.DeepClone());
        }

        var a = Figures("5");
        Assert.That(JsonNode.DeepEquals(a, Figures("5")), Is.True);
        Assert.That(JsonNode.DeepEquals(a, Figures("6")), Is.False, "another seed crashes at other moments");
    }

    private static string DotnetHost() => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    private static (int Code, string Out, string Err) Offload(params string[] args)
    {
        var psi = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "offload.dll"));
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"offload {string.Join(' ', args)} did not finish in 2 minutes");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
