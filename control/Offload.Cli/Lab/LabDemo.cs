using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Offload.Cli.Lab;

/// <summary>One event of the demo and what it cost, as <c>report.json</c> and <c>--json</c> give it.</summary>
internal sealed record LabEvent(
    string Kind, string Target, double AtMs, double? DetectionMs, double? RecoveryMs, int RequestsFailed, int ConnectionsBroken,
    double? SwitchRelearnMs, bool NeighboursOnLiveForwarders, string? Note);

/// <summary>
/// <c>offload lab demo</c>: traffic from every host through the gateways to the backends, then <c>kill -9</c> of the
/// AVG's process, of a forwarder's, of a backend's server, and the killed gateways started again; each event measured
/// from outside (the gateways' APIs, the switch's forwarding database, the hosts' requests), a capture of the
/// segment decoded by tshark, and a verdict.
/// </summary>
internal sealed class LabDemo
{
    private readonly LabState _state;
    private readonly TextWriter _out;
    private readonly bool _quiet;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Dictionary<string, int> _pids;
    private readonly HashSet<int> _dead = [];

    public LabDemo(LabState state, TextWriter output, bool quiet)
    {
        _state = state;
        _out = output;
        _quiet = quiet;
        _pids = new Dictionary<string, int>(state.Pids);
    }

    /// <summary>The processes of the lab now (restarted gateways have new pids).</summary>
    public IReadOnlyDictionary<string, int> Pids => _pids;

    /// <summary>How long the demo lets traffic settle between events.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(3);

    private LabPlan Plan => _state.Plan;
    private double Now => _clock.Elapsed.TotalMilliseconds;

    private void Say(string line)
    {
        if (!_quiet)
            _out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {Now / 1000,7:0.000} s  {line}"));
    }

    /// <summary>What happens once traffic runs: the events it caused, measured.</summary>
    public delegate List<LabEvent> Scenario(LabObserver observer, LabTraffic traffic, CancellationToken ct);

    /// <summary>Called once the group has converged, before traffic starts (the benchmark measures idle CPU there).</summary>
    public Action? OnConverged { get; init; }

    public JsonObject Run(CancellationToken ct, Scenario? scenario = null)
    {
        var plan = Plan;
        var hostNs = Enumerable.Range(1, plan.Hosts).Select(i => new NetnsSockets(LabPlan.HostNs(i))).ToList();
        var gwNs = Enumerable.Range(1, plan.Gateways).Select(k => new NetnsSockets(LabPlan.GatewayNs(k))).ToList();
        var capture = Path.Combine(plan.Directory, "segment.pcapng");
        File.Delete(capture);
        int tshark = Sh.StartIn(LabPlan.Switch, plan.LogPath("tshark"), "tshark", "-i", "br0", "-q", "-f", "udp port 3222", "-w", capture);
        try
        {
            using var observer = new LabObserver(_clock, gwNs);
            observer.Start();
            WaitFor("the group to elect an AVG and every gateway to forward", TimeSpan.FromSeconds(90), ct, () => Converged(observer));
            Say($"GLBP converged: AVG {Avg(observer)}, forwarders {string.Join(", ", Holders(observer).Select(h => $"{h.Key}→g{h.Value}"))}");

            observer.Paused = true;
            try
            {
                OnConverged?.Invoke();
            }
            finally
            {
                observer.Paused = false;
            }
            using var traffic = new LabTraffic(_clock, hostNs);
            traffic.Start();
            Sleep(Settle, ct);
            var spread = Neighbours();
            Say($"hosts' ARP for {LabPlan.VirtualIp}: {string.Join(", ", spread.GroupBy(n => n.Value ?? "none").Select(g => $"{g.Key} ×{g.Count()}"))}");

            var events = (scenario ?? DemoScenario)(observer, traffic, ct);
            traffic.Stop();
            Say("traffic stopped");
            var requests = traffic.Requests.ToList();
            var glbp = Decode(tshark, capture);
            return Report(events, spread, requests, glbp, traffic, observer);
        }
        finally
        {
            LabNetwork.Kill(tshark);
            foreach (var n in hostNs.Concat(gwNs))
                n.Dispose();
        }
    }

