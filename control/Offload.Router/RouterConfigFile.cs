namespace Offload.Router;

// The JSON shape of a router's config file, as written by people: every member optional and every address a string,
// so that validation, not the deserializer, says what is wrong and where (RouterConfig.Parse).
#pragma warning disable CA1002, CA2227 // plain data bound by System.Text.Json

public sealed class RouterConfigFile
{
    public RouterSection? Router { get; set; }
    public List<PoolSection>? Pools { get; set; }
    public List<RouteSection>? Routes { get; set; }
}

public sealed class RouterSection
{
    public string? Name { get; set; }

    /// <summary>host:port the proxy serves clients on; default 127.0.0.1:8080.</summary>
    public string? Listen { get; set; }

    /// <summary>Loopback host:port of /metrics, /health and /api/routes; default 127.0.0.1:9490.</summary>
    public string? AdminListen { get; set; }

    /// <summary>Path on the proxy listener that answers the gateways' health checks; default /.offload/health.</summary>
    public string? HealthPath { get; set; }

    /// <summary>Serilog minimum level: verbose, debug, information, warning, error, fatal.</summary>
    public string? LogLevel { get; set; }

    /// <summary>Secret every router of the pool shares; signs the affinity cookies (at least 16 characters).</summary>
    public string? AffinityKey { get; set; }

    /// <summary>host:port the router hears `offload agent` load reports on (agents list it as one more gateway).</summary>
    public string? AgentListen { get; set; }
}

public sealed class PoolSection
{
    /// <summary>The pool's id: the same backends the L4 services use, under the same ids.</summary>
    public string? Id { get; set; }

    /// <summary>weighted (default), least-loaded, power-of-two-load (by the agents' figures), round-robin, random, least-requests, power-of-two.</summary>
    public string? LoadBalancing { get; set; }

    public List<PoolBackendSection>? Backends { get; set; }
    public PoolCheckSection? Check { get; set; }

    /// <summary>Name of the affinity cookie; absent turns affinity off for this pool.</summary>
    public string? AffinityCookie { get; set; }
}

public sealed class PoolBackendSection
{
    public string? Id { get; set; }
    public string? Address { get; set; }
    public int? Port { get; set; }
    public int? Weight { get; set; }
    public PoolAgentSection? Agent { get; set; }
}

public sealed class PoolAgentSection
{
    /// <summary>The agent's id; default the backend's.</summary>
    public string? Id { get; set; }

    public string? Key { get; set; }
    public int? IntervalMs { get; set; }
}

public sealed class PoolCheckSection
{
    public string? Path { get; set; }

    /// <summary>Status codes that pass, as the gateway's HTTP checks take them ("200,300-399").</summary>
    public string? Expect { get; set; }

    public int? IntervalMs { get; set; }
    public int? TimeoutMs { get; set; }
    public int? Rise { get; set; }
    public int? Fall { get; set; }
}

public sealed class RouteSection
{
    public string? Id { get; set; }
    public string? Pool { get; set; }
    public List<string>? Hosts { get; set; }

    /// <summary>A path prefix ("/api/") or an ASP.NET route template ("/api/{**rest}").</summary>
    public string? Path { get; set; }

    public List<string>? Methods { get; set; }
    public List<HeaderMatchSection>? Headers { get; set; }
    public int? TimeoutMs { get; set; }

    /// <summary>Retries of an idempotent request without a body whose upstream failed before answering; default 1.</summary>
    public int? Retries { get; set; }

    /// <summary>Lower goes first when two routes match (default 0).</summary>
    public int? Order { get; set; }
}

public sealed class HeaderMatchSection
{
    public string? Name { get; set; }

    /// <summary>Any of these values matches; absent: the header only has to be present.</summary>
    public List<string>? Values { get; set; }

    /// <summary>exact (default), prefix, contains.</summary>
    public string? Mode { get; set; }
}
#pragma warning restore CA1002, CA2227
