using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Offload.Cli.Lab;

/// <summary>
/// The lab with Debian's keepalived (VRRPv3) and HAProxy (TCP mode) in Offload's place: two Linux routers sharing the
/// gateway address and the service address by VRRP, each running HAProxy as the L4 balancer over the same nginx
/// backends, the same hosts and traffic. The master is killed as a box dies (its processes killed, its links down) and
/// started again, several times; the same figures as Offload's are measured from outside.
/// </summary>
internal sealed class PeerBench(LabPlan plan, TextWriter output, bool quiet)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private double Now => _clock.Elapsed.TotalMilliseconds;

    /// <param name="advertSeconds">keepalived's advert_int (VRRPv3 takes hundredths).</param>
    public JsonObject Run(double advertSeconds, int kills, CancellationToken ct)
    {
        Directory.CreateDirectory(plan.Directory);
        LabNetwork.Build(plan, _ => { }, kernelGateways: true);
        var pids = new Dictionary<int, List<int>>();
        for (int k = 1; k <= plan.Gateways; k++)
            pids[k] = StartGateway(k, advertSeconds);
        for (int j = 1; j <= plan.Backends; j++)
        {
            var conf = Path.Combine(plan.Directory, $"{LabPlan.BackendName(j)}.nginx.conf");
            Directory.CreateDirectory(Path.Combine(plan.Directory, "nginx-tmp"));
            File.WriteAllText(conf, plan.NginxConfig(j));
            Sh.StartIn(LabPlan.BackendNs(j), plan.LogPath($"{LabPlan.BackendName(j)}.nginx"), "nginx", "-c", conf, "-g", "daemon off;");
        }
        var hosts = Enumerable.Range(1, plan.Hosts).Select(i => new NetnsSockets(LabPlan.HostNs(i))).ToList();
        try
        {
            // g1 has the highest priority: each kill is of g1 as master, as each Offload kill is of a forwarder.
            Wait("g1 to be the VRRP master", TimeSpan.FromSeconds(30), ct, () => Master() == 1);
            using var traffic = new LabTraffic(_clock, hosts);
            traffic.Start();
            Wait("every host to be served through the peer", TimeSpan.FromSeconds(30), ct, () =>
                Enumerable.Range(1, plan.Hosts).All(h => traffic.Requests.Any(r => r.Host == h && r.Ok)));
            Sleep(TimeSpan.FromSeconds(3), ct);
            // Every host's gateway is VRRP's virtual MAC, which only the master answers for: all hosts on one box.
            int first = Master() ?? 0;
            var hostsPerGateway = Neighbours().GroupBy(m => m == VrrpMac ? $"g{first}" : m ?? "none").ToDictionary(g => g.Key, g => g.Count());
            var events = new List<JsonObject>();
            for (int i = 0; i < kills; i++)
            {
                int master = Master() ?? throw new LabException("no VRRP master");
                int backup = Enumerable.Range(1, plan.Gateways).First(k => k != master);
                double at = Now;
                // A box that dies: its processes go and its links with them.
                foreach (var p in LabNetwork.PidsIn(LabPlan.GatewayNs(master)))
                    LabNetwork.Kill(p);
                Sh.Run("ip", "-n", LabPlan.GatewayNs(master), "link", "set", "p0", "down");
                Sh.Run("ip", "-n", LabPlan.GatewayNs(master), "link", "set", "p1", "down");
                Wait($"g{backup} to take the addresses", TimeSpan.FromSeconds(30), ct, () => HasVip(backup));
                double detection = Now - at;
                // A connection the new master knows nothing of breaks only when its next segment arrives there, after
                // TCP's backoff: wait until every host's long-lived connection has carried a request again.
                double back = Now;
                Wait("every host's long-lived connection to carry a request again", TimeSpan.FromSeconds(30), ct, () =>
                    Enumerable.Range(1, plan.Hosts).All(h => traffic.Requests.Any(r => r.Host == h && r.Stream && r.Ok && r.StartMs >= back)));
                var after = traffic.Requests.Where(r => r.EndMs >= at).ToList();
                var firsts = Enumerable.Range(1, plan.Hosts).Select(h => after.Where(r => r.Host == h && r.Ok && r.StartMs >= at).Select(r => (double?)r.EndMs).Min()).ToList();
                var e = new JsonObject
                {
                    ["kind"] = "master-killed",
                    ["target"] = $"g{master}",
                    ["detection_ms"] = Math.Round(detection, 1),
                    ["recovery_ms"] = firsts.All(f => f is not null) ? Math.Round(firsts.Max()!.Value - at, 1) : null,
                    ["requests_failed"] = after.Count(r => !r.Ok && !r.Stream),
                    ["connections_broken"] = traffic.Reconnects.Count(c => c.AtMs >= at),
                };
                events.Add(e);
                if (!quiet)
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    kill g{master}: g{backup} took over in {detection:0} ms; {e["connections_broken"]} connection(s) broken, {e["requests_failed"]} request(s) failed"));
                // The box comes back and, with the higher priority, takes the addresses back (VRRP preempts by default).
                Sh.Run("ip", "-n", LabPlan.GatewayNs(master), "link", "set", "p0", "up");
                Sh.Run("ip", "-n", LabPlan.GatewayNs(master), "link", "set", "p1", "up");
                pids[master] = StartGateway(master, advertSeconds);
                // It preempts (the higher priority): wait until it is the one master again, and traffic has settled.
                Wait($"g{master} to be master again", TimeSpan.FromSeconds(30), ct, () => Master() == master);
                Sleep(TimeSpan.FromSeconds(3), ct);
            }
            traffic.Stop();
            return new JsonObject
            {
                ["peer"] = "keepalived+haproxy",
                ["advert_ms"] = advertSeconds * 1000,
                ["kills"] = events.Count,
                ["detection_ms"] = Stats(events, "detection_ms"),
                ["recovery_ms"] = Stats(events, "recovery_ms"),
                ["connections_broken"] = events.Sum(e => (int)e["connections_broken"]!),
                ["requests_failed"] = events.Sum(e => (int)e["requests_failed"]!),
                ["hosts_per_gateway"] = new JsonObject(hostsPerGateway.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            };
        }
        finally
        {
            foreach (var h in hosts)
                h.Dispose();
        }
    }

    private List<int> StartGateway(int k, double advertSeconds)
    {
        var ns = LabPlan.GatewayNs(k);
        var name = LabPlan.GatewayName(k);
        var keepalived = Path.Combine(plan.Directory, $"{name}.keepalived.conf");
        File.WriteAllText(keepalived, string.Create(CultureInfo.InvariantCulture, $$"""
            global_defs {
                vrrp_version 3
                router_id {{name}}
                script_user root
                enable_script_security
            }
            vrrp_instance lab {
                state {{(k == 1 ? "MASTER" : "BACKUP")}}
                interface p0
                virtual_router_id 51
                # VRRP's own virtual MAC (00:00:5e:00:01:33), as the RFC has it: the switch relearns it, the hosts'
                # neighbour entries stay right.
                use_vmac
                priority {{200 - k * 10}}
                advert_int {{advertSeconds}}
                virtual_ipaddress {
                    {{LabPlan.VirtualIp}}/24 dev p0
                    {{LabPlan.ServiceIp}}/32 dev p0
                }
            }
            """));
        var haproxy = Path.Combine(plan.Directory, $"{name}.haproxy.cfg");
        var servers = string.Join("\n", Enumerable.Range(1, plan.Backends).Select(j => $"    server {LabPlan.BackendName(j)} {LabPlan.BackendIp(j)}:{LabPlan.ServicePort} check inter 250 fall 2 rise 2"));
        File.WriteAllText(haproxy, $"""
            global
                maxconn 4000
            defaults
                mode tcp
                timeout connect 2s
                timeout client 10m
                timeout server 10m
            listen service
                bind {LabPlan.ServiceIp}:{LabPlan.ServicePort}
                balance roundrobin
            {servers}

            """);
        // A killed keepalived leaves its pid files, and a new one refuses to start over them ("daemon is already running").
        File.Delete(Path.Combine(plan.Directory, $"{name}.keepalived.pid"));
        File.Delete(Path.Combine(plan.Directory, $"{name}.vrrp.pid"));
        return
        [
            Sh.StartIn(ns, plan.LogPath($"{name}.keepalived"), "keepalived", "-n", "-l", "-D", "-P", "-f", keepalived,
                "-p", Path.Combine(plan.Directory, $"{name}.keepalived.pid"), "-r", Path.Combine(plan.Directory, $"{name}.vrrp.pid")),
            Sh.StartIn(ns, plan.LogPath($"{name}.haproxy"), "haproxy", "-db", "-f", haproxy),
        ];
    }

    private const string VrrpMac = "00:00:5e:00:01:33";

    private List<int> Masters() => Enumerable.Range(1, plan.Gateways).Where(HasVip).ToList();

    // The one gateway holding the addresses, or null while none or two do (VRRP settling).
    private int? Master() => Masters() is [var only] ? only : null;

    private bool HasVip(int k)
    {
        // use_vmac puts the addresses on a macvlan over p0 that keepalived makes, named after the router id.
        var (code, output, _) = Sh.TryRun(TimeSpan.FromSeconds(5), "ip", "-n", LabPlan.GatewayNs(k), "-o", "addr", "show", "up");
        return code == 0 && output.Contains($" {LabPlan.VirtualIp}/", StringComparison.Ordinal);
    }

    private List<string?> Neighbours() => Enumerable.Range(1, plan.Hosts).Select(i =>
    {
        var (code, output, _) = Sh.TryRun(TimeSpan.FromSeconds(5), "ip", "-n", LabPlan.HostNs(i), "-j", "neigh", "show", LabPlan.VirtualIp);
        return code == 0 ? JsonNode.Parse(output)?.AsArray().Select(e => (string?)e?["lladdr"]).FirstOrDefault(m => m is not null) : null;
    }).ToList();

    private static JsonObject Stats(List<JsonObject> events, string key)
    {
        var values = events.Select(e => (double?)e[key]).Where(v => v is not null).Select(v => v!.Value).Order().ToList();
        return new JsonObject
        {
            ["median"] = values.Count == 0 ? null : Math.Round(values.Count % 2 == 1 ? values[values.Count / 2] : (values[values.Count / 2 - 1] + values[values.Count / 2]) / 2, 1),
            ["worst"] = values.Count == 0 ? null : values[^1],
            ["measured"] = values.Count,
        };
    }

    private void Wait(string what, TimeSpan limit, CancellationToken ct, Func<bool> done)
    {
        var end = Now + limit.TotalMilliseconds;
        while (!done())
        {
            ct.ThrowIfCancellationRequested();
            if (Now > end)
                throw new LabException($"gave up waiting {limit.TotalSeconds:0} s for {what} (logs in {plan.Directory})");
            Thread.Sleep(5);
        }
    }

    private static void Sleep(TimeSpan t, CancellationToken ct)
    {
        if (ct.WaitHandle.WaitOne(t))
            ct.ThrowIfCancellationRequested();
    }
}
