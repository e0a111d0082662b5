using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Offload.Cli.Lab;

/// <summary>
/// <c>offload lab up | demo | down | status</c>: real kernel hosts, gateway daemons on their own models, nginx backends
/// with agents, all in network namespaces on one machine (see <see cref="LabPlan"/>).
/// </summary>
internal static class LabCommand
{
    public static Command Create(Option<bool> json)
    {
        var hosts = new Option<int>("--hosts") { Description = "hosts on the segment (1..64)", DefaultValueFactory = _ => 8 };
        var gateways = new Option<int>("--gateways") { Description = "gateway daemons (2..8)", DefaultValueFactory = _ => 3 };
        var backends = new Option<int>("--backends") { Description = "backends (2..16)", DefaultValueFactory = _ => 4 };
        var hello = new Option<int>("--hello-ms") { Description = "GLBP hello time in ms (10..60000; under 50 no Cisco router could join)", DefaultValueFactory = _ => 200 };
        var hold = new Option<int>("--hold-ms") { Description = "GLBP hold time in ms (more than the hello time)", DefaultValueFactory = _ => 700 };
        var dir = new Option<string>("--dir") { Description = "where configs, logs, the capture and the report go", DefaultValueFactory = _ => LabPlan.DefaultDirectory };
        var keep = new Option<bool>("--keep") { Description = "demo: leave the lab up afterwards (offload lab down removes it)" };

        var up = new Command("up", "build the lab (namespaces, bridges, veths) and start its gateways, backends and agents") { hosts, gateways, backends, hello, hold, dir };
        up.SetAction(r => Cli.Guard(() => Guarded(() => Up(Plan(r.GetValue(hosts), r.GetValue(gateways), r.GetValue(backends), r.GetValue(hello), r.GetValue(hold), r.GetValue(dir)!), Console.Out))));

        var demo = new Command("demo", "run the scripted failover scenario on the lab (built first when it is not up) and print a timeline and a verdict")
        {
            hosts, gateways, backends, hello, hold, dir, keep, json,
        };
        demo.SetAction((r, ct) => Task.FromResult(Cli.Guard(() => Guarded(() => Cli.UntilStopped(ct, stop =>
            Demo(Plan(r.GetValue(hosts), r.GetValue(gateways), r.GetValue(backends), r.GetValue(hello), r.GetValue(hold), r.GetValue(dir)!),
                r.GetValue(json), r.GetValue(keep), Console.Out, stop))))));

        var down = new Command("down", "stop everything in the lab's namespaces and remove them (also what a crashed or killed run left)") { dir };
        down.SetAction(r => Cli.Guard(() => Guarded(() =>
        {
            if (string.IsNullOrWhiteSpace(r.GetValue(dir)))
                throw new LabException("--dir: give a directory");
            LabNetwork.Down(Path.GetFullPath(r.GetValue(dir)!), Console.WriteLine);
            return 0;
        })));

        var status = new Command("status", "what of the lab exists and runs, and each gateway's GLBP state") { dir, json };
        status.SetAction(r => Cli.Guard(() => Guarded(() => string.IsNullOrWhiteSpace(r.GetValue(dir))
            ? throw new LabException("--dir: give a directory")
            : Status(r.GetValue(dir)!, r.GetValue(json), Console.Out))));

        return new Command("lab", "a lab of real kernel hosts, gateway daemons and HTTP backends in network namespaces (root)") { up, demo, down, status };
    }

