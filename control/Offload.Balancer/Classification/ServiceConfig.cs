using Offload.Device;

namespace Offload.Balancer.Classification;

/// <summary>How a service's packets reach the chosen backend.</summary>
public enum ForwardingMode
{
    /// <summary>
    /// L2 direct server return: only the destination MAC changes (next hop to the backend); the backend
    /// holds the virtual IP itself and answers the client directly, so only the forward flow is installed.
    /// </summary>
    DirectServerReturn,

    /// <summary>
    /// Destination NAT on the way in, source NAT on the way back; the reverse flow is installed together with
    /// the forward one, so the backend's replies must route through this gateway.
    /// </summary>
    Nat,
}

/// <summary>Which <see cref="Scheduling.IBackendScheduler"/> a service uses for new flows.</summary>
public enum SchedulerKind
{
    Maglev,
    RoundRobin,
    LeastConnections,
    SourceHash,
}

/// <summary>What identifies a service: the destination a client addresses (ports are 0 for protocols other than TCP and UDP).</summary>
public readonly record struct ServiceKey(uint VirtualIp, byte Protocol, ushort Port);

/// <summary>
/// One backend of a service. <paramref name="NextHopIndex"/> is the hardware next-hop entry the service table
/// writes with (<paramref name="EgressPort"/>, <paramref name="Mac"/>, the port's own MAC); fixing the index in
/// configuration is what lets a restarted control plane map DSR entries back to their backend.
/// </summary>
/// <param name="Id">Stable name; Maglev derives the backend's slots from it.</param>
/// <param name="Address">Backend IPv4 address (NAT target; informational for DSR).</param>
/// <param name="Port">NAT target port; 0 keeps the client's destination port.</param>
public sealed record BackendConfig(
    string Id, uint Address, ushort Port, byte NextHopIndex, MacAddress Mac, int Weight = 1, bool Healthy = true, byte EgressPort = 1);

/// <summary>A virtual service and how its new flows are placed.</summary>
/// <param name="InstallsPerSecond">Token-bucket rate of new-flow installs (the SYN-flood guard); 0 or less turns the guard off.</param>
/// <param name="InstallBurst">Token-bucket depth.</param>
/// <param name="DrainTimeout">How long flows of a removed backend keep running before their entries are removed (null: the table default).</param>
public sealed record ServiceConfig(
    ServiceKey Key,
    ForwardingMode Mode,
    SchedulerKind Scheduler = SchedulerKind.Maglev,
    bool DecrementTtl = true,
    double InstallsPerSecond = 0,
    int InstallBurst = 64,
    TimeSpan? DrainTimeout = null);