    /// <summary>The demo: the AVG killed, then a forwarder, then a backend's server; the killed gateways started again.</summary>
    public List<LabEvent> DemoScenario(LabObserver observer, LabTraffic traffic, CancellationToken ct)
    {
        var plan = Plan;
        var events = new List<LabEvent>();
        int avg = Avg(observer) ?? throw new LabException("no AVG after convergence");
        events.Add(KillGateway("avg-killed", avg, observer, traffic, ct));
        int forwarder = Enumerable.Range(1, plan.Gateways).First(k => !_dead.Contains(k) && k != Avg(observer));
        events.Add(KillGateway("forwarder-killed", forwarder, observer, traffic, ct));
        events.Add(KillBackend(2 <= plan.Backends ? 2 : 1, observer, traffic, ct));
        foreach (var k in _dead.Order().ToList())
            events.Add(Restart(k, observer, traffic, ct));

        return events;
    }

    /// <summary>The benchmark: <paramref name="kills"/> times, a forwarder that is not the AVG killed, then started again.</summary>
    public Scenario KillsScenario(int kills) => (observer, traffic, ct) =>
    {
        var events = new List<LabEvent>();
        for (int i = 0; i < kills; i++)
        {
            int avg = Avg(observer) ?? throw new LabException("no AVG");
            var others = Enumerable.Range(1, Plan.Gateways).Where(k => k != avg && !_dead.Contains(k)).ToList();
            int victim = others[i % others.Count];
            events.Add(KillGateway("forwarder-killed", victim, observer, traffic, ct));
            events.Add(Restart(victim, observer, traffic, ct));
        }
        return events;
    };

    private LabEvent KillGateway(string kind, int k, LabObserver observer, LabTraffic traffic, CancellationToken ct)
    {
        var before = observer.Latest(k) ?? throw new LabException($"g{k} has not answered its API");
        var held = before.Forwarding.ToHashSet();
        bool wasAvg = before.AvgState == "Active";
        var affected = Neighbours().Where(n => n.Value is { } m && held.Contains(m)).Select(n => n.Key).ToHashSet();
        double at = Now;
        LabNetwork.Kill(_pids[LabPlan.GatewayName(k)]);
        _dead.Add(k);
        observer.Forget(k);
        Say($"kill -9 g{k} ({(wasAvg ? "the AVG, " : "")}forwarding {string.Join(' ', held)}; {affected.Count} host(s) use it)");
        // Traffic flows again once every vMAC it held is forwarded by a live gateway (and, for the AVG, a new one is Active).
        WaitFor($"the survivors to take over g{k}", TimeSpan.FromSeconds(30), ct, () =>
            held.All(v => Holders(observer).ContainsKey(v)) && (!wasAvg || Avg(observer) is not null));
        double? detection = FirstSample(observer, at, s => !_dead.Contains(s.Gateway)
            && (s.Forwarding.Any(held.Contains) || (wasAvg && s.AvgState == "Active"))) - at;
        // A forwarder that took several vMACs sends its hellos from them in turn, so the switch may learn the last of them
        // a few hellos after the takeover: wait for it (bounded) before reading the times.
        WaitFor($"the switch to learn g{k}'s vMACs at their new forwarders", TimeSpan.FromSeconds(10), ct, () =>
            held.All(v => FirstFdb(observer, at, v, port => port != LabPlan.SwitchPortOf(k)) is not null), failQuietly: true);
        double? relearn = Latest(held.Select(v => FirstFdb(observer, at, v, port => port != LabPlan.SwitchPortOf(k)))) - at;
        // A connection broken by the failover shows only when its next segment gets an answer, after TCP's backoff: wait
        // until every affected host's long-lived connection has carried a request begun after the takeover.
        double back = Now;
        WaitFor("the affected hosts' long-lived connections to carry a request again", TimeSpan.FromSeconds(30), ct, () =>
            affected.All(h => traffic.Requests.Any(r => r.Host == h && r.Stream && r.Ok && r.StartMs >= back)));
        Sleep(Settle, ct);
        var (failed, broken, recovery) = Cost(traffic, at, affected);
        bool neighboursOk = NeighboursOnLiveForwarders(observer);
        Say($"{kind}: detected in {Ms(detection)}, traffic again after {Ms(recovery)}, switch relearnt in {Ms(relearn)}; {failed} request(s) failed, {broken} connection(s) broken");
        return new LabEvent(kind, $"g{k}", at, detection, recovery, failed, broken, relearn, neighboursOk, null);
    }

