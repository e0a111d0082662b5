using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Offload.Router.Agents;

/// <summary>
/// Turns on YARP's passive health state for pools whose backends have agents, and nothing else: the state is set by
/// <see cref="AgentLoadFeed"/> when an agent falls silent, not by the outcome of single requests (a backend that
/// failed one request is the retry's business, see RetryMiddleware).
/// </summary>
internal sealed class AgentSilencePolicy : IPassiveHealthCheckPolicy
{
    public string Name => AgentLoadFeed.PassivePolicyName;

    public void RequestProxied(HttpContext context, ClusterState cluster, DestinationState destination)
    {
    }
}
