using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Offload.Balancer.Classification;
using Offload.Balancer.Routing;
using Offload.Balancer.Sync;
using Offload.Device;
using Offload.Gateway;
using Offload.Group;
using Offload.Protocol;
using Offload.Protocol.Glbp;

namespace Offload.Daemon;

/// <summary>A gateway config that cannot run: every problem found, each with its JSON path.</summary>
public sealed class GatewayConfigException : ConfigFileException
{
    public GatewayConfigException(string source, IReadOnlyList<string> problems)
        : base(source, problems)
    {
    }

    public GatewayConfigException()
    {
    }

    public GatewayConfigException(string message)
        : base(message)
    {
    }

    public GatewayConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

public sealed record HealthCheckSpec(bool Http, IPEndPoint Target, string Path, TimeSpan Interval, TimeSpan Timeout, int Rise, int Fall);

public sealed record AgentSpec(string Id, IPEndPoint Address, byte[] Key, TimeSpan Interval);

public sealed record BackendSpec(BackendConfig Config, HealthCheckSpec? Check, AgentSpec? Agent);

public sealed record ServiceSpec(ServiceConfig Config, IReadOnlyList<BackendSpec> Backends);

/// <summary>
/// One next hop of the gateway's own (a backend's address, a route's <c>via</c>) behind one port: its MAC comes from ARP
/// unless <paramref name="Mac"/> fixes it, its hardware next-hop entry is allocated by the gateway unless
/// <paramref name="Index"/> fixes it. Backends and routes with this address on this port share it.
/// </summary>
public sealed record NextHopSpec(NeighbourKey Key, MacAddress? Mac, int? Index);

/// <summary>A group's tracked object: the pool of <paramref name="Service"/> is up while at least
/// <paramref name="MinHealthy"/> of its backends are healthy; while it is down the group's weighting drops by
/// <paramref name="Decrement"/>.</summary>
/// <param name="Id">The tracked-object id the group knows it by (unique on this gateway).</param>
public sealed record GroupTrack(ushort Group, int Id, ServiceKey Service, byte Decrement, int MinHealthy);

/// <summary>A network port of the model bound to a Linux interface, with the largest IP packet (MTU) it takes.</summary>
public sealed record DataplanePort(int Port, string Interface, int Mtu)
{
    public const int MinMtu = 68;
    public const int MaxMtu = 9000;

    /// <summary>What the kernel takes as an interface name (IFNAMSIZ, dev_valid_name).</summary>
    public static bool IsInterfaceName(string name) =>
        name is { Length: > 0 and < 16 } && name != "." && name != ".." && !name.Any(c => c == '/' || c == ':' || char.IsWhiteSpace(c) || char.IsControl(c));
}

/// <summary>
/// A validated gateway configuration in the control plane's own types. Built only by <see cref="Parse"/> and
/// <see cref="Load"/>, which refuse the whole file on any problem, so a node never starts half-configured.
/// </summary>
public sealed record GatewayConfig
{
    public const int DefaultApiPort = 9480;

    public required string Name { get; init; }
    public required uint LocalIp { get; init; }
    public required MacAddress Port0Mac { get; init; }
    public required MacAddress Port1Mac { get; init; }

    /// <summary>The gateway's address toward port 1 (0: none, ARP requests there are probes from 0.0.0.0).</summary>
    public uint Port1Ip { get; init; }

    /// <summary>Every next hop of backends and <c>via</c> routes, in the order the file first names them.</summary>
    public IReadOnlyList<NextHopSpec> NextHops { get; init; } = [];
    public string LogLevel { get; init; } = "information";
    public uint WatchdogCycles { get; init; }
    public IReadOnlyList<GlbpGroupOptions> Groups { get; init; } = [];

    /// <summary>Tracked objects of the groups: a service's pool health lowers a group's weighting when it fails.</summary>
    public IReadOnlyList<GroupTrack> Tracks { get; init; } = [];
    public IReadOnlyList<ServiceSpec> Services { get; init; } = [];
    public IReadOnlyList<Route> Routes { get; init; } = [];

    /// <summary>Session sync; null turns it off.</summary>
    public SyncOptions? Sync { get; init; }

    public IPEndPoint? AgentListen { get; init; }

    /// <summary>What a backend's established flows do when health checks or its agent take it down.</summary>
    public Balancer.Health.DownPolicy OnBackendDown { get; init; } = Balancer.Health.DownPolicy.Drain;
    /// <summary>A loopback <see cref="IPEndPoint"/> or a <see cref="System.Net.Sockets.UnixDomainSocketEndPoint"/> (<c>unix:/path</c>).</summary>
    public EndPoint ApiListen { get; init; } = new IPEndPoint(IPAddress.Loopback, DefaultApiPort);

    /// <summary>The Linux interfaces the model's network ports are bound to (<c>dataplane.ports</c>); empty: none.</summary>
    public IReadOnlyList<DataplanePort> Ports { get; init; } = [];