    private LabEvent KillBackend(int j, LabObserver observer, LabTraffic traffic, CancellationToken ct)
    {
        var name = LabPlan.BackendName(j);
        var servers = LabNetwork.PidsIn(LabPlan.BackendNs(j)).Where(p => Comm(p) == "nginx").ToList();
        double at = Now;
        foreach (var p in servers)
            LabNetwork.Kill(p);
        Say($"kill -9 {name}'s nginx ({servers.Count} process(es))");
        var live = () => Enumerable.Range(1, Plan.Gateways).Where(k => !_dead.Contains(k)).ToList();
        WaitFor($"every live gateway to take {name} out", TimeSpan.FromSeconds(30), ct, () =>
            live().All(k => observer.Latest(k) is { } s && s.AtMs > at && s.BackendHealthy.GetValueOrDefault(name, true) == false));
        double? detection = FirstSample(observer, at, s => s.BackendHealthy.GetValueOrDefault(name, true) == false) - at;
        double? recovery = live().Max(k => FirstSample(observer, at, s => s.Gateway == k && s.BackendHealthy.GetValueOrDefault(name, true) == false)) - at;
        Sleep(Settle, ct);
        var (failed, broken, _) = Cost(traffic, at, null);
        int onIt = traffic.Requests.Where(r => r.Stream && r.Backend == name && r.EndMs < at).Select(r => r.Host).Distinct().Count();
        Say($"backend-killed: detected in {Ms(detection)}, out of every pool after {Ms(recovery)}; {failed} request(s) failed, {broken} connection(s) broken ({onIt} long-lived connection(s) were on {name})");
        return new LabEvent("backend-killed", name, at, detection, recovery, failed, broken, null, true, $"{onIt} long-lived connection(s) were on {name}");
    }

    private LabEvent Restart(int k, LabObserver observer, LabTraffic traffic, CancellationToken ct)
    {
        double at = Now;
        _pids[LabPlan.GatewayName(k)] = LabNetwork.StartGateway(Plan, k);
        _dead.Remove(k);
        Say($"g{k} started again (pid {_pids[LabPlan.GatewayName(k)]})");
        WaitFor($"g{k} to forward again", TimeSpan.FromSeconds(90), ct, () => observer.Latest(k) is { } s && s.AtMs > at && s.Forwarding.Count > 0);
        var mine = observer.Latest(k)!.Forwarding;
        double? detection = FirstSample(observer, at, s => s.Gateway == k) - at;
        double? recovery = FirstSample(observer, at, s => s.Gateway == k && s.Forwarding.Count > 0) - at;
        WaitFor($"the switch to learn g{k}'s vMACs back at its port", TimeSpan.FromSeconds(10), ct, () =>
            mine.All(v => FirstFdb(observer, at, v, port => port == LabPlan.SwitchPortOf(k)) is not null), failQuietly: true);
        double? relearn = Latest(mine.Select(v => FirstFdb(observer, at, v, port => port == LabPlan.SwitchPortOf(k)))) - at;
        var affected = Neighbours().Where(n => n.Value is { } m && mine.Contains(m)).Select(n => n.Key).ToHashSet();
        // The hand-back moves these hosts' traffic: wait until their long-lived connections have carried a request again.
        double back = Now;
        WaitFor($"the hosts g{k} took back to carry a request again", TimeSpan.FromSeconds(30), ct, () =>
            affected.All(h => traffic.Requests.Any(r => r.Host == h && r.Stream && r.Ok && r.StartMs >= back)));
        Sleep(Settle, ct);
        var (failed, broken, _) = Cost(traffic, at, affected);
        bool neighboursOk = NeighboursOnLiveForwarders(observer);
        Say($"gateway-restarted g{k}: its API up after {Ms(detection)}, forwarding {string.Join(' ', mine)} after {Ms(recovery)}, switch relearnt in {Ms(relearn)}; {failed} request(s) failed, {broken} connection(s) broken");
        return new LabEvent("gateway-restarted", $"g{k}", at, detection, recovery, failed, broken, relearn, neighboursOk, null);
    }

