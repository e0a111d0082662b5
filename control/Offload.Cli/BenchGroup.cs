using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Benchmarks.Group;
using Spectre.Console;

namespace Offload.Cli;

/// <summary>
/// `offload bench group`: GLBP failover times, ARP distribution and scale, measured on the simulated segment's
/// virtual time (<see cref="GroupBench"/>).
/// </summary>
internal static class BenchGroup
{
    public static Command Create(Option<bool> json)
    {
        var quick = new Option<bool>("--quick") { Description = "fewer crash phases and a small scale run (seconds instead of a minute)" };
        var seed = new Option<int>("--seed") { Description = "seed of the simulated segment: the virtual-time figures are exact for a seed", DefaultValueFactory = _ => 1 };
        var command = new Command("group", "GLBP failover times, ARP distribution per load-balancing mode, and groups x members at scale") { json, quick, seed };
        command.SetAction(r => Cli.Guard(() => Run(r.GetValue(json), r.GetValue(quick), r.GetValue(seed))));
        return command;
    }

    public static int Run(bool asJson, bool quick, int seed)
    {
        var options = (quick ? GroupBenchOptions.Quick : GroupBenchOptions.Full) with { Seed = seed };
        var result = GroupBench.Run(options, msg => { if (!asJson) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(msg)}…[/]"); });
        if (asJson)
            Console.WriteLine(ToJson(result).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        else
            Table(result);
        return 0;
    }

    public static JsonObject ToJson(GroupBenchResult r)
    {
        var s = r.Scale;
        return new JsonObject
        {
            ["seed"] = r.Seed,
            ["failover"] = new JsonArray([.. r.Failover.Select(f => (JsonNode)new JsonObject
            {
                ["hello_ms"] = f.HelloMs,
                ["hold_ms"] = f.HoldMs,
                ["forwarder_takeover_ms"] = Round(f.ForwarderTakeoverMs),
                ["avg_takeover_ms"] = Round(f.AvgTakeoverMs),
                ["forwarder_takeover_mean_ms"] = Round(f.ForwarderTakeoverMeanMs),
                ["avg_takeover_mean_ms"] = Round(f.AvgTakeoverMeanMs),
                ["crash_phases"] = f.Runs,
                ["goal_ms"] = f.GoalMs,
                ["goal_met"] = f.GoalMet,
                ["invariant_violations"] = f.InvariantViolations,
            })]),
            ["arp_distribution"] = new JsonArray([.. r.ArpDistribution.Select(a =>
            {
                var o = new JsonObject
                {
                    ["mode"] = a.Mode,
                    ["hosts"] = a.Hosts,
                    ["forwarders"] = a.Forwarders,
                    ["max_per_forwarder"] = a.MaxPerForwarder,
                    ["min_per_forwarder"] = a.MinPerForwarder,
                    ["ideal_max_per_forwarder"] = a.IdealMax,
                    ["ideal_min_per_forwarder"] = a.IdealMin,
                    ["max_deviation_hosts"] = a.MaxDeviation,
                    ["tolerance_hosts"] = a.Tolerance,
                    ["within_one_slot"] = a.WithinTolerance,
                    ["per_forwarder"] = new JsonArray([.. a.PerForwarder.Select(c => (JsonNode)c)]),
                    ["shares"] = new JsonArray([.. a.Weights.Select(w => (JsonNode)w)]),
                };
                if (a.UnchangedAfterFailover is { } u)
                    o["unchanged_after_avg_failover"] = u;
                return (JsonNode)o;
            })]),
            ["scale"] = new JsonObject
            {
                ["groups"] = s.Groups,
                ["members_per_group"] = s.MembersPerGroup,
                ["hello_ms"] = s.HelloMs,
                ["hold_ms"] = s.HoldMs,
                ["virtual_seconds"] = s.VirtualSeconds,
                ["hellos_processed"] = s.HellosProcessed,
                ["cpu_seconds"] = Round(s.CpuSeconds),
                ["wall_seconds"] = Round(s.WallSeconds),
                ["cpu_us_per_hello"] = Round(s.CpuMicrosPerHello),
                ["cpu_measure"] = "process CPU time (all threads) over the run / hellos delivered to GlbpGroup.Receive; simulator included",
                ["managed_bytes_per_group"] = s.ManagedBytesPerGroup,
                ["groups_with_one_active"] = s.GroupsWithOneActive,
            },
            ["goals_met"] = new JsonObject
            {
                ["failover"] = r.FailoverGoalsMet,
                ["arp_distribution"] = r.DistributionGoalsMet,
            },
        };
    }

    private static void Table(GroupBenchResult r)
    {
        AnsiConsole.MarkupLine($"[bold]GLBP group on the simulated segment[/], virtual time, seed {r.Seed}: 4 members, links 0.1–1 ms, no loss.");
        var f = new Table().AddColumns("hello / hold", "forwarder takeover worst (mean)", "AVG takeover worst (mean)", "goal", "met");
        foreach (var x in r.Failover)
        {
            f.AddRow($"{x.HelloMs} / {x.HoldMs} ms", $"{Ms(x.ForwarderTakeoverMs)} ({Ms(x.ForwarderTakeoverMeanMs)})", $"{Ms(x.AvgTakeoverMs)} ({Ms(x.AvgTakeoverMeanMs)})",
                $"≤ {Ms(x.GoalMs)}{(x.HelloMs == 50 ? " (< 200)" : "")}", Yes(x.GoalMet) + (x.InvariantViolations > 0 ? $" ({x.InvariantViolations} invariant violations)" : ""));
        }
        AnsiConsole.Write(f);
        AnsiConsole.MarkupLine($"Failover: crash at {r.Failover[0].Runs} random offsets within a hello interval; takeover = crash until another member forwards the vMAC / answers ARP.");

        var a = new Table().AddColumns("mode", "hosts", "fwd", "max / min", "ideal max / min", "deviation", "goal", "met");
        foreach (var x in r.ArpDistribution)
        {
            string goal = x.UnchangedAfterFailover is { } u
                ? $"kept {u.ToString("P1", CultureInfo.InvariantCulture)}"
                : $"≤ {x.Tolerance.ToString("0.##", CultureInfo.InvariantCulture)}";
            bool met = x.WithinTolerance != false && x.UnchangedAfterFailover is null or 1.0;
            a.AddRow(x.Mode, I(x.Hosts), I(x.Forwarders), $"{I(x.MaxPerForwarder)} / {I(x.MinPerForwarder)}", $"{D(x.IdealMax)} / {D(x.IdealMin)}", D(x.MaxDeviation), Markup.Escape(goal), Yes(met));
        }
        AnsiConsole.Write(a);
        AnsiConsole.MarkupLine("ARP: each host asks once through the Active's slot table (round-robin pointer, or CRC-A of its MAC for host-dependent); weighted: weightings 40..100; load-based: loads 10, 20, ….");
        AnsiConsole.MarkupLine("Goals: round-robin, weighted and load-based within one slot of ideal (deviation ≤ hosts/256 + 1 hosts); host-dependent: every host keeps its vMAC across an AVG failover (kept 100%).");

        var s = r.Scale;
        var t = new Table().AddColumns("figure", "value");
        t.AddRow("groups x members", $"{I(s.Groups)} x {I(s.MembersPerGroup)} (hello {I(s.HelloMs)} ms / hold {I(s.HoldMs)} ms, cold start)");
        t.AddRow("virtual time", $"{D(s.VirtualSeconds)} s");
        t.AddRow("hellos processed", I(s.HellosProcessed));
        t.AddRow("CPU per hello (process CPU time, simulator included)", $"{D(s.CpuMicrosPerHello)} µs");
        t.AddRow("CPU / wall time", $"{D(s.CpuSeconds)} s / {D(s.WallSeconds)} s");
        t.AddRow("managed memory per group", $"{Cli.Human(s.ManagedBytesPerGroup)}B");
        t.AddRow("groups with exactly one Active at the end", $"{I(s.GroupsWithOneActive)} of {I(s.Groups)}");
        AnsiConsole.Write(t);
    }

    private static double Round(double v) => double.IsFinite(v) ? Math.Round(v, 3) : -1;

    private static string Ms(double v) => double.IsFinite(v) ? $"{v.ToString("0.#", CultureInfo.InvariantCulture)} ms" : "never";

    private static string D(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Yes(bool v) => v ? "[green]yes[/]" : "[red]no[/]";
}
