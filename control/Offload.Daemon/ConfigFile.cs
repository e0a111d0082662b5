namespace Offload.Daemon;

// The JSON shape of a gateway's config file, as written by people: every member optional and every address a
// string, so that validation, not the deserializer, says what is wrong and where (GatewayConfig.Validate).
#pragma warning disable CA1002, CA2227 // plain data bound by System.Text.Json

public sealed class ConfigFile
{
    public GatewaySection? Gateway { get; set; }
    public List<GroupSection>? Groups { get; set; }
    public List<ServiceSection>? Services { get; set; }
    public List<RouteSection>? Routes { get; set; }
    public SyncSection? Sync { get; set; }
    public HealthSection? Health { get; set; }
    public ApiSection? Api { get; set; }
    public DataplaneSection? Dataplane { get; set; }
}

public sealed class GatewaySection
{
    public string? Name { get; set; }

    /// <summary>This gateway's address on the segment (GLBP and sync source).</summary>
    public string? Ip { get; set; }

    public string? Port0Mac { get; set; }
    public string? Port1Mac { get; set; }

    /// <summary>This gateway's address toward port 1 (backends, route gateways): the sender of its ARP requests there.</summary>
    public string? Port1Ip { get; set; }

    /// <summary>Serilog minimum level: verbose, debug, information, warning, error, fatal.</summary>
    public string? LogLevel { get; set; }

    /// <summary>WDOG_TIMEOUT in data-plane cycles; 0 or absent leaves the watchdog off.</summary>
    public long? WatchdogCycles { get; set; }
}

public sealed class GroupSection
{
    public int? Number { get; set; }
    public string? Vip { get; set; }
    public int? Priority { get; set; }
    public bool? Preempt { get; set; }
    public int? PreemptDelayMs { get; set; }

    /// <summary>How long a forwarder's owner that came back waits before it takes its vMAC back (default 30,000).</summary>
    public int? ForwarderPreemptDelayMs { get; set; }
    public int? HelloMs { get; set; }
    public int? HoldMs { get; set; }
    public int? RedirectSeconds { get; set; }
    public int? TimeoutSeconds { get; set; }

    /// <summary>round-robin, weighted, host-dependent, load-based.</summary>
    public string? LoadBalancing { get; set; }

    public int? Weighting { get; set; }
    public int? LowerThreshold { get; set; }
    public int? UpperThreshold { get; set; }
    public int? MaxForwarders { get; set; }
    public AuthSection? Auth { get; set; }

    /// <summary>Objects whose failure takes weighting off this gateway in the group.</summary>
    public List<TrackSection>? Track { get; set; }
}

public sealed class TrackSection
{
    /// <summary>A service of this gateway, "VIP:PORT/tcp|udp": up while enough of its backends are healthy.</summary>
    public string? Service { get; set; }

    /// <summary>Healthy backends the service needs to count as up (default 1).</summary>
    public int? MinHealthy { get; set; }

    /// <summary>Weighting taken off while the object is down (1..254).</summary>
    public int? Decrement { get; set; }
}

public sealed class AuthSection
{
    /// <summary>none, text, md5, hmac-sha256.</summary>
    public string? Type { get; set; }

    public string? Key { get; set; }
    public uint? KeyId { get; set; }
}

public sealed class ServiceSection
{
    public string? Vip { get; set; }

    /// <summary>tcp or udp.</summary>
    public string? Protocol { get; set; }

    public int? Port { get; set; }

    /// <summary>nat or dsr.</summary>
    public string? Mode { get; set; }

    /// <summary>maglev, round-robin, least-connections, source-hash.</summary>
    public string? Scheduler { get; set; }

    public double? InstallsPerSecond { get; set; }
    public int? InstallBurst { get; set; }
    public List<BackendSection>? Backends { get; set; }
}

public sealed class BackendSection
{
    public string? Id { get; set; }
    public string? Address { get; set; }
    public int? Port { get; set; }
    public string? Mac { get; set; }
    public int? NextHop { get; set; }
    public int? Weight { get; set; }
    public int? EgressPort { get; set; }
    public CheckSection? Check { get; set; }
    public AgentSection? Agent { get; set; }
}

public sealed class CheckSection
{
    /// <summary>tcp or http.</summary>
    public string? Type { get; set; }

    /// <summary>host:port to probe; default the backend's address and port.</summary>
    public string? Target { get; set; }

    public string? Path { get; set; }
    public int? IntervalMs { get; set; }
    public int? TimeoutMs { get; set; }
    public int? Rise { get; set; }
    public int? Fall { get; set; }
}

public sealed class AgentSection
{
    public string? Id { get; set; }

    /// <summary>host:port the agent answers queries on.</summary>
    public string? Address { get; set; }

    public string? Key { get; set; }
    public int? IntervalMs { get; set; }
}

public sealed class RouteSection
{
    /// <summary>a.b.c.d/len.</summary>
    public string? Prefix { get; set; }

    /// <summary>The next hop's address, resolved by ARP; <c>mac</c> and <c>nextHop</c> then only override.</summary>
    public string? Via { get; set; }

    public int? NextHop { get; set; }
    public string? Mac { get; set; }
    public int? EgressPort { get; set; }
}

public sealed class SyncSection
{
    public int? Port { get; set; }
    public string? Key { get; set; }
    public List<PeerSection>? Peers { get; set; }
}

public sealed class PeerSection
{
    public string? Ip { get; set; }
    public string? Mac { get; set; }
}

public sealed class HealthSection
{
    /// <summary>host:port the agent listener binds (load reports from `offload agent`).</summary>
    public string? AgentListen { get; set; }

    /// <summary>drain (default), keep-flows or remove-flows: what a backend that goes down does to its established flows.</summary>
    public string? OnBackendDown { get; set; }
}

public sealed class DataplaneSection
{
    /// <summary>The Linux interface each network port of the model is bound to (AF_PACKET); absent: ports lead nowhere.</summary>
    public List<PortSection>? Ports { get; set; }
}

public sealed class PortSection
{
    /// <summary>0 (the segment) or 1 (toward the backends).</summary>
    public int? Port { get; set; }

    public string? Interface { get; set; }

    /// <summary>The largest IP packet the port takes (default 1500); longer frames are dropped and counted.</summary>
    public int? Mtu { get; set; }
}

public sealed class ApiSection
{
    /// <summary>host:port; must be a loopback address. Default 127.0.0.1:9480.</summary>
    public string? Listen { get; set; }
}
#pragma warning restore CA1002, CA2227