    // Requests that failed and long-lived connections that broke from the event until now, and when every affected host
    // was served again (a request begun after the event that succeeded).
    private (int Failed, int Broken, double? RecoveryMs) Cost(LabTraffic traffic, double at, HashSet<int>? affected)
    {
        var after = traffic.Requests.Where(r => r.EndMs >= at).ToList();
        int failed = after.Count(r => !r.Ok && !r.Stream);
        int broken = traffic.Reconnects.Count(c => c.AtMs >= at);
        double? recovery = null;
        if (affected is { Count: > 0 })
        {
            var firsts = affected.Select(h => after.Where(r => r.Host == h && r.Ok && r.StartMs >= at).Select(r => (double?)r.EndMs).Min()).ToList();
            recovery = firsts.All(f => f is not null) ? firsts.Max() - at : null;
        }
        return (failed, broken, recovery);
    }

    private bool NeighboursOnLiveForwarders(LabObserver observer)
    {
        var live = Holders(observer).Keys.ToHashSet();
        return Neighbours().Values.All(m => m is null || live.Contains(m));
    }

    private bool Converged(LabObserver observer)
    {
        var live = Enumerable.Range(1, Plan.Gateways).Where(k => !_dead.Contains(k)).ToList();
        return Avg(observer) is not null && live.All(k => observer.Latest(k) is { Forwarding.Count: > 0 });
    }

    private int? Avg(LabObserver observer) =>
        Enumerable.Range(1, Plan.Gateways).Where(k => !_dead.Contains(k) && observer.Latest(k)?.AvgState == "Active").Cast<int?>().FirstOrDefault();

    // Which live gateway forwards each vMAC now.
    private Dictionary<string, int> Holders(LabObserver observer)
    {
        var holders = new Dictionary<string, int>();
        for (int k = 1; k <= Plan.Gateways; k++)
        {
            if (!_dead.Contains(k) && observer.Latest(k) is { } s)
            {
                foreach (var v in s.Forwarding)
                    holders[v] = k;
            }
        }
        return holders;
    }

    // Each host's neighbour entry for the virtual IP: the vMAC its kernel's ARP got.
    private Dictionary<int, string?> Neighbours()
    {
        var result = new Dictionary<int, string?>();
        for (int i = 1; i <= Plan.Hosts; i++)
        {
            var (code, output, _) = Sh.TryRun(TimeSpan.FromSeconds(5), "ip", "-n", LabPlan.HostNs(i), "-j", "neigh", "show", LabPlan.VirtualIp);
            string? mac = null;
            if (code == 0)
            {
                try
                {
                    mac = JsonNode.Parse(output)?.AsArray().Select(e => (string?)e?["lladdr"]).FirstOrDefault(m => m is not null);
                }
                catch (JsonException)
                {
                    mac = null;
                }
            }
            result[i] = mac;
        }
        return result;
    }

    // The last of several times, or null when any of them never came (a vMAC the switch never relearnt is not hidden).
    private static double? Latest(IEnumerable<double?> times)
    {
        var all = times.ToList();
        return all.Count == 0 || all.Any(t => t is null) ? null : all.Max();
    }

    private static double? FirstSample(LabObserver observer, double after, Func<GatewaySample, bool> match) =>
        observer.Samples.Where(s => s.AtMs >= after && match(s)).Select(s => (double?)s.AtMs).Min();

    private static double? FirstFdb(LabObserver observer, double after, string mac, Func<string, bool> port) =>
        observer.Fdb.Where(f => f.AtMs >= after && f.Mac == mac && port(f.Port)).Select(f => (double?)f.AtMs).Min();