    /// <summary>What runs but may not do what was meant, each with its JSON path; the daemon prints them at start.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <exception cref="GatewayConfigException">The file is missing, not JSON, or invalid (all problems listed).</exception>
    public static GatewayConfig Load(string path) => Parse(ConfigJson.ReadText(path, (m, e) => new GatewayConfigException(m, e)), path);

    /// <exception cref="GatewayConfigException">Not JSON, or invalid (all problems listed).</exception>
    public static GatewayConfig Parse(string json, string source = "config")
    {
        var file = ConfigJson.Deserialize<ConfigFile>(json, source, (s, p) => new GatewayConfigException(s, p));
        var v = new Validator();
        var config = v.Build(file);
        if (v.Problems.Count > 0 || config is null)
            throw new GatewayConfigException(source, v.Problems);
        return config with { Warnings = v.Warnings };
    }

    // System.Text.Json words its errors for programmers ("System.Nullable`1[System.Int32]", "could not be mapped to any
    // .NET member contained in type ..."): whoever wrote the file needs the JSON path and what belongs there.
    public static string Plain(JsonException e)
    {
        string path = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "$" : e.Path.TrimStart('$', '.');
        string message = e.Message;
        const string Unmapped = "The JSON property '";
        if (message.StartsWith(Unmapped, StringComparison.Ordinal) && message.Contains("could not be mapped", StringComparison.Ordinal))
        {
            int end = message.IndexOf('\'', Unmapped.Length);
            string name = end > 0 ? message[Unmapped.Length..end] : "?";
            // The path of an unknown member is its parent's on some paths and its own on others.
            string at = path.EndsWith(name, StringComparison.Ordinal) || path.EndsWith($"['{name}']", StringComparison.Ordinal) ? path : path == "$" ? name : $"{path}.{name}";
            return $"{at}: '{name}' is not a setting here (misspelt?)";
        }
        const string Converted = "could not be converted to ";
        int c = message.IndexOf(Converted, StringComparison.Ordinal);
        if (c >= 0)
        {
            string type = message[(c + Converted.Length)..];
            return $"{path}: the value is not {Expected(type)}";
        }
        if (e.LineNumber is { } line)
        {
            int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            string what = (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
            return $"{path}: not valid JSON at line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}: {what}";
        }
        int p = message.IndexOf(" Path:", StringComparison.Ordinal);
        return $"{path}: {(p > 0 ? message[..p] : message)}";
    }

    private static string Expected(string type)
    {
        bool Has(string t) => type.Contains(t, StringComparison.Ordinal);
        if (Has("Int32") || Has("Int64") || Has("UInt32"))
            return "a whole number in range";
        if (Has("Double"))
            return "a number";
        if (Has("Boolean"))
            return "true or false";
        if (Has("System.String"))
            return "a string (in quotes)";
        if (Has("List`1"))
            return "a list [ ... ]";
        if (Has("Section") || Has("ConfigFile"))
            return "an object { ... }";
        return "of the expected kind";
    }

    private sealed class Validator : ConfigValidator
    {
        public GatewayConfig? Build(ConfigFile f)
        {
            var gw = f.Gateway;
            if (gw is null)
            {
                Problem("gateway", "missing: the gateway's name, ip and port MACs are required");
                gw = new GatewaySection();
            }
            string name = gw.Name ?? "";
            if (string.IsNullOrWhiteSpace(name))
                Problem("gateway.name", "missing");
            uint ip = Ip("gateway.ip", gw.Ip, required: true);
            var mac0 = Mac("gateway.port0Mac", gw.Port0Mac, required: true, unicast: true);
            var mac1 = Mac("gateway.port1Mac", gw.Port1Mac, required: true, unicast: true);
            if (mac0.Value != 0 && mac0 == mac1)
                Problem("gateway.port1Mac", $"'{gw.Port1Mac}' is port0Mac too: the two ports need MACs of their own");
            uint ip1 = Ip("gateway.port1Ip", gw.Port1Ip, required: false);
            string level = (gw.LogLevel ?? "information").ToLowerInvariant();
            if (DaemonLogging.ParseLevel(level) is null)
                Problem("gateway.logLevel", $"'{gw.LogLevel}' is not one of verbose, debug, information, warning, error, fatal");
            uint watchdog = 0;
            if (gw.WatchdogCycles is { } wd)
            {
                if (wd is < 0 or > uint.MaxValue)
                    Problem("gateway.watchdogCycles", $"{wd} is outside 0..{uint.MaxValue}");
                else
                    watchdog = (uint)wd;
            }

            if ((f.Groups?.Count ?? 0) == 0 && (f.Services?.Count ?? 0) == 0 && (f.Routes?.Count ?? 0) == 0)
                Problem("$", "nothing to do: no groups, no services and no routes are configured");

            var groups = new List<GlbpGroupOptions>();
            var groupNumbers = new HashSet<int>();
            var groupVips = new Dictionary<uint, int>();
            for (int i = 0; i < (f.Groups?.Count ?? 0); i++)
            {
                if (!NotNull($"groups[{i}]", f.Groups![i]))
                    continue;
                var g = Group($"groups[{i}]", f.Groups[i], ip, mac0);
                if (g is null)
                    continue;
                if (!groupNumbers.Add(g.Group))
                    Problem($"groups[{i}].number", $"group {g.Group} is configured twice");
                // A VIP of 0 is learnt from the AVG; two groups answering ARP for one address would fight over it.
                if (g.VirtualIp != 0 && !groupVips.TryAdd(g.VirtualIp, i))
                    Problem($"groups[{i}].vip", $"{Ipv4Address.Format(g.VirtualIp)} is already the virtual IP of groups[{groupVips[g.VirtualIp]}]");
                if (g.VirtualIp != 0 && g.VirtualIp == ip)
                    Problem($"groups[{i}].vip", $"{Ipv4Address.Format(g.VirtualIp)} is this gateway's own address (gateway.ip)");
                if (g.HelloTime < GlbpGroupOptions.CiscoMinHelloTime)
                {
                    Warnings.Add($"groups[{i}].helloMs: {g.HelloTime.TotalMilliseconds:0} ms is below Cisco's {GlbpGroupOptions.CiscoMinHelloTime.TotalMilliseconds:0} ms, "
                        + "so a Cisco router could not join this group");
                }
                if (g.MaxForwarders > GlbpGroupOptions.CiscoMaxForwarders)
                {
                    Warnings.Add($"groups[{i}].maxForwarders: {g.MaxForwarders} forwarders; Cisco routers allow {GlbpGroupOptions.CiscoMaxForwarders} per group, "
                        + "so a Cisco router could not join this group as a forwarder");
                }
                groups.Add(g);
            }

            int beforeServices = Problems.Count;
            var services = new List<ServiceSpec>();
            var serviceKeys = new HashSet<ServiceKey>();
            var backendHops = new Dictionary<int, (MacAddress Mac, int Port, string Path)>();
            for (int i = 0; i < (f.Services?.Count ?? 0); i++)
            {
                if (!NotNull($"services[{i}]", f.Services![i]))
                    continue;
                var s = Service($"services[{i}]", f.Services[i], backendHops);
                if (s is null)
                    continue;
                if (!serviceKeys.Add(s.Config.Key))
                    Problem($"services[{i}]", $"a service for {Ipv4Address.Format(s.Config.Key.VirtualIp)} protocol {s.Config.Key.Protocol} port {s.Config.Key.Port} is configured twice");
                services.Add(s);
            }

            // A service with its own problem is missing from serviceKeys: saying so again at every track would only echo it.
            bool servicesValid = Problems.Count == beforeServices;
            var tracks = new List<GroupTrack>();
            for (int i = 0; i < (f.Groups?.Count ?? 0); i++)
            {
                var section = f.Groups![i];
                if (section is null)
                    continue;
                for (int j = 0; j < (section.Track?.Count ?? 0); j++)
                {
                    if (!NotNull($"groups[{i}].track[{j}]", section.Track![j]))
                        continue;
                    if (TrackOf($"groups[{i}].track[{j}]", section.Track![j], servicesValid ? serviceKeys : null) is { } t && section.Number is { } n and >= 0)
                        tracks.Add(new GroupTrack((ushort)n, tracks.Count + 1, t.Service, t.Decrement, t.MinHealthy));
                }
            }

            var routes = new List<Route>();
            for (int i = 0; i < (f.Routes?.Count ?? 0); i++)
            {
                if (NotNull($"routes[{i}]", f.Routes![i]) && RouteOf($"routes[{i}]", f.Routes[i], backendHops) is { } r)
                    routes.Add(r);
            }
            foreach (var g in groups)
            {
                if (ip1 != 0 && g.VirtualIp == ip1)
                    Problem("gateway.port1Ip", $"{Ipv4Address.Format(ip1)} is the virtual IP of group {g.Group}");
            }

            SyncOptions? sync = null;
            if (f.Sync is { } sy)
                sync = Sync("sync", sy, ip);

            IPEndPoint? agentListen = null;
            var onDown = (f.Health?.OnBackendDown ?? "drain") switch
            {
                "drain" => Balancer.Health.DownPolicy.Drain,
                "keep-flows" => Balancer.Health.DownPolicy.KeepFlows,
                "remove-flows" => Balancer.Health.DownPolicy.RemoveFlows,
                _ => (Balancer.Health.DownPolicy?)null,
            };
            if (onDown is null)
                Problem("health.onBackendDown", $"'{f.Health!.OnBackendDown}' is not one of drain, keep-flows, remove-flows");
            if (f.Health?.AgentListen is { } al)
                agentListen = EndPoint("health.agentListen", al);
            bool needsAgents = f.Services?.Any(s => s?.Backends?.Any(b => b?.Agent is not null) == true) == true;
            if (needsAgents && agentListen is null)
                Problem("health.agentListen", "missing: backends name agents, so the gateway needs an address to hear their reports on");

            EndPoint api = new IPEndPoint(IPAddress.Loopback, DefaultApiPort);
            if (f.Api?.Listen is { } listen)
            {
                if (ApiEndPoint.TryParse(listen, out var parsed, out string? why))
                    api = parsed;
                else
                    Problem("api.listen", why);
            }

            var ports = new List<DataplanePort>();
            for (int i = 0; i < (f.Dataplane?.Ports?.Count ?? 0); i++)
            {
                if (NotNull($"dataplane.ports[{i}]", f.Dataplane!.Ports![i]) && PortOf($"dataplane.ports[{i}]", f.Dataplane.Ports[i]) is { } p)
                {
                    if (ports.Any(q => q.Port == p.Port))
                        Problem($"dataplane.ports[{i}].port", $"port {p.Port} is bound twice");
                    else if (ports.Any(q => q.Interface == p.Interface))
                        Problem($"dataplane.ports[{i}].interface", $"{p.Interface} is already bound to port {ports.First(q => q.Interface == p.Interface).Port}");
                    else
                        ports.Add(p);
                }
            }

            if (Problems.Count > 0)
                return null;
            return new GatewayConfig
            {
                Ports = ports,
                Name = name,
                LocalIp = ip,
                Port0Mac = mac0,
                Port1Mac = mac1,
                Port1Ip = ip1,
                NextHops = [.. _neighbours.Select(static n => n.Spec)],
                LogLevel = level,
                WatchdogCycles = watchdog,
                Groups = groups,
                Tracks = tracks,
                Services = services,
                Routes = routes,
                Sync = sync,
                AgentListen = agentListen,
                OnBackendDown = onDown ?? Balancer.Health.DownPolicy.Drain,
                ApiListen = api,
            };
        }

        private DataplanePort? PortOf(string path, PortSection s)
        {
            int before = Problems.Count;
            int port = Int($"{path}.port", s.Port, 0, 1, required: true) ?? 0;
            int mtu = Int($"{path}.mtu", s.Mtu, DataplanePort.MinMtu, DataplanePort.MaxMtu) ?? 1500;
            string name = s.Interface ?? "";
            if (s.Interface is null)
                Problem($"{path}.interface", "missing: name the Linux interface this port is bound to");
            else if (!DataplanePort.IsInterfaceName(name))
                Problem($"{path}.interface", $"'{name}' is not a Linux interface name (1 to 15 characters, no '/', ':', whitespace; not '.' or '..')");
            return Problems.Count == before ? new DataplanePort(port, name, mtu) : null;
        }

        private GlbpGroupOptions? Group(string path, GroupSection g, uint localIp, MacAddress localMac)
        {
            int before = Problems.Count;
            int number = Int($"{path}.number", g.Number, 0, GlbpProtocol.MaxGroup, required: true) ?? 0;
            uint vip = Ip($"{path}.vip", g.Vip, required: false);
            int priority = Int($"{path}.priority", g.Priority, 1, 255) ?? 100;
            int preemptDelay = Int($"{path}.preemptDelayMs", g.PreemptDelayMs, 0, 3_600_000) ?? 0;
            // Cisco's default: a forwarder's owner that comes back takes its vMAC back after 30 s.
            int forwarderPreemptDelay = Int($"{path}.forwarderPreemptDelayMs", g.ForwarderPreemptDelayMs, 0, 3_600_000) ?? 30_000;
            int hello = Int($"{path}.helloMs", g.HelloMs, (int)GlbpGroupOptions.MinHelloTime.TotalMilliseconds, 60_000) ?? 3000;
            int hold = Int($"{path}.holdMs", g.HoldMs, (int)GlbpGroupOptions.MinHelloTime.TotalMilliseconds + 1, 180_000) ?? Math.Max(10_000, hello * 10 / 3 + 1);
            if (g.HelloMs is not null && g.HoldMs is not null && hold <= hello)
                Problem($"{path}.holdMs", $"{hold} must be greater than helloMs ({hello})");
            int redirect = Int($"{path}.redirectSeconds", g.RedirectSeconds, 0, ushort.MaxValue) ?? 600;
            int timeout = Int($"{path}.timeoutSeconds", g.TimeoutSeconds, 1, ushort.MaxValue) ?? 14400;
            if (timeout <= redirect)
                Problem($"{path}.timeoutSeconds", $"{timeout} must be greater than redirectSeconds ({redirect})");
            var mode = (g.LoadBalancing ?? "round-robin").ToLowerInvariant() switch
            {
                "round-robin" => GlbpLoadBalancing.RoundRobin,
                "weighted" => GlbpLoadBalancing.Weighted,
                "host-dependent" => GlbpLoadBalancing.HostDependent,
                "load-based" => GlbpLoadBalancing.LoadBased,
                _ => (GlbpLoadBalancing?)null,
            };
            if (mode is null)
                Problem($"{path}.loadBalancing", $"'{g.LoadBalancing}' is not one of round-robin, weighted, host-dependent, load-based");
            int weighting = Int($"{path}.weighting", g.Weighting, 1, GlbpWeighting.MaxWeighting) ?? 100;
            int lower = Int($"{path}.lowerThreshold", g.LowerThreshold, 0, GlbpWeighting.MaxWeighting) ?? 1;
            int? upper = Int($"{path}.upperThreshold", g.UpperThreshold, 0, GlbpWeighting.MaxWeighting);
            if ((upper ?? weighting) > weighting)
                Problem($"{path}.upperThreshold", $"{upper} is above the weighting ({weighting})");
            if (lower > (upper ?? weighting))
                Problem($"{path}.lowerThreshold", $"{lower} is above the upper threshold ({upper ?? weighting})");
            int maxForwarders = Int($"{path}.maxForwarders", g.MaxForwarders, 1, GlbpVirtualMac.MaxForwarder) ?? GlbpGroupOptions.CiscoMaxForwarders;
            var auth = Auth($"{path}.auth", g.Auth);
            if (Problems.Count > before)
                return null;
            var options = new GlbpGroupOptions
            {
                Group = (ushort)number,
                LocalIp = localIp == 0 ? 1 : localIp,
                LocalMac = localMac.Value == 0 ? 2 : localMac.Value,
                VirtualIp = vip,
                Priority = (byte)priority,
                Preempt = g.Preempt ?? false,
                PreemptDelay = TimeSpan.FromMilliseconds(preemptDelay),
                ForwarderPreemptDelay = TimeSpan.FromMilliseconds(forwarderPreemptDelay),
                HelloTime = TimeSpan.FromMilliseconds(hello),
                HoldTime = TimeSpan.FromMilliseconds(hold),
                RedirectTime = TimeSpan.FromSeconds(redirect),
                TimeoutTime = TimeSpan.FromSeconds(timeout),
                MaxForwarders = maxForwarders,
                Weighting = (byte)weighting,
                LowerThreshold = (byte)lower,
                UpperThreshold = upper is { } u ? (byte)u : null,
                LoadBalancing = mode!.Value,
                Authentication = auth,
            };
            try
            {
                options.Validate();
            }
            catch (ArgumentException e)
            {
                Problem(path, e.Message);
                return null;
            }
            return options;
        }

        private (ServiceKey Service, byte Decrement, int MinHealthy)? TrackOf(string path, TrackSection t, HashSet<ServiceKey>? services)
        {
            int before = Problems.Count;
            int decrement = Int($"{path}.decrement", t.Decrement, 1, GlbpWeighting.MaxWeighting, required: true) ?? 0;
            int minHealthy = Int($"{path}.minHealthy", t.MinHealthy, 1, 4096) ?? 1;
            ServiceKey? key = null;
            if (t.Service is not { } text)
            {
                Problem($"{path}.service", "missing: the service whose backends this group tracks, as VIP:PORT/tcp");
            }
            else
            {
                // "192.0.2.10:80/tcp"
                int colon = text.LastIndexOf(':');
                int slash = text.LastIndexOf('/');
                byte? proto = slash < 0 ? null : text[(slash + 1)..].ToLowerInvariant() switch { "tcp" => 6, "udp" => 17, _ => null };
                if (colon < 0 || slash < colon || proto is null
                    || !Ipv4Address.TryParse(text[..colon], out uint vip)
                    || !ushort.TryParse(text[(colon + 1)..slash], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ushort port))
                {
                    Problem($"{path}.service", $"'{text}' is not VIP:PORT/tcp or VIP:PORT/udp");
                }
                else if (services?.Contains(new ServiceKey(vip, proto.Value, port)) == false)
                {
                    Problem($"{path}.service", $"'{text}' is not one of the services configured here");
                }
                else
                {
                    key = new ServiceKey(vip, proto.Value, port);
                }
            }
            return Problems.Count > before || key is null ? null : (key.Value, (byte)decrement, minHealthy);
        }

        private GlbpAuthSettings Auth(string path, AuthSection? a)
        {
            if (a is null)
                return GlbpAuthSettings.Disabled;
            var mode = (a.Type ?? "none").ToLowerInvariant() switch
            {
                "none" => GlbpAuthMode.None,
                "text" => GlbpAuthMode.PlainText,
                "md5" => GlbpAuthMode.Md5KeyString,
                "md5-key-chain" => GlbpAuthMode.Md5KeyChain,
                "hmac-sha256" => GlbpAuthMode.OffloadHmacSha256,
                _ => (GlbpAuthMode?)null,
            };
            if (mode is null)
            {
                Problem($"{path}.type", $"'{a.Type}' is not one of none, text, md5, md5-key-chain, hmac-sha256");
                return default;
            }
            if (mode == GlbpAuthMode.None)
                return GlbpAuthSettings.Disabled;
            if (string.IsNullOrEmpty(a.Key))
            {
                Problem($"{path}.key", $"missing: authentication type '{a.Type}' needs a key");
                return default;
            }
            if (mode == GlbpAuthMode.PlainText && Encoding.UTF8.GetByteCount(a.Key) > 8)
                Problem($"{path}.key", "a text authentication string is at most 8 bytes (Cisco's limit)");
            return new GlbpAuthSettings(mode.Value, Encoding.UTF8.GetBytes(a.Key), a.KeyId ?? 0);
        }

        private ServiceSpec? Service(string path, ServiceSection s, Dictionary<int, (MacAddress Mac, int Port, string Path)> hops)
        {
            int before = Problems.Count;
            uint vip = Ip($"{path}.vip", s.Vip, required: true);
            byte? proto = (s.Protocol ?? "").ToLowerInvariant() switch
            {
                "tcp" => IpProtocol.Tcp,
                "udp" => IpProtocol.Udp,
                _ => null,
            };
            if (proto is null)
                Problem($"{path}.protocol", s.Protocol is null ? "missing: tcp or udp" : $"'{s.Protocol}' is not tcp or udp");
            int port = Int($"{path}.port", s.Port, 1, 65535, required: true) ?? 0;
            ForwardingMode? mode = (s.Mode ?? "nat").ToLowerInvariant() switch
            {
                "nat" => ForwardingMode.Nat,
                "dsr" => ForwardingMode.DirectServerReturn,
                _ => null,
            };
            if (mode is null)
                Problem($"{path}.mode", $"'{s.Mode}' is not nat or dsr");
            SchedulerKind? scheduler = (s.Scheduler ?? "maglev").ToLowerInvariant() switch
            {
                "maglev" => SchedulerKind.Maglev,
                "round-robin" => SchedulerKind.RoundRobin,
                "least-connections" => SchedulerKind.LeastConnections,
                "source-hash" => SchedulerKind.SourceHash,
                _ => null,
            };
            if (scheduler is null)
                Problem($"{path}.scheduler", $"'{s.Scheduler}' is not one of maglev, round-robin, least-connections, source-hash");
            double rate = s.InstallsPerSecond ?? 0;
            if (rate < 0 || double.IsNaN(rate) || double.IsInfinity(rate))
                Problem($"{path}.installsPerSecond", $"{rate} must be 0 (no limit) or a positive rate");
            int burst = Int($"{path}.installBurst", s.InstallBurst, 1, 1_000_000) ?? 64;
            var backends = new List<BackendSpec>();
            var ids = new HashSet<string>(StringComparer.Ordinal);
            if (s.Backends is null || s.Backends.Count == 0)
                Problem($"{path}.backends", "missing: a service needs at least one backend");
            for (int i = 0; i < (s.Backends?.Count ?? 0); i++)
            {
                if (!NotNull($"{path}.backends[{i}]", s.Backends![i]))
                    continue;
                var b = Backend($"{path}.backends[{i}]", s.Backends[i], mode == ForwardingMode.DirectServerReturn, hops);
                if (b is null)
                    continue;
                if (!ids.Add(b.Config.Id))
                    Problem($"{path}.backends[{i}].id", $"'{b.Config.Id}' is used twice in this service");
                backends.Add(b);
            }
            if (Problems.Count > before)
                return null;
            return new ServiceSpec(
                new ServiceConfig(new ServiceKey(vip, proto!.Value, (ushort)port), mode!.Value, scheduler!.Value, InstallsPerSecond: rate, InstallBurst: burst),
                backends);
        }

        private BackendSpec? Backend(string path, BackendSection b, bool dsr, Dictionary<int, (MacAddress Mac, int Port, string Path)> hops)
        {
            int before = Problems.Count;
            string id = b.Id ?? "";
            if (string.IsNullOrWhiteSpace(id))
                Problem($"{path}.id", "missing");
            uint address = Ip($"{path}.address", b.Address, required: true);
            int port = Int($"{path}.port", b.Port, 0, 65535) ?? (dsr ? 0 : -1);
            if (port < 0)
                Problem($"{path}.port", "missing: a NAT backend needs the port it listens on");
            var mac = Mac($"{path}.mac", b.Mac, required: false, unicast: true);
            int egress = Int($"{path}.egressPort", b.EgressPort, 0, 1) ?? 1;
            int? nh = Int($"{path}.nextHop", b.NextHop, 0, 127);
            if (address != 0)
                Neighbour(path, new NeighbourKey((byte)egress, address), b.Mac is null ? null : mac, nh, hops);
            int weight = Int($"{path}.weight", b.Weight, 0, 1_000_000) ?? 1;
            HealthCheckSpec? check = null;
            if (b.Check is { } c)
                check = Check($"{path}.check", c, address, port);
            AgentSpec? agent = null;
            if (b.Agent is { } a)
                agent = Agent($"{path}.agent", a, id);
            if (Problems.Count > before)
                return null;
            // Index and MAC are the node's to fill in (GatewayNode.Neighbours); the file's own, if any, are in NextHops.
            return new BackendSpec(new BackendConfig(id, address, (ushort)Math.Max(port, 0), (byte)(nh ?? 0), b.Mac is null ? default : mac, weight, true, (byte)egress), check, agent);
        }

        private readonly List<(NextHopSpec Spec, string Path)> _neighbours = [];
        private readonly Dictionary<int, string> _legacyHops = [];

        // One next hop per (port, address): every backend and route naming it must agree on what they fix of it.
        private void Neighbour(string path, NeighbourKey key, MacAddress? mac, int? index, Dictionary<int, (MacAddress Mac, int Port, string Path)> hops)
        {
            int at = _neighbours.FindIndex(n => n.Spec.Key == key);
            if (at < 0)
            {
                _neighbours.Add((new NextHopSpec(key, mac, index), path));
            }
            else
            {
                var (spec, first) = _neighbours[at];
                if (mac is { } m && spec.Mac is { } had && had != m)
                    Problem($"{path}.mac", $"{key} is {had} in {first}");
                if (index is { } i && spec.Index is { } was && was != i)
                    Problem($"{path}.nextHop", $"{key} is next hop {was} in {first}");
                _neighbours[at] = (new NextHopSpec(key, spec.Mac ?? mac, spec.Index ?? index), first);
            }
            if (index is { } nh)
            {
                // An index fixed in the file names one next hop: one neighbour, or one route's configured MAC.
                foreach (var (spec, first) in _neighbours)
                {
                    if (spec.Index == nh && spec.Key != key)
                        Problem($"{path}.nextHop", $"next hop {nh} is already {spec.Key} ({first})");
                }
                if (_legacyHops.TryGetValue(nh, out string? legacy))
                    Problem($"{path}.nextHop", $"next hop {nh} is already used by {legacy}");
                hops.TryAdd(nh, (mac ?? default, key.Port, path));
            }
        }

        // One next-hop index is one (port, MAC): two backends may share it only if they agree.
        private void NextHopShared(string path, int nh, MacAddress mac, int port, Dictionary<int, (MacAddress Mac, int Port, string Path)> hops)
        {
            if (hops.TryGetValue(nh, out var other))
            {
                if (other.Mac != mac || other.Port != port)
                    Problem(path, $"next hop {nh} is already {other.Mac} on port {other.Port} ({other.Path})");
            }
            else
            {
                hops[nh] = (mac, port, path);
            }
        }

        private HealthCheckSpec? Check(string path, CheckSection c, uint address, int port)
        {
            int before = Problems.Count;
            bool? http = (c.Type ?? "").ToLowerInvariant() switch
            {
                "tcp" => false,
                "http" => true,
                _ => null,
            };
            if (http is null)
                Problem($"{path}.type", c.Type is null ? "missing: tcp or http" : $"'{c.Type}' is not tcp or http");
            IPEndPoint? target = c.Target is { } t
                ? EndPoint($"{path}.target", t)
                : port > 0 ? new IPEndPoint(new IPAddress(BitConverter.GetBytes(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(address))), port) : null;
            if (target is null && c.Target is null)
                Problem($"{path}.target", "missing: the backend has no port to probe");
            int interval = Int($"{path}.intervalMs", c.IntervalMs, 100, 3_600_000) ?? 2000;
            int timeout = Int($"{path}.timeoutMs", c.TimeoutMs, 10, 3_600_000) ?? 1000;
            if (timeout > interval)
                Problem($"{path}.timeoutMs", $"{timeout} is longer than intervalMs ({interval})");
            int rise = Int($"{path}.rise", c.Rise, 1, 100) ?? 2;
            int fall = Int($"{path}.fall", c.Fall, 1, 100) ?? 3;
            string p = c.Path ?? "/";
            if (!p.StartsWith('/'))
                Problem($"{path}.path", $"'{p}' must start with /");
            if (Problems.Count > before)
                return null;
            return new HealthCheckSpec(http!.Value, target!, p, TimeSpan.FromMilliseconds(interval), TimeSpan.FromMilliseconds(timeout), rise, fall);
        }

        private AgentSpec? Agent(string path, AgentSection a, string backendId)
        {
            int before = Problems.Count;
            string id = a.Id ?? backendId;
            if (!Protocol.Agent.AgentProtocol.IsValidId(id))
                Problem($"{path}.id", $"'{id}' must be 1..{Protocol.Agent.AgentProtocol.MaxIdLength} printable ASCII characters without spaces");
            var address = a.Address is null ? null : EndPoint($"{path}.address", a.Address);
            if (a.Address is null)
                Problem($"{path}.address", "missing: host:port the agent answers on");
            if (string.IsNullOrEmpty(a.Key))
                Problem($"{path}.key", "missing: the agent's HMAC key");
            int interval = Int($"{path}.intervalMs", a.IntervalMs, 100, 3_600_000) ?? 1000;
            if (Problems.Count > before)
                return null;
            return new AgentSpec(id, address!, Encoding.UTF8.GetBytes(a.Key!), TimeSpan.FromMilliseconds(interval));
        }

        private Route? RouteOf(string path, RouteSection r, Dictionary<int, (MacAddress Mac, int Port, string Path)> hops)
        {
            int before = Problems.Count;
            uint prefix = 0;
            int length = 0;
            string text = r.Prefix ?? "";
            int slash = text.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0 || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > 32)
            {
                Problem($"{path}.prefix", r.Prefix is null ? "missing: a.b.c.d/len" : $"'{r.Prefix}' is not a.b.c.d/len with len 0..32");
            }
            else
            {
                prefix = Ip($"{path}.prefix", text[..slash], required: false);
                if ((prefix & ~RouteTable.MaskOf(length)) != 0)
                    Problem($"{path}.prefix", $"'{r.Prefix}' has host bits set");
            }
            int egress = Int($"{path}.egressPort", r.EgressPort, 0, 1) ?? 1;
            uint via = Ip($"{path}.via", r.Via, required: false);
            MacAddress mac;
            int nh;
            if (r.Via is not null)
            {
                mac = Mac($"{path}.mac", r.Mac, required: false, unicast: true);
                int? index = Int($"{path}.nextHop", r.NextHop, 0, 127);
                nh = index ?? 0;
                if (via != 0)
                    Neighbour(path, new NeighbourKey((byte)egress, via), r.Mac is null ? null : mac, index, hops);
            }
            else
            {
                // Without via, the next hop is configured whole, as before ARP resolution existed.
                mac = Mac($"{path}.mac", r.Mac, required: false, unicast: true);
                if (r.Mac is null)
                    Problem($"{path}.via", "missing: the next hop's address (or its mac and nextHop)");
                nh = Int($"{path}.nextHop", r.NextHop, 0, 127, required: r.Mac is not null) ?? 0;
                if (r.Mac is not null)
                {
                    NextHopShared($"{path}.nextHop", nh, mac, egress, hops);
                    _legacyHops.TryAdd(nh, path);
                }
            }
            if (Problems.Count > before)
                return null;
            return new Route(prefix, length, (byte)nh, r.Mac is null ? default : mac, (byte)egress, via);
        }

        private SyncOptions? Sync(string path, SyncSection s, uint localIp)
        {
            int before = Problems.Count;
            int port = Int($"{path}.port", s.Port, 1, 65535) ?? Protocol.Sync.SyncWire.DefaultPort;
            if (port == GlbpProtocol.Port)
                Problem($"{path}.port", $"{port} is GLBP's port");
            if (string.IsNullOrEmpty(s.Key))
                Problem($"{path}.key", "missing: the group key every gateway shares");
            var peers = new List<SyncPeer>();
            if (s.Peers is null || s.Peers.Count == 0)
                Problem($"{path}.peers", "missing: sync needs at least one peer (or leave the sync section out)");
            for (int i = 0; i < (s.Peers?.Count ?? 0); i++)
            {
                var p = s.Peers![i];
                if (!NotNull($"{path}.peers[{i}]", p))
                    continue;
                uint ip = Ip($"{path}.peers[{i}].ip", p.Ip, required: true);
                if (ip != 0 && ip == localIp)
                    Problem($"{path}.peers[{i}].ip", $"'{p.Ip}' is this gateway's own address");
                var mac = Mac($"{path}.peers[{i}].mac", p.Mac, required: true, unicast: true);
                peers.Add(new SyncPeer(ip, mac));
            }
            if (Problems.Count > before)
                return null;
            return new SyncOptions { LocalIp = localIp, Key = Encoding.UTF8.GetBytes(s.Key!), Peers = peers, Port = (ushort)port };
        }

        private uint Ip(string path, string? text, bool required)
        {
            if (text is null)
            {
                if (required)
                    Problem(path, "missing: an IPv4 address");
                return 0;
            }
            try
            {
                uint v = Ipv4Address.Parse(text);
                if (required && v == 0)
                    Problem(path, "0.0.0.0 is not a usable address");
                return v;
            }
            catch (FormatException)
            {
                Problem(path, $"'{text}' is not an IPv4 address");
                return 0;
            }
        }

        private MacAddress Mac(string path, string? text, bool required, bool unicast)
        {
            if (text is null)
            {
                if (required)
                    Problem(path, "missing: a MAC address");
                return default;
            }
            try
            {
                var mac = MacAddress.Parse(text);
                if (unicast && (mac.IsMulticast || mac.Value == 0))
                    Problem(path, $"'{text}' must be a unicast MAC address");
                return mac;
            }
            catch (FormatException)
            {
                Problem(path, $"'{text}' is not a MAC address");
                return default;
            }
        }

        // IPv4 only: the data plane and its peers speak IPv4. The local API's endpoint (loopback, either family, or a
        // Unix socket) is ApiEndPoint's.
        private IPEndPoint? EndPoint(string path, string text)
        {
            if (!IPEndPoint.TryParse(text, out var ep) || !text.Contains(':', StringComparison.Ordinal)
                || ep.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                Problem(path, $"'{text}' is not an IPv4 host:port");
                return null;
            }
            return ep;
        }
    }
}
