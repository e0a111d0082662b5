using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Offload.Benchmarks.Balancer;
using Spectre.Console;

namespace Offload.Cli;

/// <summary>
/// `offload bench balancer [--json] [--quick]`: the classifier, Maglev, placement and consistency figures of issue 5.
/// The classifier runs against a register file in memory (no transport), as the issue defines its throughput.
/// </summary>
internal static class BenchBalancer
{
    public const string TransportNote = "classifier, tracker and placement run for real against a register file in memory: the transport (model, USB, PCIe) is excluded";

    public static Command Command()
    {
        var json = new Option<bool>("--json") { Description = "print JSON for scripts instead of a table" };
        var quick = new Option<bool>("--quick") { Description = "fewer flows and repeats (seconds instead of a minute; noisier figures)" };
        var cmd = new Command("balancer", "classifier flows/s per core, Maglev build/balance/disruption, table occupancy, connection consistency") { json, quick };
        cmd.SetAction(r => Cli.Guard(() => Run(r.GetValue(json), r.GetValue(quick), Console.Out)));
        return cmd;
    }

    public static int Run(bool asJson, bool quick, TextWriter jsonOut)
    {
        ArgumentNullException.ThrowIfNull(jsonOut);
        var result = BalancerBench.Run(quick, msg => { if (!asJson) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(msg)}…[/]"); });
        if (asJson)
            jsonOut.WriteLine(Json(result).ToJsonString());
        else
            Table(result);
        return 0;
    }

    public static JsonObject Json(BalancerBenchResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var m100 = r.MaglevAt(100);
        var m1000 = r.MaglevAt(1000);
        var disruption = r.MaglevAt(BalancerBenchResult.DisruptionBackends);
        return new JsonObject
        {
            ["classify_flows_per_second"] = Math.Round(r.Nat.FlowsPerSecond),
            ["classify_dsr_flows_per_second"] = Math.Round(r.Dsr.FlowsPerSecond),
            ["classify_flows"] = r.Nat.Flows,
            ["classify_installed"] = r.Nat.Installed,
            ["classify_note"] = TransportNote,
            ["classify_warmup_seconds"] = r.Nat.WarmupSeconds,
            ["maglev_table_size"] = m100.TableSize,
            ["maglev_build_ms"] = new JsonObject { ["100"] = Math.Round(m100.BuildMsMedian, 3), ["1000"] = Math.Round(m1000.BuildMsMedian, 3) },
            ["maglev_build_ms_paper"] = BalancerBenchResult.PaperBuildMs,
            ["maglev_max_over_mean"] = Math.Round(r.MaxOverMean, 5),
            ["maglev_max_over_mean_by_backends"] = new JsonObject(r.Maglev.Select(m =>
                KeyValuePair.Create(m.Backends.ToString(CultureInfo.InvariantCulture), (JsonNode?)Math.Round(m.MaxOverMean, 5)))),
            ["maglev_disruption_fraction"] = new JsonObject
            {
                ["backends"] = disruption.Backends,
                ["moved"] = Math.Round(disruption.RemovalDisruption, 6),
                ["goal"] = Math.Round(r.DisruptionGoal, 6),
            },
            ["table_capacity"] = r.Occupancy.Capacity,
            ["table_occupancy_reached"] = Math.Round(r.Occupancy.MinOccupancy, 5),
            ["table_occupancy_mean"] = Math.Round(r.Occupancy.MeanOccupancy, 5),
            ["table_fills"] = r.Occupancy.Fills,
            ["table_inserts_per_second"] = Math.Round(r.Occupancy.InsertsPerSecond),
            ["consistency_violations"] = r.Consistency.Violations,
            ["consistency_flows"] = r.Consistency.Flows,
            ["consistency_established_packets"] = r.Consistency.EstablishedPackets,
            ["consistency_pool_changes"] = r.Consistency.PoolChanges,
            ["consistency_reclassified_packets"] = r.Consistency.ReclassifiedPackets,
            ["quick"] = r.Quick,
            ["goals_met"] = new JsonObject
            {
                ["classify_flows_per_second"] = r.Nat.FlowsPerSecond >= BalancerBenchResult.ClassifyGoal,
                ["maglev_max_over_mean"] = r.MaxOverMean <= BalancerBenchResult.BalanceGoal,
                ["maglev_disruption_fraction"] = disruption.RemovalDisruption <= r.DisruptionGoal,
                ["table_occupancy_reached"] = r.Occupancy.MinOccupancy >= BalancerBenchResult.OccupancyGoal,
                ["consistency_violations"] = r.Consistency.Violations == 0,
            },
        };
    }

    private static void Table(BalancerBenchResult r)
    {
        AnsiConsole.MarkupLine($"[bold]Balancer[/]{(r.Quick ? " (quick run)" : "")}: {Markup.Escape(TransportNote)}.");
        var t = new Table().AddColumns("figure", "value", "goal", "met");
        t.AddRow(I($"new flows classified and placed / s, one core, NAT (2 entries; after {r.Nat.WarmupSeconds:0.#} s warm-up)"), Cli.Human(r.Nat.FlowsPerSecond), "≥ 1 M", Met(r.Nat.FlowsPerSecond >= BalancerBenchResult.ClassifyGoal));
        t.AddRow("the same, DSR (1 entry)", Cli.Human(r.Dsr.FlowsPerSecond), "", "");
        foreach (var m in r.Maglev)
        {
            t.AddRow(I($"Maglev build, M={m.TableSize}, N={m.Backends} (median ms)"), I($"{m.BuildMsMedian:F2}"), I($"paper: {BalancerBenchResult.PaperBuildMs} ms"), "");
        }
        foreach (var m in r.Maglev)
        {
            bool covered = m.Backends <= BalancerBenchResult.BalanceGoalMaxBackends;
            t.AddRow(I($"Maglev max/mean share, N={m.Backends}"), I($"{m.MaxOverMean:F4}"), covered ? "≤ 1.01" : "(goal covers N ≤ 650)", covered ? Met(m.MaxOverMean <= BalancerBenchResult.BalanceGoal) : "");
        }
        var d = r.MaglevAt(BalancerBenchResult.DisruptionBackends);
        t.AddRow(I($"keys moved when one of N={d.Backends} leaves"), d.RemovalDisruption.ToString("P3", CultureInfo.InvariantCulture),
            I($"≤ 1/N + 1 % = {r.DisruptionGoal:P2}"), Met(d.RemovalDisruption <= r.DisruptionGoal));
        t.AddRow(I($"table occupancy at the first failed insert ({r.Occupancy.Capacity} entries, worst of {r.Occupancy.Fills})"),
            r.Occupancy.MinOccupancy.ToString("P2", CultureInfo.InvariantCulture), "≥ 95 %", Met(r.Occupancy.MinOccupancy >= BalancerBenchResult.OccupancyGoal));
        t.AddRow("inserts / s into the shadow (placement + register writes)", Cli.Human(r.Occupancy.InsertsPerSecond), "", "");
        var c = r.Consistency;
        t.AddRow(I($"established flows that changed backend ({c.Flows} flows, {c.EstablishedPackets} packets, {c.PoolChanges} pool changes)"),
            c.Violations.ToString(CultureInfo.InvariantCulture), "0", Met(c.Violations == 0));
        AnsiConsole.Write(t);
    }

    private static string Met(bool met) => met ? "[green]yes[/]" : "[red]no[/]";

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
