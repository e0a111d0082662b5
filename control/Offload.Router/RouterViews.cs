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
/// <param name="Agent">none, waiting (not heard yet), fresh, drain or silent.</param>
/// <param name="Load">The agent's last load figure (0..1), null before its first report.</param>
/// <param name="Weight">The weight requests are shared by now: the agent's when it sets one, 0 while it drains.</param>
public sealed record PoolBackendView(string Id, string Address, int Weight, string Active, bool Available, int InFlight, string Agent = "none", double? Load = null);
