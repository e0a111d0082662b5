using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Offload.Balancer.Classification;
using Offload.Balancer.Health;
using Offload.Balancer.Sync;
using Offload.Balancer.Tracking;
using Offload.Device;
using Offload.Gateway;
using Offload.Group;
using Offload.Protocol;
using Offload.Protocol.Agent;
using Offload.Protocol.Glbp;

namespace Offload.Daemon;

// What the local API serves and `offload show` reads, built under the node's lock from any thread.
public sealed partial class GatewayNode
{

    public GlbpView GlbpView()
    {
        lock (_state)
        {
            var groups = new List<GlbpGroupView>();
            foreach (var g in _groups)
            {
                var s = g.Snapshot();
                var fw = s.Forwarders.Select(f => new GlbpForwarderView(f.Number, new MacAddress(f.Vmac).ToString(), new MacAddress(f.OwnerMac).ToString(),
                    f.Owned, f.State.ToString(), f.HolderIp == 0 ? "" : Ipv4Address.Format(f.HolderIp), f.Redirected,
                    g.TryGetForwarderLoad(f.Number, out var load) ? load.PacketsPerSecond : null, f.Weighting)).ToList();
                groups.Add(new GlbpGroupView(s.Group, s.State.ToString(), Ipv4Address.Format(s.VirtualIp), s.Priority, s.Weighting, s.Forwarding,
                    s.ActiveIp == 0 ? "" : Ipv4Address.Format(s.ActiveIp), s.StandbyIp == 0 ? "" : Ipv4Address.Format(s.StandbyIp), s.Members, fw));
            }
            return new GlbpView(_config.Name, Ipv4Address.Format(_config.LocalIp), groups);
        }
    }

    public FlowsView FlowsView(int limit = 100)
    {
        lock (_state)
        {
            var rows = _tracker.Sessions.Take(Math.Max(0, limit)).Select(s => new FlowRow(
                Describe(s.Forward),
                s.Service is { } svc ? Describe(svc.Key) : "routed",
                s.Backend?.Id ?? "",
                s.Reverse is { } r ? Describe(r) : null,
                s.State.ToString(),
                s.Vmac?.ToString(),
                s.FromPeer)).ToList();
            return new FlowsView(_config.Name, _tracker.Count, _flows.Count, _flows.Capacity, rows);
        }
    }

    /// <summary>Sessions removed because their backend went down (health.onBackendDown remove-flows).</summary>
    public long FlowsRemovedOnDown { get; private set; }

    public BackendsView BackendsView()
    {
        lock (_state)
            return new BackendsView(_config.Name, BackendRows(), _health is { } h ? Seen(h.Rejected) : null);
    }

    // Every configured backend, also one the health handler drained out of its service (it is down, not gone).
    internal List<BackendRow> BackendRows()
    {
        var health = _health?.View().ToDictionary(v => (v.Service, v.Id));
        var rows = new List<BackendRow>();
        foreach (var spec in _config.Services)
        {
            Services.TryFind(spec.Config.Key, out var service);
            foreach (var b in spec.Backends)
            {
                var state = service?.Find(b.Config.Id);
                Balancer.Health.BackendView? h = null;
                health?.TryGetValue((spec.Config.Key, b.Config.Id), out h);
                bool healthy = (h?.Healthy ?? true) && (state?.Config.Healthy ?? false);
                var refused = _health is { } handler && b.Agent is { } agent ? Seen(r => handler.Rejected(agent.Id, r)) : null;
                rows.Add(new BackendRow(Describe(spec.Config.Key), b.Config.Id, Ipv4Address.Format(b.Config.Address), b.Config.Port, healthy,
                    h?.ChecksUp ?? true, (h?.Agent ?? AgentStatus.None).ToString(), state?.Config.Weight ?? 0, state?.Overload ?? 0,
                    state?.Sessions ?? 0, state is null || state.Draining, refused, NextHopOf(new NeighbourKey(b.Config.EgressPort, b.Config.Address))));
            }
        }
        return rows;
    }

}
