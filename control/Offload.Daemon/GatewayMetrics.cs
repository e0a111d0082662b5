using System.Globalization;
using Offload.Balancer.Classification;
using Offload.Balancer.Sync;
using Offload.Device;
using Offload.Group;
using Offload.Protocol;
using Offload.Protocol.Agent;

namespace Offload.Daemon;

/// <summary>
/// What /metrics serves: every family the gateway exports, read from the node when scraped (the node holds its lock
/// around <see cref="Write"/>, so one scrape sees one moment). Kept apart from the loop and the views so a reader finds
/// every metric name in one place.
/// </summary>
internal static class GatewayMetrics
{
    /// <summary>Writes everything below into <paramref name="m"/>; the caller holds the node's lock.</summary>
    public static void Write(GatewayNode node, PrometheusWriter m)
    {
        DataplaneCounters hw;
        hw = node.Dataplane.ReadCounters();
        m.Help("offload_glbp_gateway_state", "gauge", "AVG state of this gateway per group (1 for the current state)");
        m.Help("offload_glbp_forwarder_active", "gauge", "1 when this gateway forwards the vMAC");
        foreach (var g in node.Groups)
        {
            var s = g.Snapshot();
            string group = s.Group.ToString(CultureInfo.InvariantCulture);
            foreach (var st in Enum.GetValues<GatewayState>())
                m.Sample("offload_glbp_gateway_state", s.State == st ? 1 : 0, ("group", group), ("state", st.ToString()));
            foreach (var f in s.Forwarders)
            {
                m.Sample("offload_glbp_forwarder_active", f.State == ForwarderState.Active ? 1 : 0, ("group", group),
                    ("forwarder", f.Number.ToString(CultureInfo.InvariantCulture)), ("vmac", new MacAddress(f.Vmac).ToString()), ("owned", f.Owned ? "true" : "false"));
            }
        }
        m.Help("offload_config_reloads_total", "counter", "config reloads (SIGHUP) by result: applied live, or refused with the running config kept");
        m.Sample("offload_config_reloads_total", node.ReloadsApplied, ("result", "applied"));
        m.Sample("offload_config_reloads_total", node.ReloadsRefused, ("result", "refused"));
        m.Help("offload_flows_installed", "gauge", "flow entries in the hardware table");
        m.Sample("offload_flows_installed", node.Flows.Count);
        m.Help("offload_sessions_active", "gauge", "sessions the tracker holds");
        m.Sample("offload_sessions_active", node.Tracker.Count);
        m.Help("offload_classify_total", "counter", "punted first packets by what the classifier did");
        foreach (var o in Enum.GetValues<ClassifyOutcome>())
            m.Sample("offload_classify_total", node.Classifier.Count(o), ("outcome", o.ToString()));
        m.Help("offload_host_frames_total", "counter", "host RX frames the loop took, by reason");
        foreach (var r in Enum.GetValues<HostReason>())
            m.Sample("offload_host_frames_total", node.HostFrames(r), ("reason", r.ToString()));
        m.Help("offload_glbp_takeovers_total", "counter", "peer vMACs this gateway took over");
        m.Sample("offload_glbp_takeovers_total", node.Takeovers);
        m.Help("offload_glbp_takeover_installs_total", "counter", "synced flows installed when this gateway took a vMAC over");
        m.Sample("offload_glbp_takeover_installs_total", node.TakeoverInstalls);
        if (node.Sync is { } sync)
        {
            m.Help("offload_sync_messages_total", "counter", "session sync messages by what happened to them");
            m.Sample("offload_sync_messages_total", sync.Counters.MessagesSent, ("event", "sent"));
            m.Sample("offload_sync_messages_total", sync.Counters.Resent, ("event", "resent"));
            m.Sample("offload_sync_messages_total", sync.Counters.Count(SyncVerdict.Acked), ("event", "acked"));
            m.Sample("offload_sync_messages_total", sync.Counters.MessagesDropped, ("event", "dropped"));
            m.Sample("offload_sync_messages_total", sync.Counters.Count(SyncVerdict.Accepted), ("event", "accepted"));
            m.Sample("offload_sync_messages_total", sync.Counters.Count(SyncVerdict.Malformed), ("event", "malformed"));
            m.Help("offload_sync_stored_flows", "gauge", "peer flows held for takeover");
            m.Sample("offload_sync_stored_flows", sync.Stored.Count);
        }
        var arp = node.Neighbours;
        m.Help("offload_neighbours", "gauge", "next hops resolved by ARP (backends, via routes) by state");
        var byState = arp.View().GroupBy(static v => v.State).ToDictionary(static g => g.Key, static g => g.Count());
        foreach (var st in Enum.GetValues<Gateway.NeighbourState>())
            m.Sample("offload_neighbours", byState.GetValueOrDefault(st), ("state", st.ToString().ToLowerInvariant()));
        m.Help("offload_arp_total", "counter", "ARP of the gateway's own next hops and port addresses, by event");
        m.Sample("offload_arp_total", arp.RequestsSent, ("event", "request_sent"));
        m.Sample("offload_arp_total", arp.RequestsDeferred, ("event", "request_deferred"));
        m.Sample("offload_arp_total", arp.RepliesSent, ("event", "reply_sent"));
        m.Sample("offload_arp_total", arp.Confirmations, ("event", "confirmed"));
        m.Sample("offload_arp_total", arp.MacChanges, ("event", "mac_changed"));
        m.Sample("offload_arp_total", arp.Failures, ("event", "given_up"));
        m.Help("offload_hw_port_total", "counter", "data-plane port counters");
        string[] names = ["rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "drop_runt", "drop_oversize", "drop_malformed", "drop_bad_csum",
            "drop_not_for_us", "drop_host_full", "punt", "ft_hit", "ft_miss", "arp_replies", "ttl_expired", "fin_rst"];
        for (int p = 0; p < 2; p++)
        {
            var c = hw.Port(p);
            for (int i = 0; i < names.Length; i++)
                m.Sample("offload_hw_port_total", c[i], ("port", p.ToString(CultureInfo.InvariantCulture)), ("counter", names[i]));
        }
        m.Help("offload_hw_host_tx_total", "counter", "frames the control plane sent through the host TX queue");
        m.Sample("offload_hw_host_tx_total", hw.HostTxFrames, ("result", "sent"));
        m.Sample("offload_hw_host_tx_total", hw.HostTxDrops, ("result", "dropped"));
        if (node.Health is { } health)
        {
            m.Help("offload_agent_reports_total", "counter", "agent reports the health handler took");
            m.Sample("offload_agent_reports_total", health.ReportsAccepted);
            m.Help("offload_agent_reports_refused_total", "counter", "agent datagrams the health handler refused, by reason");
            foreach (var reason in Enum.GetValues<AgentReject>())
            {
                if (reason != AgentReject.None)
                    m.Sample("offload_agent_reports_refused_total", health.Rejected(reason), ("reason", reason.ToString()));
            }
        }
        m.Help("offload_sessions_removed_on_down_total", "counter", "sessions removed because their backend went down (health.onBackendDown remove-flows)");
        m.Sample("offload_sessions_removed_on_down_total", node.FlowsRemovedOnDown);
        m.Help("offload_backend_sessions", "gauge", "sessions per backend");
        m.Help("offload_backend_healthy", "gauge", "1 while the backend is in its pool (checks and agent)");
        m.Help("offload_backend_weight", "gauge", "the backend's weight in the Maglev table (0 while draining)");
        m.Help("offload_backend_agent_reports_refused_total", "counter", "agent datagrams refused per backend, by reason");
        foreach (var b in node.BackendRows())
        {
            m.Sample("offload_backend_sessions", b.Sessions, ("service", b.Service), ("backend", b.Id));
            m.Sample("offload_backend_healthy", b.Healthy ? 1 : 0, ("service", b.Service), ("backend", b.Id));
            m.Sample("offload_backend_weight", b.Weight, ("service", b.Service), ("backend", b.Id));
            foreach (var (reason, count) in b.AgentRefused ?? new Dictionary<string, long>())
                m.Sample("offload_backend_agent_reports_refused_total", count, ("service", b.Service), ("backend", b.Id), ("reason", reason));
        }
        node.WireMetrics?.Invoke(m);
    }
}
