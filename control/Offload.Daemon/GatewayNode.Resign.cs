using Microsoft.Extensions.Logging;
using Offload.Group;

namespace Offload.Daemon;

/// <summary>What a gateway's leaving did: sessions its peers acknowledged, whether every message was, and the groups it left.</summary>
public sealed record ResignSummary(int Sessions, bool HandedOver, int Groups, IReadOnlyList<string> WasActiveIn);

// Leaving on purpose (SIGTERM): first the sessions go to the peers (session sync is flushed until every peer has
// acknowledged every message, or the hand-over time is up), then each group resigns with one hello that says Listen
// for the AVG and for every forwarder, which peers act on at once (GlbpGroup.Stop), instead of after a hold time.
// The order matters: a peer that takes a vMAC over installs the flows it was sent, so they must be there first.
public sealed partial class GatewayNode
{
    private long? _handOverEnds;

    /// <summary>
    /// Starts leaving: from now on the loop's rounds flush session sync towards the peers. <see cref="HandedOver"/>
    /// says when they have everything (or <paramref name="timeout"/> on the node's clock is up); then <see cref="Leave"/>.
    /// </summary>
    public void BeginResign(TimeSpan timeout)
    {
        lock (_state)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _handOverEnds ??= _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);
            _sync?.Poll();
        }
    }

    /// <summary>True once every sync peer acknowledged every message (or there is no sync), or the hand-over time is up.</summary>
    public bool HandedOver
    {
        get
        {
            lock (_state)
            {
                if (_handOverEnds is not { } ends)
                    return false;
                return SyncFlushed() || _time.GetTimestamp() >= ends;
            }
        }
    }

    /// <summary>
    /// Resigns from every group (one resign hello each, the vMACs leave the filter, the ARP responder stops answering)
    /// and stops the meter and the health checks. The node can still be stepped and viewed; <see cref="HostTxDrained"/>
    /// says when the resign hellos have left the device.
    /// </summary>
    public ResignSummary Leave()
    {
        lock (_state)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            bool flushed = SyncFlushed();
            int sessions = _tracker.Count;
            var active = new List<string>();
            foreach (var g in _groups)
            {
                if (g.State == GatewayState.Active)
                    active.Add($"group {g.GroupNumber} AVG");
                g.Stop();
            }
            DrainEvents();
            _meter.Dispose();
            _health?.Dispose();
            _health = null;
            _log.LogWarning("Resigned from {Groups} group(s){Avg}; {Sessions} session(s) {Handed} to the sync peers",
                _groups.Count, active.Count > 0 ? $" ({string.Join(", ", active)}: the Standby takes over now)" : "", sessions,
                _sync is null ? "not handed (no sync configured)" : flushed ? "handed over" : "possibly not all handed (a peer did not acknowledge in time)");
            return new ResignSummary(sessions, _sync is null || flushed, _groups.Count, active);
        }
    }

    /// <summary>True when the host TX queue is empty again: what the control plane sent has left the device.</summary>
    public bool HostTxDrained => _dataplane.Read(Offload.Device.Reg.HostTxFree) >= _txFreeIdle;

    private bool SyncFlushed()
    {
        if (_sync is null || _config.Sync is null)
            return true;
        foreach (var p in _config.Sync.Peers)
        {
            if (_sync.InFlight(p.Ip) > 0 || _sync.Backlog(p.Ip) > 0)
                return false;
        }
        return true;
    }
}
