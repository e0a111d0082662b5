using System.Globalization;
using System.Net;
using System.Text;
using Offload.Balancer.Health;
using Offload.Daemon;

namespace Offload.Router;

/// <summary>A router config that cannot run: every problem found, each with its JSON path.</summary>
public sealed class RouterConfigException : ConfigFileException
{
    public RouterConfigException(string source, IReadOnlyList<string> problems)
        : base(source, problems)
    {
    }

    public RouterConfigException()
    {
    }

    public RouterConfigException(string message)
        : base(message)
    {
    }

    public RouterConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

public enum PoolBalancing
{
    /// <summary>Ours: a random choice in proportion to each backend's weight (YARP has no weights).</summary>
    Weighted,

    /// <summary>Ours: the backend whose agent reports the least load.</summary>
    LeastLoaded,

    /// <summary>Ours: two backends drawn by weight, the one whose agent reports less load.</summary>
    PowerOfTwoLoad,
    RoundRobin,
    Random,
    LeastRequests,
    PowerOfTwo,
}

/// <param name="Agent">The backend's <c>offload agent</c>, whose reports the router hears on <c>router.agentListen</c>.</param>
public sealed record BackendTarget(string Id, IPEndPoint Address, int Weight, Offload.Balancer.Health.AgentEndpoint? Agent = null);

/// <summary>The active HTTP check of a pool's backends, with the gateway's rise/fall meaning.</summary>
public sealed record PoolCheck(string Path, StatusCodeSet Expect, TimeSpan Interval, TimeSpan Timeout, int Rise, int Fall);

public sealed record PoolSpec(string Id, PoolBalancing Balancing, IReadOnlyList<BackendTarget> Backends, PoolCheck? Check, string? AffinityCookie);

public enum HeaderMode
{
    Exact,
    Prefix,
    Contains,
}

public sealed record HeaderRule(string Name, IReadOnlyList<string> Values, HeaderMode Mode);

/// <param name="Path">The route template YARP matches (a prefix in the file becomes "prefix/{**rest}").</param>
public sealed record RouteSpec(string Id, string Pool, IReadOnlyList<string> Hosts, string? Path, IReadOnlyList<string> Methods, IReadOnlyList<HeaderRule> Headers,
    TimeSpan? Timeout, int Retries, int Order);

/// <summary>
/// A validated router configuration. Built only by <see cref="Parse"/> and <see cref="Load"/>, which refuse the whole
/// file on any problem, so a router never starts (or reloads into) half a configuration.
/// </summary>
public sealed record RouterConfig
{
    public const int DefaultAdminPort = 9490;
    public const int MaxRetries = 3;

    public required string Name { get; init; }
    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, 8080);
    public IPEndPoint AdminListen { get; init; } = new(IPAddress.Loopback, DefaultAdminPort);
    public string HealthPath { get; init; } = "/.offload/health";
    public string LogLevel { get; init; } = "information";

    /// <summary>Signs affinity cookies; null when no pool uses affinity.</summary>
    public byte[]? AffinityKey { get; init; }

    public IPEndPoint? AgentListen { get; init; }

    public IReadOnlyList<PoolSpec> Pools { get; init; } = [];
    public IReadOnlyList<RouteSpec> Routes { get; init; } = [];

    /// <summary>Every agent the pools name, once each.</summary>
    public IEnumerable<AgentEndpoint> Agents => Pools.SelectMany(p => p.Backends).Select(b => b.Agent).OfType<AgentEndpoint>().DistinctBy(a => a.Id);

    /// <exception cref="RouterConfigException">The file is missing, not JSON, or invalid (all problems listed).</exception>
    public static RouterConfig Load(string path) => Parse(ConfigJson.ReadText(path, (m, e) => new RouterConfigException(m, e)), path);