    private (int Packets, int Malformed, string? Problem) Decode(int tshark, string capture)
    {
        // SIGINT lets tshark finish the file; then read it back.
        Sh.TryRun(TimeSpan.FromSeconds(5), "kill", "-INT", tshark.ToString(CultureInfo.InvariantCulture));
        for (int i = 0; i < 100 && Sh.Alive(tshark); i++)
            Thread.Sleep(50);
        if (!File.Exists(capture))
            return (0, 0, "tshark wrote no capture");
        var (code, output, error) = Sh.TryRun(TimeSpan.FromSeconds(60), "tshark", "-r", capture, "-Y", "glbp", "-T", "fields", "-e", "frame.number");
        if (code != 0)
            return (0, 0, $"tshark: {error.Trim()}");
        int packets = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        var (code2, bad, _) = Sh.TryRun(TimeSpan.FromSeconds(60), "tshark", "-r", capture, "-Y", "glbp && (_ws.malformed || _ws.expert.severity >= \"warning\")", "-T", "fields", "-e", "frame.number");
        int malformed = code2 == 0 ? bad.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length : -1;
        Say($"segment capture: {packets} GLBP packet(s) decoded by tshark, {malformed} malformed or with an expert warning");
        return (packets, malformed, null);
    }

    private JsonObject Report(List<LabEvent> events, Dictionary<int, string?> spread, List<LabRequest> requests,
        (int Packets, int Malformed, string? Problem) glbp, LabTraffic traffic, LabObserver observer)
    {
        var problems = new List<string>();
        foreach (var e in events)
        {
            bool gatewayEvent = e.Kind != "backend-killed";
            if (gatewayEvent && e.ConnectionsBroken > 0)
                problems.Add($"{e.Kind} {e.Target}: {e.ConnectionsBroken} connection(s) broken");
            if (gatewayEvent && e.RequestsFailed > 0)
                problems.Add($"{e.Kind} {e.Target}: {e.RequestsFailed} request(s) failed");
            if (!e.NeighboursOnLiveForwarders)
                problems.Add($"{e.Kind} {e.Target}: a host's neighbour table held a vMAC no live gateway forwards");
            if (e.Kind != "backend-killed" && e.RecoveryMs is null)
                problems.Add($"{e.Kind} {e.Target}: traffic did not flow again");
            if (e.Kind != "backend-killed" && e.SwitchRelearnMs is null)
                problems.Add($"{e.Kind} {e.Target}: the switch never relearnt a vMAC at its new forwarder");
        }
        if (glbp.Problem is not null)
            problems.Add(glbp.Problem);
        if (glbp.Packets == 0)
            problems.Add("no GLBP packet in the segment capture");
        if (glbp.Malformed != 0)
            problems.Add($"{glbp.Malformed} GLBP packet(s) malformed or with an expert warning");
        int ok = requests.Count(r => r.Ok);
        if (ok == 0)
            problems.Add("no request was served");

        var hostsPerForwarder = new JsonObject();
        foreach (var g in spread.Values.GroupBy(v => v ?? "none").OrderBy(g => g.Key, StringComparer.Ordinal))
            hostsPerForwarder[g.Key] = g.Count();
        var perBackend = new JsonObject();
        foreach (var g in requests.Where(r => r.Ok && r.Backend is not null).GroupBy(r => r.Backend!).OrderBy(g => g.Key, StringComparer.Ordinal))
            perBackend[g.Key] = g.Count();
        var report = new JsonObject
        {
            ["events"] = new JsonArray(events.Select(e => (JsonNode)new JsonObject
            {
                ["kind"] = e.Kind,
                ["target"] = e.Target,
                ["at_ms"] = Math.Round(e.AtMs, 1),
                ["detection_ms"] = Round(e.DetectionMs),
                ["recovery_ms"] = Round(e.RecoveryMs),
                ["requests_failed"] = e.RequestsFailed,
                ["connections_broken"] = e.ConnectionsBroken,
                ["switch_relearn_ms"] = Round(e.SwitchRelearnMs),
                ["neighbours_on_live_forwarders"] = e.NeighboursOnLiveForwarders,
                ["note"] = e.Note,
            }).ToArray()),
            ["hosts_per_forwarder"] = hostsPerForwarder,
            ["requests_per_backend"] = perBackend,
            ["requests"] = requests.Count,
            ["requests_ok"] = ok,
            ["long_lived_reconnects"] = traffic.Reconnects.Count(),
            ["switch_fdb_changes"] = new JsonArray(observer.Fdb.OrderBy(f => f.AtMs).Select(f => (JsonNode)new JsonObject
            {
                ["at_ms"] = Math.Round(f.AtMs, 1),
                ["mac"] = f.Mac,
                ["port"] = f.Port,
            }).ToArray()),
            ["glbp_packets"] = glbp.Packets,
            ["glbp_malformed"] = glbp.Malformed,
            ["lab"] = new JsonObject
            {
                ["hosts"] = Plan.Hosts,
                ["gateways"] = Plan.Gateways,
                ["backends"] = Plan.Backends,
                ["hello_ms"] = Plan.HelloMs,
                ["hold_ms"] = Plan.HoldMs,
                ["mode"] = "dsr",
            },
            ["problems"] = new JsonArray(problems.Select(p => (JsonNode)p).ToArray()),
            ["verdict"] = problems.Count == 0 ? "pass" : "fail",
        };
        var gatewayOf = GatewayOf(observer, spread);
        LabPlot.Write(Path.Combine(Plan.Directory, "report.png"), requests, events, Plan.Backends, gatewayOf, Plan.Gateways);
        var perGateway = new JsonObject();
        foreach (var g in requests.Where(r => r.Ok).GroupBy(gatewayOf).Where(g => g.Key is not null).OrderBy(g => g.Key))
            perGateway[$"g{g.Key}"] = g.Count();
        report["requests_per_gateway"] = perGateway;
        File.WriteAllText(Path.Combine(Plan.Directory, "report.json"), report.ToJsonString(LabJson.Options));
        return report;
    }

