using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Offload.Cli.Lab;

/// <summary>
/// The lab's topology: every name, address and MAC, derived from the counts alone so that <c>up</c>, <c>demo</c>,
/// <c>status</c> and <c>down</c> agree without asking each other. All of it lives in network namespaces whose names
/// start with <see cref="Prefix"/>; nothing is added to the namespace the tool runs in.
/// </summary>
/// <remarks>
/// <code>
///  hosts ofl-hN (kernel ARP/TCP, default gateway = the GLBP virtual IP 10.0.0.1)
///    │ eth0                                   segment: bridge br0 in ofl-sw, MAC learning on
///  ──┴────────────── br0 ───────┬─────────────┬──────────────┐
///                        p0 ofl-g1 …      p0 ofl-gK        eth1 ofl-r (the backends' router: the DSR return path)
///                        p1 (10.1.0.1k;   p1                eth0
///                        model 10.1.0.5k)
///  ──┬────────────── br1 ───────┴─────────────┴──────────────┘  backend bridge br1 in ofl-sw
///    │ eth0
///  backends ofl-bM (nginx answering its name, offload agent; the service VIP on lo, as DSR needs)
/// </code>
/// Each gateway is its own <c>offload run</c> process whose model's ports are bound to p0 and p1 through AF_PACKET.
/// The kernel in a gateway's namespace holds one address, on p1, for health checks and agent reports: the model's
/// port MACs differ from the veths' own, so the kernel and the model never take each other's frames.
/// </remarks>
internal sealed record LabPlan(int Hosts, int Gateways, int Backends, int HelloMs, int HoldMs, string Directory)
{
    public const string Prefix = "ofl-";
    public const string Switch = "ofl-sw";
    public const string Router = "ofl-r";
    public const string VirtualIp = "10.0.0.1";
    public const string ServiceIp = "192.0.2.10";
    public const int ServicePort = 80;
    public const string DefaultDirectory = "/run/offload-lab";
    public const string GlbpKey = "offload-lab-glbp";
    public const string SyncKey = "offload-lab-sync";
    public const string AgentKey = "offload-lab-agent";

    public static string HostNs(int i) => $"ofl-h{i}";
    public static string GatewayNs(int k) => $"ofl-g{k}";
    public static string BackendNs(int j) => $"ofl-b{j}";
    public static string GatewayName(int k) => $"g{k}";
    public static string BackendName(int j) => $"b{j}";
    public static string HostIp(int i) => $"10.0.0.{100 + i}";
    public static string GatewayIp(int k) => $"10.0.0.{10 + k}";
    public static string GatewayBackendIp(int k) => $"10.1.0.{10 + k}";

    /// <summary>The model's own address on port 1: the sender of its ARP requests for the backends (not the kernel's).</summary>
    public static string GatewayModelIp(int k) => $"10.1.0.{50 + k}";
    public static string BackendIp(int j) => $"10.1.0.{100 + j}";
    public static string Port0Mac(int k) => string.Create(CultureInfo.InvariantCulture, $"02:0f:00:00:00:{k:x2}");
    public static string Port1Mac(int k) => string.Create(CultureInfo.InvariantCulture, $"02:0f:00:00:01:{k:x2}");
    public static string HostMac(int i) => string.Create(CultureInfo.InvariantCulture, $"02:0a:00:00:00:{i:x2}");
    public static string BackendMac(int j) => string.Create(CultureInfo.InvariantCulture, $"02:0b:00:00:00:{j:x2}");

    /// <summary>The switch port (veth in ofl-sw) gateway k's port 0 is plugged into.</summary>
    public static string SwitchPortOf(int k) => $"g{k}p0";

    public IEnumerable<string> Namespaces()
    {
        yield return Switch;
        yield return Router;
        for (int i = 1; i <= Hosts; i++)
            yield return HostNs(i);
        for (int k = 1; k <= Gateways; k++)
            yield return GatewayNs(k);
        for (int j = 1; j <= Backends; j++)
            yield return BackendNs(j);
    }

    public string GatewayConfigPath(int k) => Path.Combine(Directory, $"{GatewayName(k)}.json");
    public string LogPath(string name) => Path.Combine(Directory, $"{name}.log");
    public string StatePath => Path.Combine(Directory, "state.json");

