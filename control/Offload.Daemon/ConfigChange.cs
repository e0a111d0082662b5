using Offload.Group;
using Offload.Protocol;
using Offload.Protocol.Glbp;

namespace Offload.Daemon;

/// <summary>What a reload did: applied (with what changed), or refused (with why; nothing changed).</summary>
public sealed record ReloadResult(bool Applied, IReadOnlyList<string> Changes, IReadOnlyList<string> Refusals)
{
    public static ReloadResult Refused(IReadOnlyList<string> reasons) => new(false, [], reasons);
}

/// <summary>
/// Which differences between the running gateway config and a new one a reload (SIGHUP) can apply live, and which it
/// must refuse. Live: groups added, removed or retuned (priority, preemption, timers, weighting, thresholds, load
/// balancing, authentication), tracked objects, services added or removed, their backends (added, drained, weights,
/// MACs, next hops, checks, agents), routes, the watchdog and the log level. Refused, because the running parts are
/// bound to them: the gateway's name, address and port MACs (the device's ports and every peer know them), the interfaces the model's ports are bound to, the API
/// and agent listeners (sockets), session sync (the peers' sequence state), a group's virtual IP (hosts hold it), and
/// how an existing service forwards (mode, scheduler, install rate: its established flows were placed under them).
/// </summary>
public static class ConfigChange
{
    /// <summary>Every difference a reload cannot apply, each with its JSON path and what to do; empty when it can.</summary>
    public static IReadOnlyList<string> Refusals(GatewayConfig now, GatewayConfig next)
    {
        ArgumentNullException.ThrowIfNull(now);
        ArgumentNullException.ThrowIfNull(next);
        var r = new List<string>();
        void Fixed<T>(string path, T a, T b, Func<T, string> show)
        {
            if (!EqualityComparer<T>.Default.Equals(a, b))
                r.Add($"{path}: {show(a)} -> {show(b)} cannot change while the gateway runs (restart it)");
        }
        Fixed("gateway.name", now.Name, next.Name, static s => $"'{s}'");
        Fixed("gateway.ip", now.LocalIp, next.LocalIp, Ipv4Address.Format);
        Fixed("gateway.port0Mac", now.Port0Mac, next.Port0Mac, static m => m.ToString());
        Fixed("gateway.port1Mac", now.Port1Mac, next.Port1Mac, static m => m.ToString());
        Fixed("api.listen", ApiEndPoint.Format(now.ApiListen), ApiEndPoint.Format(next.ApiListen), static e => e);
        Fixed("health.agentListen", now.AgentListen, next.AgentListen, static e => e?.ToString() ?? "none");
        if (!now.Ports.SequenceEqual(next.Ports))
            r.Add("dataplane.ports: the interfaces the model's ports are bound to cannot change while the gateway runs (restart it)");
        if (!SameSync(now, next))
            r.Add("sync: peers, key and port cannot change while the gateway runs (restart it; its peers keep its sessions meanwhile)");
        foreach (var g in next.Groups)
        {
            var old = now.Groups.FirstOrDefault(o => o.Group == g.Group);
            if (old is not null && old.VirtualIp != g.VirtualIp)
            {
                r.Add($"groups (number {g.Group}).vip: {Ipv4Address.Format(old.VirtualIp)} -> {Ipv4Address.Format(g.VirtualIp)} cannot change live: "
                    + "hosts hold the old address (remove the group in one reload and add it back, or restart)");
            }
        }
        foreach (var s in next.Services)
        {
            var old = now.Services.FirstOrDefault(o => o.Config.Key == s.Config.Key);
            if (old is null)
                continue;
            var a = old.Config;
            var b = s.Config;
            if (a.Mode != b.Mode || a.Scheduler != b.Scheduler || a.InstallsPerSecond != b.InstallsPerSecond || a.InstallBurst != b.InstallBurst
                || a.DecrementTtl != b.DecrementTtl)
            {
                r.Add($"services ({GatewayNode.Describe(b.Key)}): mode, scheduler and install rate cannot change under established flows "
                    + "(give the service another port, or restart)");
            }
        }
        return r;
    }

    /// <summary>Two group configurations the group would run the same (keys compared by content, not by reference).</summary>
    public static bool SameGroup(GlbpGroupOptions a, GlbpGroupOptions b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return a with { Authentication = GlbpAuthSettings.Disabled } == b with { Authentication = GlbpAuthSettings.Disabled }
            && a.Authentication.Mode == b.Authentication.Mode && a.Authentication.KeyId == b.Authentication.KeyId
            && a.Authentication.Key.Span.SequenceEqual(b.Authentication.Key.Span);
    }

    /// <summary>Two backends watched the same way (same checks, same agent with the same key).</summary>
    public static bool SameWatch(BackendSpec a, BackendSpec b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Check != b.Check)
            return false;
        if (a.Agent is null || b.Agent is null)
            return a.Agent is null && b.Agent is null;
        return a.Agent.Id == b.Agent.Id && Equals(a.Agent.Address, b.Agent.Address) && a.Agent.Interval == b.Agent.Interval
            && a.Agent.Key.AsSpan().SequenceEqual(b.Agent.Key);
    }

    private static bool SameSync(GatewayConfig now, GatewayConfig next)
    {
        if (now.Sync is null || next.Sync is null)
            return now.Sync is null && next.Sync is null;
        var a = now.Sync;
        var b = next.Sync;
        return a.Port == b.Port && a.LocalIp == b.LocalIp && a.Key.Span.SequenceEqual(b.Key.Span) && a.Peers.SequenceEqual(b.Peers);
    }
}