    private static int Guarded(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (LabException e)
        {
            Console.Error.WriteLine($"offload: lab: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("offload: lab: stopped (offload lab down removes what is left)");
            return 130;
        }
    }

    private static LabPlan Plan(int hosts, int gateways, int backends, int hello, int hold, string dir)
    {
        if (string.IsNullOrWhiteSpace(dir))
            throw new LabException("--dir: give a directory");
        if (hosts is < 1 or > 64)
            throw new LabException($"--hosts {hosts}: give 1 to 64");
        if (gateways is < 2 or > 8)
            throw new LabException($"--gateways {gateways}: give 2 to 8");
        if (backends is < 2 or > 16)
            throw new LabException($"--backends {backends}: give 2 to 16");
        if (hello is < 10 or > 60_000)
            throw new LabException($"--hello-ms {hello}: give 10 to 60000");
        if (hold <= hello || hold > 180_000)
            throw new LabException($"--hold-ms {hold}: give more than --hello-ms ({hello}) and at most 180000");
        return new LabPlan(hosts, gateways, backends, hello, hold, Path.GetFullPath(dir));
    }

    private static int Up(LabPlan plan, TextWriter output)
    {
        if (LabNetwork.CannotRun() is { } why)
            throw new LabException(why);
        LabNetwork.Up(plan, line => output.WriteLine($"offload: lab: {line}"));
        output.WriteLine($"offload: lab: up; offload lab status shows it, offload lab down removes it");
        return 0;
    }

    private static int Demo(LabPlan plan, bool json, bool keep, TextWriter output, CancellationToken ct)
    {
        if (plan.Gateways < 3)
            throw new LabException($"--gateways {plan.Gateways}: the demo kills the AVG and then another forwarder while one still runs: give at least 3");
        if (LabNetwork.CannotRun() is { } why)
        {
            Console.Error.WriteLine($"offload: lab: {why}; running the in-process demo instead");
            return Offload.Cli.Demo.Run(64, 24, null);
        }
        var say = json ? (Action<string>)(_ => { }) : line => output.WriteLine($"offload: lab: {line}");
        var state = LabPlan.LoadState(plan.Directory);
        bool built = false;
        if (state is null || LabNetwork.Existing().Count == 0)
        {
            LabNetwork.Up(plan, say);
            state = LabPlan.LoadState(plan.Directory) ?? throw new LabException($"the lab's state file {plan.StatePath} was not written");
            built = true;
        }
        try
        {
            if (!json)
                output.WriteLine($"offload: lab demo: {state.Hosts} hosts, {state.Gateways} gateways (GLBP hello {state.HelloMs} ms, hold {state.HoldMs} ms), {state.Backends} backends");
            var demo = new LabDemo(state, output, quiet: json);
            JsonObject report;
            try
            {
                report = demo.Run(ct);
            }
            finally
            {
                state.Plan.Save(state with { Pids = new Dictionary<string, int>(demo.Pids) });
            }
            if (json)
                output.WriteLine(report.ToJsonString(LabJson.Options));
            else
                Summary(report, state.Plan, output);
            return (string?)report["verdict"] == "pass" ? 0 : 1;
        }
        finally
        {
            if (built && !keep)
                LabNetwork.Down(plan.Directory, say);
        }
    }

    private static void Summary(JsonObject report, LabPlan plan, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"hosts per forwarder: {string.Join(", ", report["hosts_per_forwarder"]!.AsObject().Select(p => $"{p.Key} {p.Value}"))}");
        output.WriteLine($"requests per backend: {string.Join(", ", report["requests_per_backend"]!.AsObject().Select(p => $"{p.Key} {p.Value}"))}");
        output.WriteLine($"requests per gateway: {string.Join(", ", report["requests_per_gateway"]!.AsObject().Select(p => $"{p.Key} {p.Value}"))}");
        output.WriteLine($"{"event",-18} {"target",-6} {"detect",8} {"recover",8} {"relearn",8} {"failed",7} {"broken",7}");
        foreach (var e in report["events"]!.AsArray())
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(string?)e!["kind"],-18} {(string?)e["target"],-6} {Ms(e["detection_ms"]),8} {Ms(e["recovery_ms"]),8} {Ms(e["switch_relearn_ms"]),8} {(int)e["requests_failed"]!,7} {(int)e["connections_broken"]!,7}"));
        }
        output.WriteLine($"GLBP packets on the segment: {report["glbp_packets"]}, malformed: {report["glbp_malformed"]}");
        foreach (var p in report["problems"]!.AsArray())
            output.WriteLine($"problem: {p}");
        output.WriteLine($"verdict: {report["verdict"]} (report.json and report.png in {plan.Directory})");
    }

    private static string Ms(JsonNode? v) => v is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{(double)v:0} ms");

    private static int Status(string dir, bool json, TextWriter output)
    {
        var existing = LabNetwork.Existing();
        var state = LabPlan.LoadState(Path.GetFullPath(dir));
        var result = new JsonObject { ["namespaces"] = new JsonArray(existing.Select(n => (JsonNode)n).ToArray()), ["up"] = state is not null && existing.Count > 0 };
        var processes = new JsonObject();
        var groups = new JsonObject();
        if (state is not null)
        {
            foreach (var (name, pid) in state.Pids.OrderBy(p => p.Key, StringComparer.Ordinal))
                processes[name] = new JsonObject { ["pid"] = pid, ["alive"] = Sh.Alive(pid) };
            for (int k = 1; k <= state.Gateways; k++)
            {
                if (!existing.Contains(LabPlan.GatewayNs(k)))
                    continue;
                using var ns = new NetnsSockets(LabPlan.GatewayNs(k));
                using var client = ns.HttpClient(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), keepAlive: false);
                var view = LabNetwork.ApiAsync(client, "/api/glbp", CancellationToken.None).GetAwaiter().GetResult();
                var group = view?["groups"]?.AsArray().FirstOrDefault();
                groups[LabPlan.GatewayName(k)] = group is null ? "no answer" : $"{group["state"]}, forwarding {string.Join(' ', group["forwarders"]!.AsArray().Where(f => (string?)f!["state"] == "Active").Select(f => (string?)f!["vmac"]))}";
            }
        }
        result["processes"] = processes;
        result["gateways"] = groups;
        if (json)
        {
            output.WriteLine(result.ToJsonString(LabJson.Options));
            return 0;
        }
        if (existing.Count == 0)
        {
            output.WriteLine("offload: lab: not up (offload lab up builds it)");
            return 0;
        }
        output.WriteLine($"namespaces: {string.Join(' ', existing)}{(state is null ? " (no state file: leftovers of a crashed run; offload lab down removes them)" : "")}");
        foreach (var (name, p) in processes)
            output.WriteLine($"  {name,-12} pid {p!["pid"]} {((bool)p["alive"]! ? "running" : "gone")}");
        foreach (var (name, g) in groups)
            output.WriteLine($"  {name}: GLBP group 1 {g}");
        return 0;
    }
}
