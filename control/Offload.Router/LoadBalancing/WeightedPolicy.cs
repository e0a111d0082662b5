using System.Globalization;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Offload.Router.LoadBalancing;

/// <summary>
/// Picks a healthy backend at random in proportion to its weight, the share the L4 pool gives it. YARP's own
/// policies ignore weights. Random rather than a weighted round-robin: nothing shared is written per request, so
/// requests on every core pick without a lock, and over many requests the shares converge the same way.
/// A backend of weight 0 gets no new requests (drained); when every backend is at 0 there is none to pick (503).
/// </summary>
internal sealed class WeightedPolicy : ILoadBalancingPolicy
{
    public const string PolicyName = "OffloadWeighted";

    public string Name => PolicyName;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        ArgumentNullException.ThrowIfNull(availableDestinations);
        if (availableDestinations.Count == 0)
            return null;
        Span<long> weights = availableDestinations.Count <= 64 ? stackalloc long[availableDestinations.Count] : new long[availableDestinations.Count];
        long total = 0;
        for (int i = 0; i < availableDestinations.Count; i++)
        {
            weights[i] = WeightOf(availableDestinations[i]);
            total += weights[i];
        }
        if (total == 0)
            return null;
        long r = Random.Shared.NextInt64(total);
        for (int i = 0; i < weights.Length; i++)
        {
            if (r < weights[i])
                return availableDestinations[i];
            r -= weights[i];
        }
        return availableDestinations[^1];
    }

    internal static int WeightOf(DestinationState d) =>
        d.Model.Config.Metadata is { } meta && meta.TryGetValue(YarpConfig.WeightKey, out string? text)
        && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int w) ? w : 1;
}
