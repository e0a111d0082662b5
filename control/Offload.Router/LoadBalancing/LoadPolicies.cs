using Microsoft.AspNetCore.Http;
using Offload.Router.Agents;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Offload.Router.LoadBalancing;

/// <summary>
/// The backend whose agent reports the least load (ties at random), among those with weight. Every router sends
/// everything to the same backend until its next report, so its figure jumps and the next winner takes over:
/// sharp on steady load, it herds on bursts; <see cref="PowerOfTwoLoadPolicy"/> is the remedy to compare it with.
/// A backend whose agent has not reported yet counts as half loaded.
/// </summary>
internal sealed class LeastLoadedPolicy(AgentLoadFeed agents) : ILoadBalancingPolicy
{
    public const string PolicyName = "OffloadLeastLoaded";

    public string Name => PolicyName;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        ArgumentNullException.ThrowIfNull(availableDestinations);
        DestinationState? best = null;
        double bestFigure = double.MaxValue;
        int ties = 0;
        foreach (var d in availableDestinations)
        {
            if (agents.WeightOf(d) <= 0)
                continue;
            double f = Figure(agents, d);
            if (f < bestFigure)
            {
                (best, bestFigure, ties) = (d, f, 1);
            }
            else if (f == bestFigure && Random.Shared.Next(++ties) == 0)
            {
                best = d;
            }
        }
        return best;
    }

    internal static double Figure(AgentLoadFeed agents, DestinationState d) => agents.Of(d)?.Figure ?? 0.5;
}

/// <summary>
/// Power of two choices on the agents' figures: two different backends drawn by weight, the less loaded of the two.
/// The second draw keeps the choice spread even while every router holds the same stale figures.
/// </summary>
internal sealed class PowerOfTwoLoadPolicy(AgentLoadFeed agents) : ILoadBalancingPolicy
{
    public const string PolicyName = "OffloadPowerOfTwoLoad";

    public string Name => PolicyName;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        ArgumentNullException.ThrowIfNull(availableDestinations);
        var first = WeightedPolicy.Pick(agents, availableDestinations, exclude: null);
        if (first is null)
            return null;
        var second = WeightedPolicy.Pick(agents, availableDestinations, exclude: first);
        if (second is null)
            return first;
        return LeastLoadedPolicy.Figure(agents, second) < LeastLoadedPolicy.Figure(agents, first) ? second : first;
    }
}