    // Which gateway forwarded a request: the one that held the host's vMAC (its ARP answer) when the request began.
    private static Func<LabRequest, int?> GatewayOf(LabObserver observer, Dictionary<int, string?> spread)
    {
        var timeline = new Dictionary<string, List<(double At, int Gateway)>>();
        foreach (var s in observer.Samples.OrderBy(s => s.AtMs))
        {
            foreach (var v in s.Forwarding)
            {
                if (!timeline.TryGetValue(v, out var list))
                    timeline[v] = list = [];
                if (list.Count == 0 || list[^1].Gateway != s.Gateway)
                    list.Add((s.AtMs, s.Gateway));
            }
        }
        return r =>
        {
            if (spread.GetValueOrDefault(r.Host) is not { } vmac || !timeline.TryGetValue(vmac, out var list))
                return null;
            int? holder = null;
            foreach (var (at, gateway) in list)
            {
                if (at > r.StartMs)
                    break;
                holder = gateway;
            }
            return holder;
        };
    }

    private static JsonNode? Round(double? v) => v is { } x ? Math.Round(x, 1) : null;

    private static string Ms(double? v) => v is { } x ? string.Create(CultureInfo.InvariantCulture, $"{x:0} ms") : "never";

    private static string Comm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    // failQuietly: when the time is up, return and let the figure say "never" (and the verdict fail) instead of stopping.
    private void WaitFor(string what, TimeSpan limit, CancellationToken ct, Func<bool> done, bool failQuietly = false)
    {
        var end = Now + limit.TotalMilliseconds;
        while (!done())
        {
            ct.ThrowIfCancellationRequested();
            if (Now > end && failQuietly)
                return;
            if (Now > end)
                throw new LabException($"gave up waiting {limit.TotalSeconds:0} s for {what} (logs in {Plan.Directory})");
            Thread.Sleep(LabObserver.Interval);
        }
    }

    private static void Sleep(TimeSpan t, CancellationToken ct)
    {
        if (ct.WaitHandle.WaitOne(t))
            ct.ThrowIfCancellationRequested();
    }
}
