using System.Text.Json;

namespace Offload.Router;

/// <summary>What <c>GET /api/routes</c> on the admin listener answers and <c>offload show routes</c> prints.</summary>
public sealed record RoutesView(string Router, string Config, long Reloads, IReadOnlyList<RouteView> Routes, IReadOnlyList<PoolView> Pools)
{
    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}

public sealed record RouteView(string Id, string Pool, IReadOnlyList<string> Hosts, string? Path, IReadOnlyList<string> Methods, IReadOnlyList<string> Headers,
    double? TimeoutMs, int Retries, int Order);

public sealed record PoolView(string Id, string LoadBalancing, bool Checked, string? AffinityCookie, IReadOnlyList<PoolBackendView> Backends);

/// <param name="Active">What the active checks say: Unknown (no result yet or no checks), Healthy, Unhealthy.</param>
/// <param name="Available">Whether the pool gives it new requests now.</param>
public sealed record PoolBackendView(string Id, string Address, int Weight, string Active, bool Available, int InFlight);
