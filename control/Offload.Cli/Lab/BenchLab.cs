using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Offload.Cli.Lab;

/// <summary>
/// <c>offload bench lab</c>: failover of real gateway processes in the lab at several GLBP timers (a forwarder killed and
/// started again, several times each), the gateways' idle CPU, and HTTP through one gateway on the model under wrk.
/// Figures only: nothing here passes or fails on time.
/// </summary>
internal static class BenchLab
{
    private const string DefaultTimers = "1000/3000,50/150,10/30";

    public static Command Command(Option<bool> json)
    {
        var kills = new Option<int>("--kills") { Description = "forwarder kills per timer setting (1..50)", DefaultValueFactory = _ => 5 };
        var only = new Option<string?>("--only") { Description = "run one half: offload (Offload at each timer setting) or peers (keepalived + HAProxy)" };
        var timers = new Option<string>("--timers")
        {
            Description = "GLBP timer settings to run, HELLO/HOLD in ms, comma-separated (hello 10..60000)",
            DefaultValueFactory = _ => DefaultTimers,
        };
        var dir = new Option<string>("--dir") { Description = "where the lab's configs, logs and reports go", DefaultValueFactory = _ => "/run/offload-lab-bench" };
        var command = new Command("lab", "failover of real gateway processes in the lab per GLBP timer setting (detection, switch relearn, connections lost), idle CPU, and HTTP through one gateway (root)")
        {
            json, kills, dir, only, timers,
        };
        command.SetAction((r, ct) => Task.FromResult(Cli.Guard(() =>
        {
            try
            {
                return Cli.UntilStopped(ct, stop => Run(r.GetValue(json), r.GetValue(kills), Path.GetFullPath(r.GetValue(dir)!), Console.Out, stop, r.GetValue(only), r.GetValue(timers)));
            }
            catch (LabException e)
            {
                Console.Error.WriteLine($"offload: bench lab: {e.Message}");
                return 2;
            }
        })));
        return command;
    }

    public static int Run(bool json, int kills, string dir, TextWriter output, CancellationToken ct, string? only = null, string? timers = null)
    {
        if (kills is < 1 or > 50)
            throw new LabException($"--kills {kills}: give 1 to 50");
        var settings = ParseTimers(timers ?? DefaultTimers);
        if (only is not (null or "offload" or "peers"))
            throw new LabException($"--only {only}: give offload or peers");
        if (LabNetwork.CannotRun() is { } why)
            throw new LabException(why);
        if (LabNetwork.Existing() is { Count: > 0 } left)
            throw new LabException($"a lab is up ({string.Join(' ', left)}): offload lab down removes it first");
        var rows = new JsonArray();
        JsonObject? throughput = null;
        foreach (var (hello, hold, label) in only == "peers" ? [] : settings)
        {
            var plan = new LabPlan(4, 3, 2, hello, hold, dir);
            if (!json)
                output.WriteLine($"bench lab: GLBP {label}: {kills} forwarder kills…");
            LabNetwork.Up(plan, _ => { });
            try
            {
                var state = LabPlan.LoadState(dir) ?? throw new LabException($"the lab's state file {plan.StatePath} was not written");
                var idle = new JsonObject();
                var demo = new LabDemo(state, output, quiet: true)
                {
                    Settle = TimeSpan.FromSeconds(1.5),
                    OnConverged = () => IdleCpu(state, idle),
                };
                var report = demo.Run(ct, demo.KillsScenario(kills));
                var killsOnly = report["events"]!.AsArray().Where(e => (string)e!["kind"]! == "forwarder-killed").ToList();
                var row = new JsonObject
                {
                    ["hello_ms"] = hello,
                    ["hold_ms"] = hold,
                    ["kills"] = killsOnly.Count,
                    ["detection_ms"] = Stats(killsOnly, "detection_ms"),
                    ["recovery_ms"] = Stats(killsOnly, "recovery_ms"),
                    ["switch_relearn_ms"] = Stats(killsOnly, "switch_relearn_ms"),
                    ["connections_broken"] = killsOnly.Sum(e => (int)e!["connections_broken"]!),
                    ["requests_failed"] = killsOnly.Sum(e => (int)e!["requests_failed"]!),
                    ["restarts_connections_broken"] = report["events"]!.AsArray().Where(e => (string)e!["kind"]! == "gateway-restarted").Sum(e => (int)e!["connections_broken"]!),
                    ["idle_cpu_percent"] = idle,
                    ["glbp_malformed"] = report["glbp_malformed"]!.DeepClone(),
                };
                rows.Add(row);
                if (!json)
                    PrintRow(output, label, row);
                // Throughput once, at the default-like timers: the data path does not depend on them.
                throughput ??= Throughput(state with { Pids = new Dictionary<string, int>(demo.Pids) }, output, json);
            }
            finally
            {
                LabNetwork.Down(dir, _ => { });
            }
        }
        var peers = new JsonArray();
        foreach (var advert in only == "offload" ? [] : (ReadOnlySpan<double>)[1.0, 0.01])
        {
            if (!json)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench lab: peer keepalived (VRRPv3, advert {advert * 1000:0} ms) + HAProxy (TCP) on 2 gateways: {kills} master kills…"));
            var plan = new LabPlan(4, 2, 2, 1000, 3000, dir);
            try
            {
                var row = new PeerBench(plan, output, json).Run(advert, kills, ct);
                peers.Add(row);
                if (!json)
                {
                    output.WriteLine($"  detection median {row["detection_ms"]!["median"]} ms, worst {row["detection_ms"]!["worst"]} ms; traffic again median {row["recovery_ms"]!["median"]} ms, worst {row["recovery_ms"]!["worst"]} ms");
                    output.WriteLine($"  {row["connections_broken"]} connection(s) broken and {row["requests_failed"]} request(s) failed over {row["kills"]} kills; hosts per gateway: {string.Join(", ", row["hosts_per_gateway"]!.AsObject().Select(p => $"{p.Key} {p.Value}"))}");
                }
            }
            finally
            {
                LabNetwork.Down(dir, _ => { });
            }
        }
        var result = new JsonObject
        {
            ["peers"] = peers,
            ["lab"] = new JsonObject { ["hosts"] = 4, ["gateways"] = 3, ["backends"] = 2, ["mode"] = "dsr" },
            ["timers"] = rows,
            ["throughput"] = throughput,
            ["cores"] = Environment.ProcessorCount,
        };
        if (json)
            output.WriteLine(result.ToJsonString(LabJson.Options));
        return 0;
    }

