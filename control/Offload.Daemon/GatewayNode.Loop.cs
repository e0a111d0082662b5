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

// One round of the loop and what it acts on: group events, host frames, health, tracks, sync. The thread that runs
// the rounds (and sleeps between them) is GatewayLoop's.
public sealed partial class GatewayNode
{
    /// <summary>Starts the groups, the load meter and the health checks; asks sync peers for what they hold for us.</summary>
    public void Start()
    {
        lock (_state)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_started)
                return;
            _started = true;
            _dataplane.SetWatchdog(_config.WatchdogCycles);
            // After one hold time every peer has taken over what this box's groups do not claim again.
            if (_plane.HeldOver > 0)
                _holdOverEnds = _time.GetUtcNow() + _config.Groups.Select(g => g.HoldTime).DefaultIfEmpty(TimeSpan.Zero).Max();
            foreach (var g in _groups)
                g.Start();
            _meter.Start();
            _health?.Start();
            if (_sync is not null)
            {
                _sync.RequestAll();
            }
        }
    }

    /// <summary>
    /// One loop round: group events, the host RX queue (GLBP to the groups, misses to the classifier, FIN/RST to the
    /// tracker, sync to the sync engine; the watchdog kick), tracker aging, sync timers, health results.
    /// Returns how many host frames it took (0: idle).
    /// </summary>
    public int Step()
    {
        lock (_state)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            DrainEvents();
            if (_holdOverEnds is { } ends && _time.GetUtcNow() >= ends)
            {
                _holdOverEnds = null;
                int dropped = _plane.EndHoldOver();
                if (dropped > 0)
                    _log.LogInformation("Hold-over ended: removed {Vmacs} vMAC(s) no group claims", dropped);
            }
            int n = _host.Step();
            DrainEvents();
            if (_health is not null)
            {
                _health.Apply();
                NoteHealth();
                NoteAgentRefusals();
            }
            _neighbours.Poll();
            UpdateTracks();
            _tracker.Age();
            _sync?.Poll();
            NoteSync();
            _flowCount = _flows.Count;
            return n;
        }
    }

    private void ReportLoad(double pps, int flows)
    {
        foreach (var g in _groups)
            g.SetLocalLoad(pps, flows);
    }

    // Frames the gateway host does not keep (everything but GLBP). Runs on the loop thread inside Step.
    private void OnHostFrame(in HostFrame meta, ReadOnlySpan<byte> frame)
    {
        // A takeover queued by a hello earlier in this round installs its flows before the misses behind it are classified.
        DrainEvents();
        _reasons[(int)meta.Reason & 15]++;
        switch (meta.Reason)
        {
            case HostReason.Miss:
                frame.CopyTo(_frame);
                _classifier.Classify(meta.IngressPort, _frame.AsSpan(0, frame.Length));
                break;
            case HostReason.FinRst:
                _tracker.OnFinRst(meta);
                break;
            case HostReason.Protocol:
                _sync?.TryHandleFrame(meta, frame);
                break;
            case HostReason.Arp:
                _neighbours.OnFrame(meta, frame);
                break;
            default:
                // ARP copies and requests, TTL expiries, exceptions: counted only (see the metrics).
                break;
        }
    }

    private void DrainEvents()
    {
        while (_events.TryDequeue(out var e))
        {
            switch (e)
            {
                case GatewayStateChanged s:
                    // The group logs its own elections; this line only ties them to the gateway's other events at debug level.
                    _log.LogDebug("GLBP group {Group}: gateway {From} -> {To} ({Reason})", s.Group, s.From, s.To, s.Reason);
                    break;
                case ForwarderStateChanged f:
                    OnForwarder(f);
                    break;
                case ForwarderNotice n:
                    _log.LogInformation("GLBP group {Group}: forwarder {Forwarder} of {Owner} {Kind}", n.Group, n.Forwarder, new MacAddress(n.OwnerMac), n.Kind);
                    break;
                default:
                    break;
            }
        }
    }

    private void OnForwarder(ForwarderStateChanged f)
    {
        var vmac = new MacAddress(f.Vmac);
        bool own = IsOwn(f.Group, f.Forwarder);
        _log.LogInformation("GLBP group {Group}: forwarder {Forwarder} ({Vmac}, {Whose}) {From} -> {To} ({Reason})",
            f.Group, f.Forwarder, vmac, own ? "own" : "peer's", f.From, f.To, f.Reason);
        if (_sync is null)
            return;
        if (f.To == ForwarderState.Active && f.From != ForwarderState.Active)
        {
            int installed;
            // Our own vMAC goes through the same call: a peer may hold flows of it for us after our restart.
            installed = _sync.OnVmacTakenOver(vmac);
            if (!own)
                Takeovers++;
            TakeoverInstalls += installed;
            if (!own || installed > 0)
                _log.LogWarning("Took over {Vmac} (group {Group}, forwarder {Forwarder}): installed {Flows} synced flow(s)", vmac, f.Group, f.Forwarder, installed);
        }
        else if (f.From == ForwarderState.Active && f.To != ForwarderState.Active)
        {
            int released;
            released = _sync.OnVmacReleased(vmac);
            Releases++;
            _log.LogWarning("Released {Vmac} (group {Group}, forwarder {Forwarder}): {Sessions} session(s) left this table", vmac, f.Group, f.Forwarder, released);
        }
    }

    private bool IsOwn(ushort group, byte forwarder)
    {
        foreach (var g in _groups)
        {
            if (g.GroupNumber != group)
                continue;
            foreach (var f in g.Snapshot().Forwarders)
            {
                if (f.Number == forwarder)
                    return f.Owned;
            }
        }
        return false;
    }

    // A pool counts as up while enough backends are healthy and not draining; the group hears only changes.
    private void UpdateTracks()
    {
        for (int i = 0; i < _tracks.Count; i++)
        {
            var (track, group, service, wasUp) = _tracks[i];
            int healthy = 0;
            foreach (var b in service.Backends)
            {
                if (Service.Usable(b))
                    healthy++;
            }
            bool up = healthy >= track.MinHealthy;
            if (up == wasUp)
                continue;
            _tracks[i] = (track, group, service, up);
            group.SetTrackedObject(track.Id, up);
            _log.LogWarning("GLBP group {Group}: tracked pool {Service} is {State} ({Healthy} healthy, {Needed} needed): weighting {Weighting}",
                track.Group, Describe(track.Service), up ? "up" : "down", healthy, track.MinHealthy, group.Snapshot().Weighting);
        }
    }

    private void NoteHealth()
    {
        foreach (var v in _health!.View())
        {
            var key = (v.Service, v.Id);
            if (_backendHealth.TryGetValue(key, out bool was) && was == v.Healthy)
                continue;
            _backendHealth[key] = v.Healthy;
            Services.TryFind(v.Service, out var service);
            var backend = service?.Find(v.Id);
            if (v.Healthy)
            {
                _log.LogInformation("Backend {Backend} of {Service} is up", v.Id, Describe(v.Service));
                // Brought back from a finished drain as configured: its next hop is the node's to give.
                if (backend is not null)
                {
                    var bound = Bound(backend.Config);
                    service!.SetNextHop(v.Id, bound.NextHopIndex, bound.Mac);
                }
            }
            else
            {
                _log.LogWarning("Backend {Backend} of {Service} is down (checks {Checks}, agent {Agent})", v.Id, Describe(v.Service), v.ChecksUp ? "up" : "down", v.Agent);
                if (_config.OnBackendDown == DownPolicy.RemoveFlows && backend is not null)
                {
                    int removed = _tracker.RemoveSessionsOf(backend);
                    FlowsRemovedOnDown += removed;
                    _log.LogWarning("Removed {Sessions} session(s) of {Backend}: their clients' next packets reach a live backend, which resets them", removed, v.Id);
                }
            }
        }
    }

    /// <summary>How often refused agent reports may reach the log: a misconfigured agent sends one every interval, forever.</summary>
    public static readonly TimeSpan AgentRefusalLogInterval = TimeSpan.FromMinutes(1);

    // One line per reason-summary and at most one per minute: the first refusal shows at once, a flood does not flood the log.
    private void NoteAgentRefusals()
    {
        long now = _time.GetTimestamp();
        if (_agentRefusedLoggedAt is { } last && _time.GetElapsedTime(last, now) < AgentRefusalLogInterval)
            return;
        var parts = new List<string>();
        long total = 0;
        foreach (var reason in Enum.GetValues<AgentReject>())
        {
            long count = _health!.Rejected(reason);
            long delta = count - _agentRefusedSeen[(int)reason];
            if (delta <= 0)
                continue;
            _agentRefusedSeen[(int)reason] = count;
            total += delta;
            var agents = _config.Services.SelectMany(static s => s.Backends).Select(static b => b.Agent?.Id).OfType<string>().Distinct(StringComparer.Ordinal)
                .Where(id => _health.Rejected(id, reason) > 0);
            string who = string.Join(", ", agents);
            parts.Add(who.Length > 0 ? $"{reason} {delta} (agents {who})" : $"{reason} {delta}");
        }
        if (total == 0)
            return;
        _agentRefusedLoggedAt = now;
        _log.LogWarning("Agent reports refused: {Count} since the last note ({Reasons}); `offload show backends` and /metrics count them all",
            total, string.Join("; ", parts));
    }

    private static Dictionary<string, long>? Seen(Func<AgentReject, long> count)
    {
        Dictionary<string, long>? seen = null;
        foreach (var reason in Enum.GetValues<AgentReject>())
        {
            long n = reason == AgentReject.None ? 0 : count(reason);
            if (n > 0)
                (seen ??= new(StringComparer.Ordinal))[reason.ToString()] = n;
        }
        return seen;
    }

    private void NoteSync()
    {
        if (_sync is null)
            return;
        long malformed = _sync.Counters.Count(SyncVerdict.Malformed);
        if (malformed != _syncMalformedSeen)
        {
            _log.LogWarning("Session sync refused {Count} malformed message(s); last error {Error}", malformed - _syncMalformedSeen, _sync.LastError);
            _syncMalformedSeen = malformed;
        }
        long dropped = _sync.Counters.MessagesDropped;
        if (dropped != _syncDroppedSeen)
        {
            _log.LogWarning("Session sync gave up on {Count} message(s) after {Retries} resends", dropped - _syncDroppedSeen, _config.Sync!.MaxRetries);
            _syncDroppedSeen = dropped;
        }
    }

    /// <summary>Host frames the loop took, by reason.</summary>
    public long HostFrames(HostReason reason) => _reasons[(int)reason & 15];

}