    /// <exception cref="RouterConfigException">Not JSON, or invalid (all problems listed).</exception>
    public static RouterConfig Parse(string json, string source = "config")
    {
        var file = ConfigJson.Deserialize<RouterConfigFile>(json, source, (s, p) => new RouterConfigException(s, p));
        var v = new Validator();
        var config = v.Build(file);
        if (v.Problems.Count > 0 || config is null)
            throw new RouterConfigException(source, v.Problems);
        return config;
    }

    private sealed class Validator : ConfigValidator
    {
        public RouterConfig? Build(RouterConfigFile f)
        {
            var r = f.Router;
            if (r is null)
            {
                Problem("router", "missing: the router's name is required");
                r = new RouterSection();
            }
            string name = r.Name ?? "";
            if (string.IsNullOrWhiteSpace(name))
                Problem("router.name", "missing");
            var listen = r.Listen is null ? new IPEndPoint(IPAddress.Loopback, 8080) : EndPoint("router.listen", r.Listen, loopbackOnly: false);
            var admin = r.AdminListen is null ? new IPEndPoint(IPAddress.Loopback, DefaultAdminPort) : EndPoint("router.adminListen", r.AdminListen, loopbackOnly: true);
            string healthPath = r.HealthPath ?? "/.offload/health";
            if (!healthPath.StartsWith('/') || healthPath.AsSpan().IndexOfAny("{}?# ") >= 0)
                Problem("router.healthPath", $"'{healthPath}' must start with / and hold no braces, '?', '#' or spaces");
            string level = (r.LogLevel ?? "information").ToLowerInvariant();
            if (DaemonLogging.ParseLevel(level) is null)
                Problem("router.logLevel", $"'{r.LogLevel}' is not one of verbose, debug, information, warning, error, fatal");

            var pools = new List<PoolSpec>();
            var poolIds = new HashSet<string>(StringComparer.Ordinal);
            if (f.Pools is null || f.Pools.Count == 0)
                Problem("pools", "missing: a router needs at least one pool");
            for (int i = 0; i < (f.Pools?.Count ?? 0); i++)
            {
                if (!NotNull($"pools[{i}]", f.Pools![i]))
                    continue;
                string id = f.Pools[i].Id ?? "";
                if (id.Length > 0 && !poolIds.Add(id))
                    Problem($"pools[{i}].id", $"'{id}' is used by another pool");
                if (Pool($"pools[{i}]", f.Pools[i]) is { } p)
                    pools.Add(p);
            }

            byte[]? key = null;
            if (r.AffinityKey is { } k)
            {
                if (k.Length < 16)
                    Problem("router.affinityKey", "shorter than 16 characters: a guessable key lets clients pick their backend");
                key = Encoding.UTF8.GetBytes(k);
            }
            else if (f.Pools?.Any(p => p?.AffinityCookie is not null) == true)
            {
                Problem("router.affinityKey", "missing: a pool sets affinityCookie, and the cookies are signed with this key (the same on every router)");
            }

            IPEndPoint? agentListen = r.AgentListen is null ? null : EndPoint("router.agentListen", r.AgentListen, loopbackOnly: false);
            var agents = new Dictionary<string, AgentEndpoint>(StringComparer.Ordinal);
            foreach (var (b, at) in pools.SelectMany((p, i) => p.Backends.Select((b, j) => (b, $"pools[{i}].backends[{j}].agent"))))
            {
                if (b.Agent is not { } a)
                    continue;
                if (agents.TryGetValue(a.Id, out var seen) && (!seen.Key.Span.SequenceEqual(a.Key.Span) || seen.ExpectedInterval != a.ExpectedInterval))
                    Problem(at, $"agent '{a.Id}' is configured elsewhere with another key or interval");
                agents.TryAdd(a.Id, a);
            }
            if (agents.Count > 0 && agentListen is null && r.AgentListen is null)
                Problem("router.agentListen", "missing: backends name agents, so the router needs an address to hear their reports on");
            if (agents.Count == 0 && pools.Any(p => p.Balancing is PoolBalancing.LeastLoaded or PoolBalancing.PowerOfTwoLoad))
                Problem("pools", "a pool balances by load, but no backend names an agent to report it");

            var routes = new List<RouteSpec>();
            var routeIds = new HashSet<string>(StringComparer.Ordinal);
            if (f.Routes is null || f.Routes.Count == 0)
                Problem("routes", "missing: a router needs at least one route");
            for (int i = 0; i < (f.Routes?.Count ?? 0); i++)
            {
                if (!NotNull($"routes[{i}]", f.Routes![i]))
                    continue;
                string id = f.Routes[i].Id ?? "";
                if (id.Length > 0 && !routeIds.Add(id))
                    Problem($"routes[{i}].id", $"'{id}' is used by another route");
                if (Route($"routes[{i}]", f.Routes[i], poolIds) is { } route)
                    routes.Add(route);
            }

            if (Problems.Count > 0)
                return null;
            return new RouterConfig
            {
                Name = name,
                Listen = listen!,
                AdminListen = admin!,
                HealthPath = healthPath,
                LogLevel = level,
                AffinityKey = key,
                AgentListen = agentListen,
                Pools = pools,
                Routes = routes,
            };
        }

