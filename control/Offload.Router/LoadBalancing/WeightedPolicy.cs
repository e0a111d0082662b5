using System.Globalization;
using Microsoft.AspNetCore.Http;
using Offload.Router.Agents;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Offload.Router.LoadBalancing;

/// <summary>
/// Picks a healthy backend at random in proportion to its weight, the share the L4 pool gives it (its agent's weight
/// when it sets one, 0 while it drains). YARP's own policies ignore weights. Random rather than a weighted
/// round-robin: nothing shared is written per request, so requests on every core pick without a lock, and over many
/// requests the shares converge the same way. A backend of weight 0 gets no new requests; when every backend is at 0
/// there is none to pick (503).
/// </summary>
internal sealed class WeightedPolicy(AgentLoadFeed agents) : ILoadBalancingPolicy
{
    public const string PolicyName = "OffloadWeighted";

    public string Name => PolicyName;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        ArgumentNullException.ThrowIfNull(availableDestinations);
        return Pick(agents, availableDestinations, exclude: null);
    }

    /// <summary>A random backend by weight, leaving out <paramref name="exclude"/>; null when no weight is left.</summary>
    internal static DestinationState? Pick(AgentLoadFeed agents, IReadOnlyList<DestinationState> destinations, DestinationState? exclude)
    {
        long total = 0;
        foreach (var d in destinations)
        {
            if (!ReferenceEquals(d, exclude))
                total += agents.WeightOf(d);
        }
        if (total == 0)
            return null;
        long r = Random.Shared.NextInt64(total);
        foreach (var d in destinations)
        {
            if (ReferenceEquals(d, exclude))
                continue;
            long w = agents.WeightOf(d);
            if (r < w)
                return d;
            r -= w;
        }
        return null;
    }

    internal static int WeightOf(DestinationState d) =>
        d.Model.Config.Metadata is { } meta && meta.TryGetValue(YarpConfig.WeightKey, out string? text)
        && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int w) ? w : 1;
}