    /// <summary>"1000/3000,10/30" as timer settings, each labelled as the table prints it; a bad one throws by name.</summary>
    internal static List<(int Hello, int Hold, string Label)> ParseTimers(string text)
    {
        var settings = new List<(int, int, string)>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            string[] pair = part.Split('/');
            if (pair.Length != 2 || !int.TryParse(pair[0], NumberStyles.None, CultureInfo.InvariantCulture, out int hello)
                || !int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out int hold))
                throw new LabException($"--timers '{part}': give HELLO/HOLD in ms, such as 10/30");
            if (hello is < 10 or > 60_000 || hold <= hello || hold > 180_000)
                throw new LabException($"--timers '{part}': give a hello of 10 to 60000 ms and a hold above it, at most 180000 ms");
            string Ms(int ms) => ms >= 1000 && ms % 1000 == 0 ? $"{ms / 1000} s" : $"{ms} ms";
            string label = $"{Ms(hello)} / {Ms(hold)}" + (hello == 50 ? " (Cisco's smallest)" : hello < 50 ? (hello == 10 ? " (Offload's smallest, no Cisco members)" : " (no Cisco members)") : "");
            settings.Add((hello, hold, label));
        }
        return settings;
    }

    private static JsonObject Stats(List<JsonNode?> events, string key)
    {
        var values = events.Select(e => (double?)e![key]).Where(v => v is not null).Select(v => v!.Value).Order().ToList();
        return new JsonObject
        {
            ["median"] = values.Count == 0 ? null : Math.Round(values.Count % 2 == 1 ? values[values.Count / 2] : (values[values.Count / 2 - 1] + values[values.Count / 2]) / 2, 1),
            ["worst"] = values.Count == 0 ? null : Math.Round(values[^1], 1),
            ["measured"] = values.Count,
        };
    }

    private static void PrintRow(TextWriter output, string label, JsonObject row)
    {
        string S(string key) => $"median {row[key]!["median"]?.ToString() ?? "-"} ms, worst {row[key]!["worst"]?.ToString() ?? "-"} ms";
        output.WriteLine($"  detection {S("detection_ms")}; traffic again {S("recovery_ms")}; switch relearn {S("switch_relearn_ms")}");
        output.WriteLine($"  {row["connections_broken"]} connection(s) broken and {row["requests_failed"]} request(s) failed over {row["kills"]} kills; idle CPU per gateway: {string.Join(", ", row["idle_cpu_percent"]!.AsObject().Select(p => $"{p.Key} {p.Value} %"))}");
    }

    // CPU of each gateway process over a few seconds with no host traffic (GLBP hellos, health checks and agent reports only).
    private static void IdleCpu(LabState state, JsonObject into)
    {
        var pids = Enumerable.Range(1, state.Gateways).Select(k => state.Pids[LabPlan.GatewayName(k)]).ToArray();
        // Past start-up: the runtime compiles its hot methods again (tiered JIT) for some seconds after the first requests.
        Thread.Sleep(TimeSpan.FromSeconds(20));
        var before = pids.Select(Jiffies).ToArray();
        var start = DateTime.UtcNow;
        Thread.Sleep(TimeSpan.FromSeconds(10));
        double seconds = (DateTime.UtcNow - start).TotalSeconds;
        for (int k = 1; k <= pids.Length; k++)
            into[LabPlan.GatewayName(k)] = Math.Round((Jiffies(pids[k - 1]) - before[k - 1]) / 100.0 / seconds * 100, 2);
    }

    private static long Jiffies(int pid)
    {
        try
        {
            var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command's closing parenthesis.
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    // wrk from one host through its gateway, keep-alive then a new connection per request; the gateway's CPU, frames and
    // model cycles over each run come from its process and its /metrics.
    private static JsonObject Throughput(LabState state, TextWriter output, bool json)
    {
        var result = new JsonObject();
        foreach (var (name, close) in (ReadOnlySpan<(string, bool)>)[("keep_alive", false), ("new_connections", true)])
        {
            var before = Enumerable.Range(1, state.Gateways).Select(k => Snapshot(state, k)).ToArray();
            var args = new List<string> { "netns", "exec", LabPlan.HostNs(1), "wrk", "-t1", "-c8", "-d5s" };
            if (close)
                args.AddRange(["-H", "Connection: close"]);
            args.Add($"http://{LabPlan.ServiceIp}/");
            var (code, text, error) = Sh.TryRun(TimeSpan.FromSeconds(30), "ip", [.. args]);
            if (code != 0)
                throw new LabException($"wrk: {error.Trim()}");
            var after = Enumerable.Range(1, state.Gateways).Select(k => Snapshot(state, k)).ToArray();
            // The gateway that carried it: the one whose port 0 took the most frames.
            int g = Enumerable.Range(0, state.Gateways).MaxBy(i => after[i].Frames - before[i].Frames);
            double frames = after[g].Frames - before[g].Frames;
            double cpuMs = (after[g].Jiffies - before[g].Jiffies) * 10.0;
            double cycles = after[g].Cycles - before[g].Cycles;
            double rps = WrkRate(text);
            result[name] = new JsonObject
            {
                ["requests_per_second"] = Math.Round(rps, 1),
                ["gateway"] = $"g{g + 1}",
                ["frames"] = frames,
                ["model_cycles_per_second"] = Math.Round(cycles / 5.0),
                ["gateway_cpu_ms_per_1000_frames"] = frames > 0 ? Math.Round(cpuMs / frames * 1000, 1) : null,
            };
            if (!json)
                output.WriteLine($"  wrk from one host, {name.Replace('_', ' ')}: {rps:0} requests/s through g{g + 1}; {frames:0} frames in, {cycles / 5:0} model cycles/s, {(frames > 0 ? cpuMs / frames * 1000 : 0):0.0} ms of gateway CPU per 1,000 frames");
        }
        return result;
    }

    private static (double Frames, double Cycles, long Jiffies) Snapshot(LabState state, int k)
    {
        using var ns = new NetnsSockets(LabPlan.GatewayNs(k));
        using var client = ns.HttpClient(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), keepAlive: false);
        string text;
        try
        {
            text = client.GetStringAsync(new Uri("http://127.0.0.1:9480/metrics")).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (0, 0, 0);
        }
        double frames = 0, cycles = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("offload_wire_frames_total{", StringComparison.Ordinal) && line.Contains("port=\"0\"", StringComparison.Ordinal) && line.Contains("direction=\"rx\"", StringComparison.Ordinal))
                frames += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            else if (line.StartsWith("offload_model_cycles_total", StringComparison.Ordinal))
                cycles = double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }
        return (frames, cycles, Jiffies(state.Pids[LabPlan.GatewayName(k)]));
    }

    private static double WrkRate(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            var t = line.Trim();
            if (t.StartsWith("Requests/sec:", StringComparison.Ordinal))
                return double.Parse(t["Requests/sec:".Length..].Trim(), CultureInfo.InvariantCulture);
        }
        throw new LabException($"wrk printed no Requests/sec line: {text.Trim()}");
    }
}