        private PoolSpec? Pool(string path, PoolSection p)
        {
            int before = Problems.Count;
            string id = p.Id ?? "";
            if (!IsId(id))
                Problem($"{path}.id", p.Id is null ? "missing" : $"'{id}' must be 1..64 letters, digits, '-', '_' or '.'");
            PoolBalancing? balancing = (p.LoadBalancing ?? "weighted").ToLowerInvariant() switch
            {
                "weighted" => PoolBalancing.Weighted,
                "least-loaded" => PoolBalancing.LeastLoaded,
                "power-of-two-load" => PoolBalancing.PowerOfTwoLoad,
                "round-robin" => PoolBalancing.RoundRobin,
                "random" => PoolBalancing.Random,
                "least-requests" => PoolBalancing.LeastRequests,
                "power-of-two" => PoolBalancing.PowerOfTwo,
                _ => null,
            };
            if (balancing is null)
                Problem($"{path}.loadBalancing", $"'{p.LoadBalancing}' is not one of weighted, least-loaded, power-of-two-load, round-robin, random, least-requests, power-of-two");
            var backends = new List<BackendTarget>();
            var ids = new HashSet<string>(StringComparer.Ordinal);
            if (p.Backends is null || p.Backends.Count == 0)
                Problem($"{path}.backends", "missing: a pool needs at least one backend");
            for (int i = 0; i < (p.Backends?.Count ?? 0); i++)
            {
                string at = $"{path}.backends[{i}]";
                var b = p.Backends![i];
                if (!NotNull(at, b))
                    continue;
                string bid = b.Id ?? "";
                if (!IsId(bid))
                    Problem($"{at}.id", b.Id is null ? "missing" : $"'{bid}' must be 1..64 letters, digits, '-', '_' or '.'");
                else if (!ids.Add(bid))
                    Problem($"{at}.id", $"'{bid}' is used twice in this pool");
                IPAddress? address = null;
                if (b.Address is null)
                    Problem($"{at}.address", "missing: an IPv4 address");
                else if (!IPAddress.TryParse(b.Address, out address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                    Problem($"{at}.address", $"'{b.Address}' is not an IPv4 address");
                int port = Int($"{at}.port", b.Port, 1, 65535, required: true) ?? 0;
                int weight = Int($"{at}.weight", b.Weight, 0, 1_000_000) ?? 1;
                AgentEndpoint? agent = null;
                if (b.Agent is { } a)
                {
                    string aid = a.Id ?? bid;
                    if (!Offload.Protocol.Agent.AgentProtocol.IsValidId(aid))
                        Problem($"{at}.agent.id", $"'{aid}' must be 1..{Offload.Protocol.Agent.AgentProtocol.MaxIdLength} printable ASCII characters without spaces");
                    if (string.IsNullOrEmpty(a.Key))
                        Problem($"{at}.agent.key", "missing: the agent's HMAC key");
                    int interval = Int($"{at}.agent.intervalMs", a.IntervalMs, 100, 3_600_000) ?? 1000;
                    agent = new AgentEndpoint(aid, null, Encoding.UTF8.GetBytes(a.Key ?? ""), TimeSpan.FromMilliseconds(interval));
                }
                if (address is not null && port > 0)
                    backends.Add(new BackendTarget(bid, new IPEndPoint(address, port), weight, agent));
            }
            PoolCheck? check = null;
            if (p.Check is { } c)
            {
                string cp = c.Path ?? "/";
                if (!cp.StartsWith('/') || cp.AsSpan().IndexOfAny("\r\n #") >= 0)
                    Problem($"{path}.check.path", $"'{cp}' must start with / and hold no spaces, '#' or line breaks");
                StatusCodeSet expect = StatusCodeSet.Ok;
                try
                {
                    expect = StatusCodeSet.Parse(c.Expect ?? "200-399");
                }
                catch (FormatException e)
                {
                    Problem($"{path}.check.expect", e.Message);
                }
                int interval = Int($"{path}.check.intervalMs", c.IntervalMs, 50, 3_600_000) ?? 2000;
                int timeout = Int($"{path}.check.timeoutMs", c.TimeoutMs, 10, 3_600_000) ?? 1000;
                if (timeout > interval)
                    Problem($"{path}.check.timeoutMs", $"{timeout} is longer than intervalMs ({interval})");
                int rise = Int($"{path}.check.rise", c.Rise, 1, 100) ?? 2;
                int fall = Int($"{path}.check.fall", c.Fall, 1, 100) ?? 3;
                check = new PoolCheck(cp, expect, TimeSpan.FromMilliseconds(interval), TimeSpan.FromMilliseconds(timeout), rise, fall);
            }
            string? cookie = p.AffinityCookie;
            if (cookie is not null && (cookie.Length is 0 or > 64 || !cookie.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.')))
                Problem($"{path}.affinityCookie", $"'{cookie}' must be 1..64 letters, digits, '-', '_' or '.' (a cookie name)");
            if (Problems.Count > before)
                return null;
            // Unsaid, a pool whose every backend has an agent balances on the agents' figures by power of two choices:
            // `offload bench policies` measured it ahead of least-loaded (more requests/s, lower p50, a smaller spread over
            // capacity, the same p99) and of load-blind weights (docs/control-plane.md). Weights still set the draws.
            if (p.LoadBalancing is null && backends.Count > 0 && backends.All(b => b.Agent is not null))
                balancing = PoolBalancing.PowerOfTwoLoad;
            return new PoolSpec(id, balancing!.Value, backends, check, cookie);
        }

        private RouteSpec? Route(string path, RouteSection r, HashSet<string> pools)
        {
            int before = Problems.Count;
            string id = r.Id ?? "";
            if (!IsId(id))
                Problem($"{path}.id", r.Id is null ? "missing" : $"'{id}' must be 1..64 letters, digits, '-', '_' or '.'");
            string pool = r.Pool ?? "";
            if (r.Pool is null)
                Problem($"{path}.pool", "missing: the pool this route sends its requests to");
            else if (!pools.Contains(pool))
                Problem($"{path}.pool", $"'{pool}' is not one of the pools configured here");
            var hosts = new List<string>();
            for (int i = 0; i < (r.Hosts?.Count ?? 0); i++)
            {
                string? h = r.Hosts![i];
                // "*.example.org" and "example.org:8080" are what YARP's host matching takes.
                if (string.IsNullOrEmpty(h) || h.AsSpan().IndexOfAny(" /\r\n") >= 0)
                    Problem($"{path}.hosts[{i}]", $"'{h}' is not a host name (such as example.org, *.example.org or example.org:8080)");
                else
                    hosts.Add(h);
            }
            string? template = null;
            if (r.Path is { } p)
            {
                if (!p.StartsWith('/') || p.AsSpan().IndexOfAny("?# \r\n") >= 0)
                {
                    Problem($"{path}.path", $"'{p}' must start with / and hold no '?', '#' or spaces");
                }
                else if (p.Contains('{', StringComparison.Ordinal))
                {
                    try
                    {
                        Microsoft.AspNetCore.Routing.Patterns.RoutePatternFactory.Parse(p);
                        template = p;
                    }
                    catch (Microsoft.AspNetCore.Routing.Patterns.RoutePatternException e)
                    {
                        Problem($"{path}.path", $"'{p}' is not a route template: {e.Message}");
                    }
                }
                else
                {
                    // A prefix matches whole segments: "/api" takes /api and /api/x, not /apix.
                    template = p.TrimEnd('/') + "/{**offload-rest}";
                }
            }
            var methods = new List<string>();
            for (int i = 0; i < (r.Methods?.Count ?? 0); i++)
            {
                string? m = r.Methods![i];
                if (string.IsNullOrEmpty(m) || !m.All(char.IsAsciiLetterUpper))
                    Problem($"{path}.methods[{i}]", $"'{m}' is not an HTTP method in capitals (GET, POST, ...)");
                else
                    methods.Add(m);
            }
            var headers = new List<HeaderRule>();
            for (int i = 0; i < (r.Headers?.Count ?? 0); i++)
            {
                string at = $"{path}.headers[{i}]";
                var h = r.Headers![i];
                if (!NotNull(at, h))
                    continue;
                if (string.IsNullOrEmpty(h.Name) || !h.Name.All(ch => char.IsAsciiLetterOrDigit(ch) || "!#$%&'*+-.^_`|~".Contains(ch, StringComparison.Ordinal)))
                    Problem($"{at}.name", $"'{h.Name}' is not an HTTP header name");
                HeaderMode? mode = (h.Mode ?? "exact").ToLowerInvariant() switch
                {
                    "exact" => HeaderMode.Exact,
                    "prefix" => HeaderMode.Prefix,
                    "contains" => HeaderMode.Contains,
                    _ => null,
                };
                if (mode is null)
                    Problem($"{at}.mode", $"'{h.Mode}' is not one of exact, prefix, contains");
                if (h.Values is { Count: 0 })
                    Problem($"{at}.values", "empty: give values, or leave values out to match any request that has the header");
                if (mode is not null && !string.IsNullOrEmpty(h.Name))
                    headers.Add(new HeaderRule(h.Name, h.Values?.Where(v => v is not null).ToList() ?? [], mode.Value));
            }
            int? timeoutMs = Int($"{path}.timeoutMs", r.TimeoutMs, 1, 3_600_000);
            int retries = Int($"{path}.retries", r.Retries, 0, MaxRetries) ?? 1;
            int order = Int($"{path}.order", r.Order, -1_000_000, 1_000_000) ?? 0;
            if (hosts.Count == 0 && template is null && methods.Count == 0 && headers.Count == 0 && Problems.Count == before)
                template = "/{**offload-rest}";
            if (Problems.Count > before)
                return null;
            return new RouteSpec(id, pool, hosts, template, methods, headers, timeoutMs is { } t ? TimeSpan.FromMilliseconds(t) : null, retries, order);
        }

        private static bool IsId(string id) => id.Length is > 0 and <= 64 && id.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.');

        private IPEndPoint? EndPoint(string path, string text, bool loopbackOnly)
        {
            if (!IPEndPoint.TryParse(text, out var ep) || !text.Contains(':', StringComparison.Ordinal))
            {
                Problem(path, $"'{text}' is not a host:port such as 127.0.0.1:8080");
                return null;
            }
            if (loopbackOnly && !IPAddress.IsLoopback(ep.Address))
            {
                Problem(path, $"'{text}' is not a loopback address: the admin API has no authentication and serves 127.0.0.1 or [::1] only");
                return null;
            }
            return ep;
        }
    }
}
