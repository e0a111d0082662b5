using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Offload.Balancer.Classification;
using Offload.Group;
using Offload.Protocol;

namespace Offload.Daemon;

// A reload (SIGHUP): the differences ConfigChange allows are applied to the running parts, in place, under the node's
// lock; anything else refuses the whole file and the running configuration stays. Nothing here touches the flow
// table or the session tracker, so established flows keep forwarding whatever the reload changes.
public sealed partial class GatewayNode
{
    /// <summary>Reloads applied and refused since the node started.</summary>
    public long ReloadsApplied { get; private set; }

    public long ReloadsRefused { get; private set; }

    /// <summary>Counts a reload refused before it reached the node (the file could not be read or is not valid).</summary>
    internal void CountRefusedReload()
    {
        lock (_state)
            ReloadsRefused++;
    }

    /// <summary>
    /// Applies <paramref name="next"/> live, or refuses it whole (nothing changes) when it differs in what cannot change
    /// while the gateway runs (<see cref="ConfigChange"/>) or does not fit the data plane.
    /// </summary>
    public ReloadResult Reload(GatewayConfig next)
    {
        ArgumentNullException.ThrowIfNull(next);
        lock (_state)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var refusals = new List<string>(ConfigChange.Refusals(_config, next));
            try
            {
                CheckFits(next, _dataplane.Geometry);
            }
            catch (GatewayConfigException e)
            {
                refusals.AddRange(e.Problems);
            }
            if (refusals.Count > 0)
            {
                ReloadsRefused++;
                return ReloadResult.Refused(refusals);
            }
            var changes = new List<string>();
            try
            {
                // Indices of next hops that left stay taken: flows of a draining backend still name them. Nothing is
                // changed when it throws.
                AssignNextHops(next, _dataplane.Geometry);
            }
            catch (GatewayConfigException e)
            {
                ReloadsRefused++;
                return ReloadResult.Refused(e.Problems);
            }
            WatchNeighbours(next);
            ReloadServices(next, changes);
            ReloadRoutes(next, changes);
            ReloadGroups(next, changes);
            ReloadTracks(next, changes);
            ReloadHealth(next, changes);
            if (next.WatchdogCycles != _config.WatchdogCycles)
            {
                if (_started)
                    _dataplane.SetWatchdog(next.WatchdogCycles);
                changes.Add($"gateway.watchdogCycles {_config.WatchdogCycles} -> {next.WatchdogCycles}");
            }
            if (next.LogLevel != _config.LogLevel)
                changes.Add($"gateway.logLevel {_config.LogLevel} -> {next.LogLevel}");
            _config = next;
            // A MAC or index the file now fixes reaches every backend and route behind that next hop, changed in the file or not.
            foreach (var key in _hopIndex.Keys.ToList())
                OnNeighbourChanged(key, MacOf(key));
            ReloadsApplied++;
            return new ReloadResult(true, changes, []);
        }
    }

    private void ReloadServices(GatewayConfig next, List<string> changes)
    {
        foreach (var spec in next.Services)
        {
            string name = Describe(spec.Config.Key);
            if (!Services.TryFind(spec.Config.Key, out var service))
            {
                service = Services.Add(spec.Config);
                changes.Add($"service {name} added");
            }
            var old = _config.Services.FirstOrDefault(s => s.Config.Key == spec.Config.Key);
            foreach (var b in spec.Backends)
            {
                var before = old?.Backends.FirstOrDefault(o => o.Config.Id == b.Config.Id);
                var state = service.Find(b.Config.Id);
                // A watched backend keeps the health its checks found; a new one starts as the config says (up) until they say otherwise.
                var config = state is not null && (b.Check is not null || b.Agent is not null) ? b.Config with { Healthy = state.Config.Healthy } : b.Config;
                if (before is not null && before.Config == b.Config && state is { Draining: false })
                    continue;
                service.SetBackend(Bound(config));
                changes.Add(before is null ? $"backend {b.Config.Id} of {name} added" : $"backend {b.Config.Id} of {name} changed (weight {config.Weight})");
            }
            foreach (var gone in old?.Backends.Where(o => spec.Backends.All(b => b.Config.Id != o.Config.Id)) ?? [])
            {
                // Draining, not deleting: its established flows run on until the drain timeout, new ones go elsewhere.
                if (service.RemoveBackend(gone.Config.Id))
                    changes.Add($"backend {gone.Config.Id} of {name} drains");
            }
        }
        foreach (var gone in _config.Services.Where(o => next.Services.All(s => s.Config.Key != o.Config.Key)))
        {
            // The table keeps the service without backends (its VIP stays this gateway's until a restart): new flows to it
            // are refused, established ones run until the drain timeout.
            if (!Services.TryFind(gone.Config.Key, out var service))
                continue;
            foreach (var b in service.Backends.ToList())
                service.RemoveBackend(b.Config.Id);
            changes.Add($"service {Describe(gone.Config.Key)} removed: its backends drain");
        }
    }

    private void ReloadRoutes(GatewayConfig next, List<string> changes)
    {
        foreach (var gone in _config.Routes.Where(r => !next.Routes.Contains(r)))
        {
            Services.Routes.Remove(gone.Prefix, gone.Length);
            changes.Add($"route {gone} removed");
        }
        foreach (var added in next.Routes.Where(r => !_config.Routes.Contains(r)))
        {
            if (Bound(added) is { } bound)
                Services.Routes.Add(bound);
            changes.Add($"route {added} added");
        }
    }

    private void ReloadGroups(GatewayConfig next, List<string> changes)
    {
        foreach (var options in next.Groups)
        {
            var running = _groups.FirstOrDefault(g => g.GroupNumber == options.Group);
            if (running is null)
            {
                var group = AddGroup(options);
                if (_started)
                    group.Start();
                changes.Add($"group {options.Group} added");
                continue;
            }
            var old = _config.Groups.First(g => g.Group == options.Group);
            if (ConfigChange.SameGroup(old, options))
                continue;
            running.Reconfigure(options);
            changes.Add($"group {options.Group} retuned (priority {options.Priority}, hello {options.HelloTime.TotalMilliseconds} ms, hold {options.HoldTime.TotalMilliseconds} ms)");
        }
        foreach (var group in _groups.Where(g => next.Groups.All(o => o.Group != g.GroupNumber)).ToList())
        {
            // Leaves as on SIGTERM: its peers take its forwarders (and the AVG role) at once.
            group.Stop();
            _host.Remove(group);
            _groups.Remove(group);
            group.Dispose();
            changes.Add($"group {group.GroupNumber} removed (resigned)");
        }
    }

    private void ReloadTracks(GatewayConfig next, List<string> changes)
    {
        if (_config.Tracks.SequenceEqual(next.Tracks))
            return;
        foreach (var (track, group, _, _) in _tracks)
        {
            if (_groups.Contains(group))
                group.Untrack(track.Id);
        }
        _tracks.Clear();
        foreach (var t in next.Tracks)
        {
            var group = _groups.Single(g => g.GroupNumber == t.Group);
            group.Track(t.Id, t.Decrement);
            Services.TryFind(t.Service, out var service);
            _tracks.Add((t, group, service, true));
        }
        // Tracked pools already down take the weighting off now, not a round later.
        UpdateTracks();
        changes.Add($"{next.Tracks.Count} tracked object(s)");
    }

    private void ReloadHealth(GatewayConfig next, List<string> changes)
    {
        bool same = _config.Services.Count == next.Services.Count && _config.OnBackendDown == next.OnBackendDown;
        if (same)
        {
            foreach (var spec in next.Services)
            {
                var old = _config.Services.FirstOrDefault(s => s.Config.Key == spec.Config.Key);
                if (old is null || old.Backends.Count != spec.Backends.Count
                    || !spec.Backends.All(b => old.Backends.FirstOrDefault(o => o.Config.Id == b.Config.Id) is { } o && ConfigChange.SameWatch(o, b)))
                {
                    same = false;
                    break;
                }
            }
        }
        if (same)
            return;
        // The handler takes its backends before it starts, so a changed set of checks or agents gets a new handler on
        // the same agent listener; checks start counting rise and fall again, pools keep the health they had meanwhile.
        _health?.Dispose();
        _health = null;
        _backendHealth.Clear();
        Array.Clear(_agentRefusedSeen);
        try
        {
            _health = CreateHealth(next, _time);
            if (_started)
                _health?.Start();
            changes.Add($"health checks and agents: {_backendHealth.Count} watched backend(s)");
        }
        catch (SocketException e)
        {
            _log.LogError("Reload: cannot listen for agent reports on {Bind} again ({Error}); backends keep their last health", next.AgentListen, e.Message);
            changes.Add("health checks and agents: off (the agent listener could not be opened again)");
        }
    }
}