    /// <summary>Gateway k's configuration: one GLBP group for the hosts, one DSR service over every backend, sync to the others.</summary>
    public JsonObject GatewayConfig(int k)
    {
        var backends = new JsonArray();
        for (int j = 1; j <= Backends; j++)
        {
            backends.Add(new JsonObject
            {
                ["id"] = BackendName(j),
                ["address"] = BackendIp(j),
                ["port"] = ServicePort,
                // No MAC and no next-hop index: the gateway resolves the backend by ARP and gives it an entry itself.
                ["egressPort"] = 1,
                ["check"] = new JsonObject
                {
                    ["type"] = "http",
                    ["target"] = $"{BackendIp(j)}:{ServicePort}",
                    ["path"] = "/",
                    ["intervalMs"] = 250,
                    ["timeoutMs"] = 200,
                    ["rise"] = 2,
                    ["fall"] = 2,
                },
                ["agent"] = new JsonObject { ["id"] = BackendName(j), ["address"] = $"{BackendIp(j)}:7381", ["key"] = AgentKey, ["intervalMs"] = 500 },
            });
        }
        var peers = new JsonArray();
        for (int p = 1; p <= Gateways; p++)
        {
            if (p != k)
                peers.Add(new JsonObject { ["ip"] = GatewayIp(p), ["mac"] = Port0Mac(p) });
        }
        return new JsonObject
        {
            ["gateway"] = new JsonObject
            {
                ["name"] = GatewayName(k),
                ["ip"] = GatewayIp(k),
                ["port0Mac"] = Port0Mac(k),
                ["port1Mac"] = Port1Mac(k),
                ["port1Ip"] = GatewayModelIp(k),
                ["logLevel"] = "information",
            },
            ["groups"] = new JsonArray(new JsonObject
            {
                ["number"] = 1,
                ["vip"] = VirtualIp,
                // g1 is the AVG while it lives; the next-highest stands by.
                ["priority"] = 200 - k * 10,
                ["preempt"] = true,
                ["preemptDelayMs"] = 0,
                ["helloMs"] = HelloMs,
                ["holdMs"] = HoldMs,
                ["forwarderPreemptDelayMs"] = 2 * HoldMs,
                ["redirectSeconds"] = 600,
                ["timeoutSeconds"] = 14400,
                ["loadBalancing"] = "round-robin",
                ["maxForwarders"] = Math.Max(4, Gateways),
                ["auth"] = new JsonObject { ["type"] = "md5", ["key"] = GlbpKey },
            }),
            ["services"] = new JsonArray(new JsonObject
            {
                ["vip"] = ServiceIp,
                ["protocol"] = "tcp",
                ["port"] = ServicePort,
                ["mode"] = "dsr",
                ["scheduler"] = "maglev",
                ["backends"] = backends,
            }),
            ["sync"] = new JsonObject { ["port"] = 3223, ["key"] = SyncKey, ["peers"] = peers },
            ["health"] = new JsonObject { ["agentListen"] = $"{GatewayBackendIp(k)}:7380" },
            ["api"] = new JsonObject { ["listen"] = "127.0.0.1:9480" },
            ["dataplane"] = new JsonObject
            {
                ["ports"] = new JsonArray(new JsonObject { ["port"] = 0, ["interface"] = "p0" }, new JsonObject { ["port"] = 1, ["interface"] = "p1" }),
            },
        };
    }

    public string NginxConfig(int j) => $$"""
        # Backend {{BackendName(j)}} of the Offload lab: answers every request with its own name.
        worker_processes 1;
        pid {{Path.Combine(Directory, $"{BackendName(j)}.nginx.pid")}};
        error_log {{LogPath($"{BackendName(j)}.nginx")}} warn;
        events { worker_connections 1024; }
        http {
            access_log off;
            keepalive_timeout 600s;
            keepalive_requests 1000000;
            client_body_temp_path {{Path.Combine(Directory, "nginx-tmp")}};
            proxy_temp_path {{Path.Combine(Directory, "nginx-tmp")}};
            fastcgi_temp_path {{Path.Combine(Directory, "nginx-tmp")}};
            uwsgi_temp_path {{Path.Combine(Directory, "nginx-tmp")}};
            scgi_temp_path {{Path.Combine(Directory, "nginx-tmp")}};
            server {
                listen {{ServicePort}};
                location / { default_type text/plain; return 200 "{{BackendName(j)}}\n"; }
            }
        }
        """;

    public void Save(LabState state) => File.WriteAllText(StatePath, JsonSerializer.Serialize(state, LabJson.Options));

    public static LabState? LoadState(string directory)
    {
        var path = Path.Combine(directory, "state.json");
        if (!File.Exists(path))
            return null;
        try
        {
            return JsonSerializer.Deserialize<LabState>(File.ReadAllText(path), LabJson.Options);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>What <c>lab up</c> started, for <c>demo</c>, <c>status</c> and <c>down</c>.</summary>
internal sealed record LabState(int Hosts, int Gateways, int Backends, int HelloMs, int HoldMs, string Directory, Dictionary<string, int> Pids)
{
    public LabPlan Plan => new(Hosts, Gateways, Backends, HelloMs, HoldMs, Directory);
}

internal static class LabJson
{
    public static readonly JsonSerializerOptions Options = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
}
