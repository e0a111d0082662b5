using System.Globalization;
using Offload.Router.Agents;
using Offload.Router.Health;
using Offload.Router.LoadBalancing;
using Offload.Router.Retries;
using Offload.Router.SessionAffinity;
using Yarp.ReverseProxy.Configuration;

namespace Offload.Router;

/// <summary>
/// Turns a validated <see cref="RouterConfig"/> into YARP's routes and clusters: one cluster per pool (its id), one
/// destination per backend (its id), so health, affinity and metrics speak the gateway's names. What YARP has no
/// field for (weights, rise/fall, retries) travels as metadata that Offload's policies read.
/// </summary>
internal static class YarpConfig
{
    public const string WeightKey = "offload.weight";
    public const string RiseKey = "offload.rise";
    public const string FallKey = "offload.fall";
    public const string ExpectKey = "offload.expect";
    public const string RetriesKey = "offload.retries";

    public static (IReadOnlyList<RouteConfig> Routes, IReadOnlyList<ClusterConfig> Clusters) Build(RouterConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var clusters = config.Pools.Select(Cluster).ToList();
        var routes = config.Routes.Select(Route).ToList();
        return (routes, clusters);
    }

    private static ClusterConfig Cluster(PoolSpec pool)
    {
        var destinations = pool.Backends.ToDictionary(
            b => b.Id,
            b => new DestinationConfig
            {
                Address = string.Create(CultureInfo.InvariantCulture, $"http://{b.Address}/"),
                Metadata = b.Agent is { } agent
                    ? new Dictionary<string, string> { [WeightKey] = b.Weight.ToString(CultureInfo.InvariantCulture), [AgentLoadFeed.AgentKey] = agent.Id }
                    : new Dictionary<string, string> { [WeightKey] = b.Weight.ToString(CultureInfo.InvariantCulture) },
            },
            StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>();
        ActiveHealthCheckConfig? active = null;
        if (pool.Check is { } c)
        {
            metadata[RiseKey] = c.Rise.ToString(CultureInfo.InvariantCulture);
            metadata[FallKey] = c.Fall.ToString(CultureInfo.InvariantCulture);
            metadata[ExpectKey] = c.Expect.ToString();
            int q = c.Path.IndexOf('?', StringComparison.Ordinal);
            active = new ActiveHealthCheckConfig
            {
                Enabled = true,
                Interval = c.Interval,
                Timeout = c.Timeout,
                Policy = RiseFallHealthPolicy.PolicyName,
                Path = q < 0 ? c.Path : c.Path[..q],
                Query = q < 0 ? null : c.Path[q..],
            };
        }
        // Agents speak through YARP's passive state (AgentLoadFeed): a silent agent's backend is out of every pool.
        var passive = pool.Backends.Any(b => b.Agent is not null)
            ? new PassiveHealthCheckConfig { Enabled = true, Policy = AgentLoadFeed.PassivePolicyName }
            : null;
        var health = active is null && passive is null ? null : new HealthCheckConfig { Active = active, Passive = passive };
        return new ClusterConfig
        {
            ClusterId = pool.Id,
            Destinations = destinations,
            LoadBalancingPolicy = pool.Balancing switch
            {
                PoolBalancing.Weighted => WeightedPolicy.PolicyName,
                PoolBalancing.LeastLoaded => LeastLoadedPolicy.PolicyName,
                PoolBalancing.PowerOfTwoLoad => PowerOfTwoLoadPolicy.PolicyName,
                PoolBalancing.RoundRobin => Yarp.ReverseProxy.LoadBalancing.LoadBalancingPolicies.RoundRobin,
                PoolBalancing.Random => Yarp.ReverseProxy.LoadBalancing.LoadBalancingPolicies.Random,
                PoolBalancing.LeastRequests => Yarp.ReverseProxy.LoadBalancing.LoadBalancingPolicies.LeastRequests,
                _ => Yarp.ReverseProxy.LoadBalancing.LoadBalancingPolicies.PowerOfTwoChoices,
            },
            HealthCheck = health,
            SessionAffinity = pool.AffinityCookie is { } cookie
                ? new SessionAffinityConfig
                {
                    Enabled = true,
                    Policy = SignedCookieAffinityPolicy.PolicyName,
                    FailurePolicy = "Redistribute",
                    AffinityKeyName = cookie,
                }
                : null,
            Metadata = metadata,
        };
    }

    private static RouteConfig Route(RouteSpec r) => new()
    {
        RouteId = r.Id,
        ClusterId = r.Pool,
        Order = r.Order,
        Timeout = r.Timeout,
        Match = new RouteMatch
        {
            Hosts = r.Hosts.Count > 0 ? r.Hosts : null,
            Path = r.Path,
            Methods = r.Methods.Count > 0 ? r.Methods : null,
            Headers = r.Headers.Count > 0
                ? r.Headers.Select(h => new RouteHeader
                {
                    Name = h.Name,
                    Values = h.Values.Count > 0 ? h.Values : null,
                    Mode = h.Values.Count == 0 ? HeaderMatchMode.Exists : h.Mode switch
                    {
                        HeaderMode.Prefix => HeaderMatchMode.HeaderPrefix,
                        HeaderMode.Contains => HeaderMatchMode.Contains,
                        _ => HeaderMatchMode.ExactHeader,
                    },
                }).ToList()
                : null,
        },
        Metadata = new Dictionary<string, string> { [RetryMiddleware.RetriesKey] = r.Retries.ToString(CultureInfo.InvariantCulture) },
    };
}
